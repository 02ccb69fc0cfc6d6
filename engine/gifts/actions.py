"""gift:send — check, debit (one Lua step, committed before the ack), combo, room fan-out.

The engine debits the sender itself: the ack carries the new balance and is sent only after the
debit is committed, so there is nothing for the client to roll back. The credits (recipients, room
owner) and the ledger record are completed by the flusher from the same outbox entry.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

from engine.db import Conn
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet, flag_for_review
from engine.gifts import store
from engine.gifts.model import (
    COMBO_WINDOW_MS,
    ERRORS,
    GiftPreparePayload,
    GiftSendPayload,
    check_recipients,
    combo_key_part,
    requested_recipients,
    without_blocked,
)
from engine.gifts.store import Catalog
from engine.realtime.acks import INVALID_PAYLOAD, Ack, failure, refusal
from engine.realtime.server import user_room
from engine.rooms.cache import CachedUser, user_topic
from engine.rooms.events import RoomCall
from engine.rooms.live import LiveRooms

log = logging.getLogger("flylive.gifts")


refuse = partial(refusal, ERRORS)  # refuse("GIFT_NOT_FOUND"): the gifts' failure acks


def _available(gift: dict[str, Any] | None, now_ms: int) -> bool:
    if gift is None or not gift["is_active"]:
        return False
    starts, ends = gift["starts_at"], gift["ends_at"]
    return (starts is None or starts.timestamp() * 1000 <= now_ms) and (
        ends is None or ends.timestamp() * 1000 > now_ms
    )


async def _build_txn(rooms: LiveRooms, settings: dict[str, int], room_id: int, sender: CachedUser,
                     recipients: list[int], gift: dict[str, Any], quantity: int, key: str,
                     agencies: dict[int, int]) -> money.Txn:  # fmt: skip
    room = await rooms.cache.room(room_id)
    owner = room["user_id"] if room is not None else None
    per_recipient = int(gift["price"]) * quantity
    legs: list[money.Leg] = []
    # Each agency member's part, as of this gift: what the agency income (sql/0020) is built from,
    # since merged legs no longer say which member earned an agency its commission.
    agency_income: list[list[int]] = []
    for recipient in recipients:
        split = money.split_gift(per_recipient, settings, agency_member=recipient in agencies,
                                 has_room_owner=owner is not None)  # fmt: skip
        legs += money.gift_legs(sender.id, recipient, per_recipient, split, agency_id=agencies.get(recipient),
                                room_owner=owner)  # fmt: skip
        if recipient in agencies:
            agency_income.append([recipient, agencies[recipient], split.agency_commission, split.recipient_diamonds])
    # The sender's VIP tier multiplies the wealth XP of the gift (docs/vip.md), from the cached level.
    wealth_bps = money.share(settings["gift_wealth_per_coin_bps"], sender.vip.gift_xp_multiplier_bps)
    metadata: dict[str, object] = {
        "room_id": room_id, "recipients": recipients, "quantity": quantity, "price": gift["price"], "key": key,
        "charm_bps": settings["gift_charm_per_coin_bps"], "wealth_bps": wealth_bps,
    }  # fmt: skip
    if agency_income:
        metadata["agency_income"] = agency_income
    return money.make_txn("gift", money.merge_legs(legs), initiator_id=sender.id, ref_type="gift",
                          ref_id=str(gift["id"]), metadata=metadata)  # fmt: skip


async def _agency_of(user_id: int, conn: Conn) -> int | None:
    return await store.agency_of(conn, user_id)


async def _agencies_of(rooms: LiveRooms, user_ids: list[int]) -> dict[int, int]:
    """user id -> agency id, for the users who are active members of an active agency."""
    agencies = {}
    for user_id in user_ids:
        agency = await rooms.cache.get(("agency", user_id), (user_topic(user_id),), partial(_agency_of, user_id))
        if agency is not None:
            agencies[user_id] = agency
    return agencies


async def do_send_gift(rooms: LiveRooms, call: RoomCall, p: GiftSendPayload, *, catalog: Catalog) -> Ack:
    svc, sid = rooms.svc, call.sid
    sender, room_id = call.user_id, call.room_id
    requested = requested_recipients(p)
    verdict, seated = await store.limit_and_seated(svc.redis, svc.limiter, rooms.state, sender,
                                                   svc.config.gift_rate_limit, room_id, requested)  # fmt: skip
    if not verdict.allowed:
        return refuse("RATE_LIMITED")
    await catalog.refresh_if_stale(svc.pool)
    gift = catalog.gift(p.giftId)
    if gift is None:
        return refuse("GIFT_NOT_FOUND")
    if not _available(gift, money.now_ms()):
        return refuse("GIFT_UNAVAILABLE")
    if not requested:
        return failure(INVALID_PAYLOAD, "NO_RECIPIENT")
    checked = check_recipients(sender, requested, seated)
    if isinstance(checked, str):
        return refuse(checked)
    checked = without_blocked(checked, (await rooms.cache.blocks(sender)).either)
    if isinstance(checked, str):
        return refuse(checked)
    # VIP-only gifts: the level comes from the database (by way of the hot cache, which forgets it when
    # it changes and reads it again at its expiry), never from the client or a stale token.
    sender_user = await rooms.cache.user(sender) or CachedUser(sender, "{}", 0)
    if gift["vip_level_required"] and sender_user.vip_level < gift["vip_level_required"]:
        return refuse("VIP_REQUIRED")
    # A member who just left must not earn their agency a share: the cache forgets a membership the
    # moment its row changes (engine/rooms/cache.py).
    agencies = await _agencies_of(rooms, checked)
    # Only the idempotency key deduplicates: sends sharing a batchId are a combo, each one charged.
    key = p.idempotencyKey or os.urandom(16).hex()
    txn = await _build_txn(rooms, catalog.settings, room_id, sender_user, checked, gift, p.quantity, key, agencies)
    result = await apply_with_wallet(svc, txn, f"gift:{key}", svc.config.daily_gift_spend_limit)
    if not result.ok:
        svc.metrics.gifts.labels(result.code or "error").inc()
        if result.code == "INSUFFICIENT_FUNDS":
            return refuse(
                "INSUFFICIENT_FUNDS",
                required=result.required,
                available=result.balance,
                message=f"Insufficient funds. Required: {result.required}, Available: {result.balance}",
            )
        if result.code == "DAILY_LIMIT":
            await flag_for_review(svc, sender, "daily_gift_limit", {"cap": result.cap, "txn_id": txn.txn_id})
            return refuse("DAILY_LIMIT", cap=result.cap)
        return refuse(result.code if result.code in ERRORS else "WALLET_FROZEN")
    if result.replay:
        # A retry of a send that already went through: same answer, no second charge or broadcast.
        svc.metrics.gifts.labels("replay").inc()
        return {"success": True, "replay": True, "balance": result.balance, "acceptedRecipientIds": checked}
    total = -txn.legs[0].amount
    svc.metrics.gifts.labels("ok").inc()
    svc.metrics.coins_spent.inc(total)
    combo = await _fan_out(rooms, sid, room_id, sender, checked, p)
    # Debug only: at hundreds of gifts a second a log line each cost more than the rest of the send
    # (the ledger records every gift durably).
    log.debug("gift sent", extra={"room_id": room_id, "user_id": sender, "gift_id": p.giftId, "coins": total,
                                 "txn_id": txn.txn_id})  # fmt: skip
    return {"success": True, "acceptedRecipientIds": checked, "transaction_id": txn.txn_id, "balance": result.balance,
            "combo": combo}  # fmt: skip


async def _fan_out(rooms: LiveRooms, sid: str, room_id: int, sender: int, recipients: list[int],
                   p: GiftSendPayload) -> dict[str, Any]:  # fmt: skip
    svc = rooms.svc
    combo_id, count, sends, subscribers = await store.count_combo(
        svc.redis, svc.keys, room_id, sender, combo_key_part(p.giftId, recipients), COMBO_WINDOW_MS, p.quantity,
        os.urandom(8).hex(),
    )  # fmt: skip
    here = rooms.rt.sio.manager.alone(subscribers)  # no other engine process listens: nothing to publish
    base = {"senderId": sender, "roomId": str(room_id), "giftId": p.giftId, "quantity": p.quantity,
            "batchId": p.batchId or combo_id}  # fmt: skip
    for recipient in recipients:  # legacy clients: one event per recipient …
        await rooms.broadcast(room_id, "gift:received", {**base, "recipientId": recipient}, skip_sid=sid,
                              here_only=here)  # fmt: skip
    # … then one burst event with every recipient, which newer clients play once.
    await rooms.broadcast(room_id, "gift:received", {**base, "recipientIds": recipients}, skip_sid=sid, here_only=here)
    combo = {"comboId": combo_id, "count": count, "sends": sends}
    if sends > 1:
        await rooms.broadcast(room_id, "gift:combo", {**base, "recipientIds": recipients, **combo}, here_only=here)
    return combo


async def do_prepare(rooms: LiveRooms, call: RoomCall, p: GiftPreparePayload) -> Ack:
    """Let the recipient preload the gift's animation; nothing is stored or charged."""
    svc = rooms.svc
    verdict = await svc.limiter.hit("gift_prepare", str(call.user_id), svc.config.gift_rate_limit)
    if not verdict.allowed:
        return refuse("RATE_LIMITED")
    # gift:send refuses a recipient who is not in the room; preparing a gift for them is refused alike.
    if not await rooms.state.is_member(call.room_id, p.recipientId):
        return refuse("RECIPIENT_NOT_SEATED")
    if (await rooms.cache.blocks(call.user_id)).either(p.recipientId):
        return refuse("BLOCKED")
    await rooms.rt.sio.emit(
        "gift:prepare", {"giftId": p.giftId, "recipientId": p.recipientId}, room=user_room(p.recipientId)
    )
    return {"success": True}
