"""The shared resources every action needs, built once per app by engine.app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg
import msgspec
from redis.asyncio import Redis

from engine.auth.passwords import PasswordHasher
from engine.auth.tokens import TokenSigner
from engine.config import Config
from engine.keys import Keys
from engine.metrics import Metrics
from engine.ratelimit.store import RateLimiter

log = logging.getLogger("flylive.services")


class Revocation(msgspec.Struct):
    """Published when sessions end, so every engine process drops the matching live sockets."""

    user_id: int
    reason: str
    sessions: list[str] | None = None  # None: every socket of the user


@dataclass
class Services:
    config: Config
    pool: asyncpg.Pool
    redis: Redis
    keys: Keys
    hasher: PasswordHasher
    signer: TokenSigner
    limiter: RateLimiter
    metrics: Metrics

    async def publish_revocation(self, event: Revocation) -> None:
        await self.redis.publish(self.keys.auth_channel(), msgspec.json.encode(event))
        log.info(
            "sessions revoked",
            extra={
                "user_id": event.user_id,
                "reason": event.reason,
                "sessions": len(event.sessions) if event.sessions else "all",
            },
        )
