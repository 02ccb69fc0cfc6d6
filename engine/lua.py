"""Lua scripts kept as files beside their store, loaded once at start and called by SHA.

A bound script runs EVALSHA and falls back to loading the script on NOSCRIPT (after a Redis restart
or failover), so the scripts survive a server that forgot them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from engine.redis_mux import MuxRedis


class LuaScript:
    """A script file, optionally preceded by shared preludes of helpers (Lua has no includes)."""

    def __init__(self, path: Path, *preludes: Path) -> None:
        self.path = path
        self.source = "".join(prelude.read_text() + "\n" for prelude in preludes) + path.read_text()
        self.sha = hashlib.sha1(self.source.encode()).hexdigest()

    def bind(self, redis: Redis) -> BoundScript:
        return BoundScript(self, redis)


class BoundScript:
    """A script on one client: `await script(keys=[…], args=[…])` returns its raw reply.

    redis-py's own `Script` does the same, but checks on every call whether its client is a
    pipeline (an `isinstance` against a Protocol class, ~5 µs) and imports inside the call: this is
    the one call of every socket event's Redis work.
    """

    __slots__ = ("_redis", "script", "sha")

    def __init__(self, script: LuaScript, redis: Redis) -> None:
        self.script = script
        self.sha = script.sha
        self._redis = redis

    async def __call__(self, keys: Sequence[Any] = (), args: Iterable[Any] = ()) -> Any:
        args = tuple(args)
        try:
            return await self._evalsha(keys, args)
        except NoScriptError:
            await self._redis.script_load(self.script.source)
            return await self._evalsha(keys, args)

    async def _evalsha(self, keys: Sequence[Any], args: tuple[Any, ...]) -> Any:
        if isinstance(self._redis, MuxRedis):
            return await self._redis.evalsha_raw(self.sha, keys, args)
        return await self._redis.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]


async def preload(redis: Redis, *scripts: LuaScript) -> None:
    """SCRIPT LOAD every script once so the first real call is a plain EVALSHA."""
    for script in scripts:
        await redis.script_load(script.source)
