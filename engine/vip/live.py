"""The VIP domain at run time: the transport it pushes `vip.*` on, the rooms it tells of a changed
VIP (profiles in the room and `user:profile_updated`), the notifications it stores (a VIP gift),
and its jobs (expiry, the sweep of interrupted purchases, the daily bonus)."""

from __future__ import annotations

from typing import Any

from engine.notifications.live import Notifications
from engine.realtime.server import RealtimeServer, user_room
from engine.rooms.cache import user_topic
from engine.rooms.live import LiveRooms
from engine.rooms.social import RoomsForSocial
from engine.services import Services


class Vip:
    """Built once per app (engine/app.py, `app[VIP]`) and handed to the VIP actions."""

    def __init__(self, rooms: LiveRooms, notifications: Notifications) -> None:
        self.rooms = rooms
        self.rt: RealtimeServer = rooms.rt
        self.notifications = notifications
        self._room_profiles = RoomsForSocial(rooms)

    @property
    def svc(self) -> Services:
        return self.rt.services

    async def push(self, user_id: int, event: str, data: Any) -> None:
        """An event to every socket of the user, on whichever engine process holds it."""
        await self.rt.sio.emit(event, data, room=user_room(user_id))

    async def profile_changed(self, user_id: int) -> None:
        """Rebuild the user's profile in every room they are in (`user:profile_updated` goes out with the
        VIP fields), reading the row now on this process; the users trigger tells the others."""
        self.rooms.cache.invalidate(user_topic(user_id))
        user = await self.rooms.cache.user(user_id)
        if user is None:
            return
        changed = {"vip_level": user.vip_level, "vip_badge": user.vip.badge, "vip_entry_effect": user.vip.entry_effect}
        await self._room_profiles.profile_changed(user_id, changed)
