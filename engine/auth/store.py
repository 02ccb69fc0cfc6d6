"""Login sessions and refresh tokens in PostgreSQL; session revocation mirrored to Redis.

PostgreSQL is the record. Redis holds a short-lived "revoked" marker per session so every request
and socket handshake can check revocation with one key read; the markers only need to outlive the
access tokens, and `rebuild_revocations` restores them after Redis lost its data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import asyncpg
import msgspec
from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys

MAX_ACTIVE_SESSIONS = 20


class Revocation(msgspec.Struct):
    """Published when sessions end, so every engine process drops the matching live sockets."""

    user_id: int
    reason: str
    sessions: list[str] | None = None  # None: every socket of the user


_revocation_decoder = msgspec.json.Decoder(Revocation)


async def publish_revocation(redis: Redis, keys: Keys, event: Revocation) -> None:
    await redis.publish(keys.auth_channel(), msgspec.json.encode(event))


async def revocations(redis: Redis, keys: Keys) -> AsyncIterator[Revocation | None]:
    """Revocations as every process publishes them (None for a message that is not one)."""
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(keys.auth_channel())
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                yield _revocation_decoder.decode(message["data"])
            except msgspec.DecodeError:
                yield None


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    status: Literal["ok", "unknown", "expired", "reused", "revoked"]
    user_id: int | None = None
    session_id: str | None = None


async def create_session_txn(
    conn: Conn,
    user_id: int,
    *,
    user_agent: str | None,
    ip: str | None,
) -> tuple[str, list[str]]:
    """Open a session; return its id and the ids of the oldest sessions closed to respect the cap."""
    session_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO auth_sessions (id, user_id, user_agent, ip) VALUES ($1, $2, $3, $4::inet)",
        session_id,
        user_id,
        (user_agent or "")[:255] or None,
        ip,
    )
    evicted = await conn.fetch(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'session_limit'
           WHERE id IN (SELECT id FROM auth_sessions WHERE user_id = $1 AND revoked_at IS NULL
                        ORDER BY last_used_at DESC OFFSET $2)
           RETURNING id""",
        user_id,
        MAX_ACTIVE_SESSIONS,
    )
    return session_id, [str(r["id"]) for r in evicted]


async def insert_refresh_token_txn(
    conn: Conn,
    session_id: str,
    token_hash: bytes,
    ttl_seconds: int,
) -> None:
    await conn.execute(
        """INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
           VALUES ($1, $2, now() + make_interval(secs => $3))""",
        token_hash,
        session_id,
        ttl_seconds,
    )


async def consume_refresh_token_txn(conn: Conn, token_hash: bytes) -> RefreshOutcome:
    """Spend a refresh token. The row lock makes two concurrent uses of one token see each other:
    the second finds it spent and is treated as reuse."""
    row = await conn.fetchrow(
        """SELECT t.session_id, t.expires_at < now() AS expired, t.used_at, s.user_id, s.revoked_at
           FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
           WHERE t.token_hash = $1 FOR UPDATE OF t, s""",
        token_hash,
    )
    if row is None:
        return RefreshOutcome("unknown")
    session_id, user_id = str(row["session_id"]), int(row["user_id"])
    if row["revoked_at"] is not None:
        return RefreshOutcome("revoked", user_id, session_id)
    if row["used_at"] is not None:
        return RefreshOutcome("reused", user_id, session_id)
    if row["expired"]:
        return RefreshOutcome("expired", user_id, session_id)
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", token_hash)
    await conn.execute("UPDATE auth_sessions SET last_used_at = now() WHERE id = $1", session_id)
    return RefreshOutcome("ok", user_id, session_id)


async def revoke_sessions_txn(
    conn: Conn,
    user_id: int,
    *,
    reason: str,
    only: str | None = None,
    keep: str | None = None,
) -> list[str]:
    """Revoke one session (`only`) or all of a user's sessions but `keep`; return the revoked ids."""
    rows = await conn.fetch(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
           WHERE user_id = $1 AND revoked_at IS NULL
             AND ($3::uuid IS NULL OR id = $3::uuid) AND ($4::uuid IS NULL OR id <> $4::uuid)
           RETURNING id""",
        user_id,
        reason,
        only,
        keep,
    )
    return [str(r["id"]) for r in rows]


async def mark_revoked(redis: Redis, keys: Keys, session_ids: list[str], ttl_seconds: int) -> None:
    if not session_ids:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for session_id in session_ids:
            pipe.set(keys.session_revoked(session_id), 1, ex=ttl_seconds)
        await pipe.execute()


async def is_revoked(redis: Redis, keys: Keys, session_id: str) -> bool:
    return bool(await redis.exists(keys.session_revoked(session_id)))


async def rebuild_revocations(pool: asyncpg.Pool, redis: Redis, keys: Keys, ttl_seconds: int) -> int:
    """Re-mark sessions revoked within one access-token lifetime (for a Redis that lost them)."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ttl_seconds)
    rows = await pool.fetch("SELECT id FROM auth_sessions WHERE revoked_at >= $1", since)
    await mark_revoked(redis, keys, [str(r["id"]) for r in rows], ttl_seconds)
    return len(rows)
