"""A Redis token-bucket limiter shared by HTTP routes, logins and socket events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

from engine.config import Rate
from engine.errors import rate_limited
from engine.keys import Keys
from engine.lua import LuaScript

_LUA = Path(__file__).parent / "lua"
# `take_tokens(key, capacity, period_ms, cost)`, for scripts that draw on a bucket in their own slot.
BUCKET_PRELUDE = _LUA / "bucket.lua"
TOKEN_BUCKET = LuaScript(_LUA / "token_bucket.lua", BUCKET_PRELUDE)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_ms: int
    remaining: int

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_ms / 1000))


def _verdict(reply: Any) -> Verdict:
    allowed, retry_ms, remaining = reply
    return Verdict(bool(allowed), int(retry_ms), int(remaining))


class LiveRates(Protocol):
    """Rates staff changed at run time, by scope (engine/flags/cache.py; issue 15 §9)."""

    async def rate(self, scope: str, default: Rate) -> Rate: ...

    def rate_now(self, scope: str, default: Rate) -> Rate: ...


class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys, live: LiveRates | None = None) -> None:
        self._keys = keys
        self._redis = redis
        self._bucket = TOKEN_BUCKET.bind(redis)
        # When set, a scope's rate is the one staff set, if any, instead of the caller's (Config's).
        self.live = live

    async def cool_down(self, scope: str, subject: str, seconds: int) -> None:
        """Bar `subject` from `scope` for `seconds` (e.g. a user whose socket was cut for flooding)."""
        await self._redis.set(self._keys.cooldown(scope, subject), 1, ex=seconds)

    async def cooling(self, scope: str, subject: str) -> int | None:
        """Seconds left of a cool-down, or None."""
        ttl = int(await self._redis.ttl(self._keys.cooldown(scope, subject)))
        return ttl if ttl > 0 else None

    async def hit(self, scope: str, subject: str, rate: Rate, cost: int = 1) -> Verdict:
        if self.live is not None:
            rate = await self.live.rate(scope, rate)
        key = self._keys.rate_bucket(scope, subject)
        return _verdict(await self._bucket(keys=[key], args=[rate.capacity, int(rate.period * 1000), cost]))

    def queue_hit(self, pipe: Pipeline, scope: str, subject: str, rate: Rate, cost: int = 1) -> None:
        """Queue a `hit` on the caller's pipeline, so that it shares one round trip with the event's
        other Redis calls; `verdict_of` reads its reply. (By SHA: the script is loaded at start, and
        redis-py's own pipelined scripts would cost a SCRIPT EXISTS round trip on every execute.)"""
        if self.live is not None:
            rate = self.live.rate_now(scope, rate)
        key = self._keys.rate_bucket(scope, subject)
        pipe.evalsha(self._bucket.sha, 1, key, rate.capacity, int(rate.period * 1000), cost)

    async def verdict_of(self, reply: Any, scope: str, subject: str, rate: Rate, cost: int = 1) -> Verdict:
        """The verdict of a queued hit, from its reply in a pipeline run with `raise_on_error=False`."""
        if isinstance(reply, NoScriptError):  # Redis forgot the script (a restart): run it on its own
            return await self.hit(scope, subject, rate, cost)
        if isinstance(reply, Exception):
            raise reply
        return _verdict(reply)

    async def check(self, scope: str, subject: str, rate: Rate, cost: int = 1) -> Verdict:
        """Like `hit`, but raise the domain's rate-limit error when refused."""
        verdict = await self.hit(scope, subject, rate, cost)
        if not verdict.allowed:
            raise rate_limited(verdict.retry_after_seconds)
        return verdict
