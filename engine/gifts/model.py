"""Gifts: the gift:send payload (limits in the type), recipients rules, error strings. No I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from msgspec import Meta

from engine.rooms.model import RoomRef, UserId

ERRORS = {
    "SELF_GIFT": "Cannot send gift to yourself",
    "RECIPIENT_NOT_SEATED": "Recipient is not seated",
    "NO_RECIPIENTS_SEATED": "No recipients seated",
    "GIFT_NOT_FOUND": "Gift not found",
    "GIFT_UNAVAILABLE": "Gift is not available",
    "INSUFFICIENT_FUNDS": "Insufficient funds",
    "WALLET_FROZEN": "Wallet is frozen",
    "DAILY_LIMIT": "Daily spending limit reached",
    "VIP_REQUIRED": "This gift needs a higher VIP level",
    "NOT_IN_ROOM": "Not in room",
    "RATE_LIMITED": "Too many requests",
    "BLOCKED": "Cannot send a gift: one of you has blocked the other",
}

MAX_QUANTITY = 9999
COMBO_WINDOW_MS = 5000


class GiftSendPayload(msgspec.Struct):
    roomId: RoomRef
    giftId: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    recipientId: UserId | None = None
    recipientIds: Annotated[list[UserId], Meta(min_length=1, max_length=30)] | None = None
    quantity: Annotated[int, Meta(ge=1, le=MAX_QUANTITY)] = 1
    # Groups sends into one combo/playback on clients; every send in a batch is charged.
    batchId: Annotated[str, Meta(max_length=64, pattern=r"^[\w:.-]+$")] | None = None
    # A retry with the same key is never charged twice; the only field that deduplicates.
    idempotencyKey: Annotated[str, Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")] | None = None


class GiftPreparePayload(msgspec.Struct):
    roomId: RoomRef
    giftId: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    recipientId: UserId


def requested_recipients(p: GiftSendPayload) -> list[int]:
    """Recipients in the order given, without duplicates."""
    ids = ([p.recipientId] if p.recipientId is not None else []) + list(p.recipientIds or [])
    return list(dict.fromkeys(ids))


def check_recipients(sender: int, requested: list[int], seated: set[int]) -> list[int] | str:
    """The recipients that will get the gift, or the error code.

    One named recipient gets a precise error; from a list, the sender and unseated users are
    dropped silently (realtime-contract §7) and only an empty result is an error.
    """
    if len(requested) == 1:
        if requested[0] == sender:
            return "SELF_GIFT"
        return requested if requested[0] in seated else "RECIPIENT_NOT_SEATED"
    accepted = [r for r in requested if r != sender and r in seated]
    return accepted or "NO_RECIPIENTS_SEATED"


def without_blocked(accepted: list[int], blocked: Callable[[int], bool]) -> list[int] | str:
    """The accepted recipients but those in a block with the sender (issue 12 §3), or the error: a
    named recipient behind a block is refused, and so is a list that had only such recipients (from
    a longer list they are dropped silently, as unseated ones are)."""
    kept = [r for r in accepted if not blocked(r)]
    return kept or "BLOCKED"


def combo_key_part(gift_id: int, recipients: list[int]) -> str:
    return f"{gift_id}:{','.join(str(r) for r in sorted(recipients))}"
