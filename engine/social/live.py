"""The social domain at run time: the transport it pushes on, and the rooms it drives.

A block must reach into the rooms (the blocked user leaves the blocker's room, presence
subscriptions between the two end) and a profile change must be told to every room the user is in;
rooms sit above this domain, so it drives them through the `SocialRooms` port, which
engine/rooms/social.py implements and engine/app.py plugs in.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.notifications.live import Notifications
from engine.realtime.server import RealtimeServer, user_room
from engine.services import Services


class SocialRooms(Protocol):
    """What the social domain asks of the rooms."""

    async def blocked(self, blocker: int, blocked: int) -> None:
        """A block was stored: take the blocked user out of the blocker's own room and end each
        one's presence subscriptions to the other."""

    async def unfollowed(self, follower: int, followed: int) -> None:
        """An edge went: live presence subscriptions that the edge entitled end (the follower's
        to the followed user as a follower or friend, the followed user's to the follower as a friend)."""

    async def profile_changed(self, user_id: int, changed: dict[str, Any]) -> None:
        """The user's room profile changed (`changed`: its fields with their new values): tell
        every room the user is in."""

    async def privacy_changed(self, user_id: int) -> None:
        """The user's privacy settings changed (every process hears it from the table's trigger;
        this one applies it from the next event on)."""

    async def whereabouts(self, user_id: int) -> tuple[bool, int | None]:
        """Whether the user is online, and the room they are in when it is one anyone may enter."""


class Social:
    """Built once per app (engine/app.py, `app[SOCIAL]`) and handed to the social actions."""

    def __init__(self, rt: RealtimeServer, rooms: SocialRooms, notifications: Notifications) -> None:
        self.rt = rt
        self.rooms = rooms
        self.notifications = notifications

    @property
    def svc(self) -> Services:
        return self.rt.services

    async def push(self, user_id: int, event: str, data: Any) -> None:
        """An event to every socket of the user, on whichever engine process holds it."""
        await self.rt.sio.emit(event, data, room=user_room(user_id))
