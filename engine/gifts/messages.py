"""Typed schema of the gifts domain's server→client events (realtime-contract §3 and §7)."""

from __future__ import annotations

import msgspec

from engine.rooms.messages import Event


class GiftReceived(Event):
    """One per accepted recipient (`recipientId`, for legacy clients), then one burst (`recipientIds`)."""

    senderId: int
    roomId: str
    giftId: int
    quantity: int
    batchId: str
    recipientId: int | None = None
    recipientIds: list[int] | None = None


class GiftCombo(Event):
    senderId: int
    roomId: str
    giftId: int
    quantity: int
    batchId: str
    recipientIds: list[int]
    comboId: str
    count: int
    sends: int


class GiftPrepare(Event):
    giftId: int
    recipientId: int


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "gift:received": GiftReceived,
    "gift:combo": GiftCombo,
    "gift:prepare": GiftPrepare,
}
