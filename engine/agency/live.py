"""The agency domain at run time: the transport it pushes `agency.*` events on, and the
notifications it stores (reviews, membership changes)."""

from __future__ import annotations

from typing import Any

from engine.agency.seal import key_of
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
