"""The room Lua scripts (one atomic step per seat or membership change) and their typed wrapper.

Each script receives the room's ten keys (one hash tag, so one cluster slot), does its checks and
writes together, appends the events it caused to the room's stream with their sequence numbers,
and returns them; the caller emits them only after the script has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from engine.keys import Keys
from engine.lua import LuaScript, preload

_DIR = Path(__file__).parent / "lua"
_PRELUDE = _DIR / "lib.lua"
NAMES = (
    "room_open", "room_close", "join", "leave", "chat", "seat_take", "seat_leave", "seat_assign",
    "seat_mute", "seat_lock", "seat_invite", "seat_invite_answer", "seat_count", "sweep_hold", "self_mute",
)  # fmt: skip
SCRIPTS = {name: LuaScript(_DIR / f"{name}.lua", _PRELUDE) for name in NAMES}
COMPARE_DELETE = LuaScript(_DIR / "compare_delete.lua")
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """One event a script recorded: `to` is "room", "others" or "user:<id>"; `body` is JSON text."""

    name: str
    to: str
    body: str


@dataclass(slots=True)
class ScriptResult:
    ok: bool
    code: str | None
    events: list[RoomEvent]
    data: dict[str, Any] = field(default_factory=dict)


def as_list(value: Any) -> list[Any]:
    """cjson encodes an empty Lua table as `{}`: read it as the empty list it stands for."""
    return value if isinstance(value, list) else []


class RoomScripts:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._bound: dict[str, AsyncScript] = {name: script.bind(redis) for name, script in SCRIPTS.items()}

    async def preload(self) -> None:
        await preload(self._redis, *SCRIPTS.values(), COMPARE_DELETE)

    async def run(self, name: str, room_id: int, *args: str | int) -> ScriptResult:
        raw = await self._bound[name](keys=self._keys.room(room_id), args=list(args))
        data = _decoder.decode(raw)
        events = [RoomEvent(*entry) for entry in as_list(data.pop("events", []))]
        return ScriptResult(bool(data.pop("ok")), data.pop("code", None), events, data)
