"""What a block, an unfollow or a profile change means in the rooms: the rooms' side of the social
domain's port (`engine/social/live.py: SocialRooms`), plugged in by engine/app.py."""

from __future__ import annotations

import logging
from typing import Any

from engine.realtime.server import user_room
from engine.rooms import store
from engine.rooms.cache import user_topic
from engine.rooms.live import LiveRooms, encode
from engine.rooms.membership import do_leave
from engine.rooms.presence import ALL_TIERS, presence_room
from engine.social.model import blocks_topic, privacy_topic

log = logging.getLogger("flylive.rooms.social")


class RoomsForSocial:
    def __init__(self, rooms: LiveRooms) -> None:
        self.rooms = rooms

    async def _leave_presence(self, watcher: int, watched: int, tiers: tuple[str, ...]) -> None:
        """Take every socket of `watcher` (on any process) out of `watched`'s presence tiers.

        Their sessions keep counting the id against the subscription limits until they unsubscribe
        or disconnect (another process's session cannot be reached); the updates stop at once."""
        svc = self.rooms.svc
        for sid in await store.user_sockets(svc.redis, svc.keys, watcher):
            for tier in tiers:
                await self.rooms.rt.sio.leave_room(sid, presence_room(watched, tier))

    async def blocked(self, blocker: int, blocked: int) -> None:
        rooms = self.rooms
        # The triggers' NOTIFY tells every process; this one forgets at once, before it evicts.
        rooms.cache.invalidate(blocks_topic(blocker))
        rooms.cache.invalidate(blocks_topic(blocked))
        await self._leave_presence(blocked, blocker, ALL_TIERS)
        await self._leave_presence(blocker, blocked, ALL_TIERS)
        async with rooms.svc.pool.acquire() as conn:
            room_id = await store.room_of_owner(conn, blocker)
        if room_id is not None and await rooms.state.is_member(room_id, blocked):
            await do_leave(rooms, None, None, room_id, mode="kick", user_id=blocked)
            await rooms.rt.sio.emit("room:kicked", {"roomId": str(room_id), "reason": "blocked", "permanent": True,
                                                    "remaining_seconds": -1}, room=user_room(blocked))  # fmt: skip
            log.info("blocked user left the blocker's room", extra={"room_id": room_id, "user_id": blocked})

    async def unfollowed(self, follower: int, followed: int) -> None:
        # The follower is no follower of `followed` any more; `followed` is no friend of theirs.
        await self._leave_presence(follower, followed, ("followers", "friends"))
        await self._leave_presence(followed, follower, ("friends",))

    async def profile_changed(self, user_id: int, changed: dict[str, Any]) -> None:
        rooms, svc = self.rooms, self.rooms.svc
        rooms.cache.invalidate(user_topic(user_id))  # read the new row now, not when the NOTIFY is back
        user = await rooms.cache.user(user_id)
        if user is None:
            return
        for room_id in await store.rooms_of_user(svc.redis, svc.keys, user_id):
            await rooms.run(room_id, rooms.state.profile_update(room_id, user_id, user.profile_json, encode(changed)))

    async def privacy_changed(self, user_id: int) -> None:
        self.rooms.cache.invalidate(privacy_topic(user_id))

    async def whereabouts(self, user_id: int) -> tuple[bool, int | None]:
        svc = self.rooms.svc
        online = (await store.online(svc.redis, svc.keys, [user_id]))[user_id]
        room_id = await self.rooms.state.room_of(user_id)
        if room_id is not None:
            room = await self.rooms.cache.room(room_id)
            if room is None or room["is_hidden"] or room["password_hash"]:
                room_id = None  # as user:getRoom: a hidden or locked room is not revealed
        return online, room_id
