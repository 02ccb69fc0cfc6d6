"""The inbox at run time: the transport it pushes on and the notifications it stores.

Pushes go to the Socket.IO room `user:<id>` (every socket of the user, on whichever engine process
holds it, through the Redis manager); typing goes to the peer's thread room
`dm:thread:<id>:user:<peer>`, which a socket enters with `dm:thread.opened` while it shows the
thread; an official message to everyone goes to every socket.
"""

from __future__ import annotations

from typing import Any

from engine.notifications.live import Notifications
from engine.realtime.server import RealtimeServer, user_room
from engine.services import Services


def thread_room(thread_id: int, user_id: int) -> str:
    """The room of one participant's sockets that have the thread open (realtime-contract §2.3)."""
    return f"dm:thread:{thread_id}:user:{user_id}"


class Inbox:
    """Built once per app (engine/app.py, `app[INBOX]`) and handed to the inbox actions."""

    def __init__(self, rt: RealtimeServer, notifications: Notifications) -> None:
        self.rt = rt
        self.notifications = notifications

    @property
    def svc(self) -> Services:
        return self.rt.services

    async def push(self, user_id: int, event: str, data: Any) -> None:
        """An event to every socket of the user, on whichever engine process holds it."""
        await self.rt.sio.emit(event, data, room=user_room(user_id))

    async def push_everyone(self, event: str, data: Any) -> None:
        """An event to every socket of the default namespace, on every engine process."""
        await self.rt.sio.emit(event, data)

    async def to_thread_room(self, thread_id: int, user_id: int, event: str, data: Any) -> None:
        await self.rt.sio.emit(event, data, room=thread_room(thread_id, user_id))
