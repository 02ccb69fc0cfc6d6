"""Socket.IO events of the gifts domain."""

from __future__ import annotations

from typing import Any

from engine.gifts import actions
from engine.gifts.model import GiftPreparePayload, GiftSendPayload
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer


def register_gift_events(rt: RealtimeServer) -> None:
    @socket_event(rt, "gift:send", GiftSendPayload)
    async def send(rt: RealtimeServer, sid: str, s: dict[str, Any], p: GiftSendPayload) -> dict[str, Any]:
        return await actions.do_send_gift(rt, sid, s, p)

    @socket_event(rt, "gift:prepare", GiftPreparePayload)
    async def prepare(rt: RealtimeServer, sid: str, s: dict[str, Any], p: GiftPreparePayload) -> dict[str, Any]:
        return await actions.do_prepare(rt, sid, s, p)
