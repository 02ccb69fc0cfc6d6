"""The agency domain at run time: the transport it pushes `agency.*` events on, and the
notifications it stores (reviews, membership changes)."""

from __future__ import annotations

from typing import Any

from engine.agency import social_store
from engine.agency.seal import key_of
from engine.agency.social_model import chat_room
from engine.notifications.live import Notifications
from engine.realtime.server import RealtimeServer, user_room
from engine.services import Services


class Agencies:
    """Built once per app (engine/app.py, `app[AGENCIES]`) and handed to the agency actions."""

    def __init__(self, rt: RealtimeServer, notifications: Notifications) -> None:
        self.rt = rt
        self.notifications = notifications

    @property
    def svc(self) -> Services:
        return self.rt.services

    @property
    def docs_key(self) -> bytes:
        return key_of(self.svc.config)

    async def push(self, user_id: int, event: str, data: Any) -> None:
        """An event to every socket of the user, on whichever engine process holds it."""
        await self.rt.sio.emit(event, data, room=user_room(user_id))

    async def left_channel(self, agency_id: int, user_ids: list[int]) -> None:
        """Members who left (or were removed, or the agency closed): every socket of theirs, on any
        process, leaves the agency's chat channel (engine/agency/chat.py)."""
        svc = self.svc
        for user_id in user_ids:
            for sid in await social_store.user_sockets(svc.redis, svc.keys, user_id):
                await self.rt.sio.leave_room(sid, chat_room(agency_id))
