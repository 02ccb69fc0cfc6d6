"""Socket.IO events of the gifts domain: rows behind the room prologue (engine/rooms/events.py)."""

from __future__ import annotations

from functools import partial

from engine.gifts import actions
from engine.gifts.model import GiftPreparePayload, GiftSendPayload
from engine.gifts.store import Catalog
from engine.rooms.events import RoomEvent, register
from engine.rooms.live import LiveRooms


def register_gift_events(rooms: LiveRooms) -> None:
    # The catalog is cached in this process, re-read from PostgreSQL when stale (gifts/store.py).
    catalog = Catalog()
    register(
        rooms,
        [
            RoomEvent("gift:send", GiftSendPayload, partial(actions.do_send_gift, catalog=catalog)),
            RoomEvent("gift:prepare", GiftPreparePayload, actions.do_prepare),
        ],
        not_in_room=actions.refuse("NOT_IN_ROOM"),
    )
