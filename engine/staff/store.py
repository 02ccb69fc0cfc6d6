"""Staff sessions and second factors in PostgreSQL (sql/0034). The only I/O of engine/staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn


async def create_session_txn(conn: Conn, token_hash: bytes, user_id: int, csrf_token: str, verified: bool,
                             ip: str | None, user_agent: str | None) -> None:  # fmt: skip
    await conn.execute(
        """INSERT INTO staff_sessions (token_hash, user_id, csrf_token, verified, ip, user_agent)
           VALUES ($1, $2, $3, $4, $5::inet, $6)""",
        token_hash, user_id, csrf_token, verified, ip, (user_agent or "")[:400],
    )  # fmt: skip


async def session(conn: Conn, token_hash: bytes) -> dict[str, Any] | None:
    """The session with its user's standing and permissions (as of now, not of the sign-in)."""
    row = await conn.fetchrow(
        """SELECT s.token_hash, s.user_id, s.csrf_token, s.verified, s.created_at, s.last_seen_at, s.ended_at,
                  u.name, u.phone, u.status, u.suspended_until,
                  coalesce((SELECT array_agg(DISTINCT p.name) FROM user_roles ur
                            JOIN role_permissions rp ON rp.role_id = ur.role_id
                            JOIN permissions p ON p.id = rp.permission_id WHERE ur.user_id = s.user_id), '{}')
                      AS permissions,
                  coalesce((SELECT array_agg(r.name ORDER BY r.id) FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                            WHERE ur.user_id = s.user_id), '{}') AS roles
           FROM staff_sessions s JOIN users u ON u.id = s.user_id
           WHERE s.token_hash = $1 AND u.deleted_at IS NULL""",
        token_hash,
    )
    return dict(row) if row else None


async def touch(conn: Conn, token_hash: bytes, at: dt.datetime) -> None:
    await conn.execute("UPDATE staff_sessions SET last_seen_at = $2 WHERE token_hash = $1", token_hash, at)


async def mark_verified(conn: Conn, token_hash: bytes) -> None:
    await conn.execute("UPDATE staff_sessions SET verified = true, last_seen_at = now() WHERE token_hash = $1",
                       token_hash)  # fmt: skip


async def end_session(conn: Conn, token_hash: bytes, reason: str) -> bool:
    status = await conn.execute(
        "UPDATE staff_sessions SET ended_at = now(), end_reason = $2 WHERE token_hash = $1 AND ended_at IS NULL",
        token_hash, reason,
    )  # fmt: skip
    return status.endswith(" 1")


async def end_user_sessions(conn: Conn, user_id: int, reason: str) -> int:
    status = await conn.execute(
        "UPDATE staff_sessions SET ended_at = now(), end_reason = $2 WHERE user_id = $1 AND ended_at IS NULL",
        user_id, reason,
    )  # fmt: skip
    return int(status.split()[-1])


async def user_sessions(conn: Conn, user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT created_at, last_seen_at, ended_at, end_reason, host(ip) AS ip, user_agent
           FROM staff_sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def totp(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT secret, enabled_at, last_step FROM staff_totp WHERE user_id = $1", user_id)
    return dict(row) if row else None


async def totp_lock(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """The factor's row locked: two sign-ins with the same code cannot both take its step."""
    row = await conn.fetchrow("SELECT secret, enabled_at, last_step FROM staff_totp WHERE user_id = $1 FOR UPDATE",
                              user_id)  # fmt: skip
    return dict(row) if row else None


async def start_totp(conn: Conn, user_id: int, sealed: bytes) -> None:
    """A new secret waiting for its first code (an enabled factor is replaced only through disable)."""
    await conn.execute(
        """INSERT INTO staff_totp (user_id, secret) VALUES ($1, $2)
           ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = 0, created_at = now()
           WHERE staff_totp.enabled_at IS NULL""",
        user_id, sealed,
    )  # fmt: skip


async def take_step(conn: Conn, user_id: int, step: int, enable: bool) -> None:
    await conn.execute(
        """UPDATE staff_totp SET last_step = $2, enabled_at = CASE WHEN $3 THEN coalesce(enabled_at, now())
                                                                   ELSE enabled_at END
           WHERE user_id = $1""",
        user_id, step, enable,
    )  # fmt: skip


async def delete_totp(conn: Conn, user_id: int) -> bool:
    return (await conn.execute("DELETE FROM staff_totp WHERE user_id = $1", user_id)).endswith(" 1")


async def timeout_settings(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT key, value FROM economy_settings "
        "WHERE key IN ('admin_idle_timeout_seconds', 'admin_session_max_seconds')"
    )
    return {r["key"]: int(r["value"]) for r in rows}
