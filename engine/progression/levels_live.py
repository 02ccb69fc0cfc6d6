"""The levels at run time: the transport they push on, the rooms they announce in, and this
process's copy of the ladders (kept in the rooms' hot cache under the topic "levels", which sql/0027
NOTIFYs on every ladder edit, so no request or watcher pass reads an unchanged ladder again)."""

from __future__ import annotations

from typing import Any

from engine.db import Conn
from engine.progression import levels_store as store
from engine.progression.levels_model import Ladder, LevelType, ladder_of
from engine.realtime.server import RealtimeServer, user_room
from engine.rooms.live import LiveRooms
from engine.services import Services

LEVELS_TOPIC = "levels"


class Levels:
    """Built once per app (engine/app.py, `app[LEVELS]`) and handed to the level actions."""

    def __init__(self, rooms: LiveRooms) -> None:
        self.rooms = rooms

    @property
    def rt(self) -> RealtimeServer:
        return self.rooms.rt

    @property
    def svc(self) -> Services:
        return self.rooms.svc

    async def ladder(self, kind: LevelType) -> Ladder:
        async def load(conn: Conn) -> Ladder:
            return ladder_of(await store.ladder_rows(conn, kind))

        return await self.rooms.cache.get(("levels", kind), (LEVELS_TOPIC,), load)

    def forget_ladders(self) -> None:
        """After this process edited a ladder: read it again now, not when the NOTIFY is back."""
        self.rooms.cache.invalidate(LEVELS_TOPIC)

    async def push(self, user_id: int, event: str, data: Any) -> None:
        """An event to every socket of the user, on whichever engine process holds it."""
        await self.rt.sio.emit(event, data, room=user_room(user_id))
