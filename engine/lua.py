"""Lua scripts kept as files beside their store, loaded once at start and called by SHA.

redis-py's Script object runs EVALSHA and falls back to loading the script on NOSCRIPT (after a
Redis restart or failover), so the scripts survive a server that forgot them.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


class LuaScript:
    """A script file, optionally preceded by shared preludes of helpers (Lua has no includes)."""

    def __init__(self, path: Path, *preludes: Path) -> None:
        self.path = path
        self.source = "".join(prelude.read_text() + "\n" for prelude in preludes) + path.read_text()

    def bind(self, redis: Redis) -> AsyncScript:
        return redis.register_script(self.source)


async def preload(redis: Redis, *scripts: LuaScript) -> None:
    """SCRIPT LOAD every script once so the first real call is a plain EVALSHA."""
    for script in scripts:
        await redis.script_load(script.source)
