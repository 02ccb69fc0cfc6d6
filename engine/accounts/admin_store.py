"""PostgreSQL reads for the dashboard's Users section (issue 15 §3): the account search and CSV
export, and what a profile shows beside the account (roles, room, reports, sessions, audit trail).
Dashboard-only queries; the writes go through the accounts' and economy's own actions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from engine.accounts.admin_model import UserFilters
from engine.db import Conn

_LIST_COLUMNS = """u.id, u.name, u.phone, u.signature, u.country, u.status, u.suspended_until, u.wealth_level,
    u.charm_level, CASE WHEN u.vip_expires_at > now() THEN u.vip_level ELSE 0 END AS vip_level, u.created_at"""
_WHERE = """u.deleted_at IS NULL
    AND ($1::text IS NULL OR u.id::text = $1 OR u.name ILIKE '%' || $1 || '%' OR u.signature ILIKE '%' || $1 || '%'
         OR u.phone LIKE replace($1, ' ', '') || '%')
    AND ($2::text IS NULL OR u.country = $2)
    AND ($3::text IS NULL OR u.status = $3)
    AND ($4::int IS NULL OR u.wealth_level >= $4)
    AND ($5::text IS NULL
         OR ($5 = 'any' AND u.vip_level > 0 AND u.vip_expires_at > now())
         OR ($5 = 'none' AND (u.vip_level = 0 OR u.vip_expires_at <= now()))
         OR ($5 ~ '^[1-7]$' AND u.vip_level = $5::int AND u.vip_expires_at > now()))
    AND ($6::date IS NULL OR u.created_at >= $6::date)
    AND ($7::date IS NULL OR u.created_at < $7::date + 1)"""


def _args(f: UserFilters) -> tuple[Any, ...]:
    q = f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") if f.q else None
    return (q, f.country, f.status, f.min_level, f.vip, f.created_from, f.created_to)


async def search_users(conn: Conn, filters: UserFilters, *, limit: int, offset: int) -> list[dict[str, Any]]:
    """Accounts matching the filters, newest first."""
    rows = await conn.fetch(
        f"SELECT {_LIST_COLUMNS} FROM users u WHERE {_WHERE} ORDER BY u.id DESC LIMIT $8 OFFSET $9",
        *_args(filters), limit, offset,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def export_users(
    conn: Conn, filters: UserFilters, *, most: int, chunk: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """The matching accounts, newest first, at most `most`, read in chunks by id (keyset)."""
    before: int | None = None
    sent = 0
    while sent < most:
        rows = await conn.fetch(
            f"""SELECT {_LIST_COLUMNS} FROM users u WHERE {_WHERE} AND ($8::bigint IS NULL OR u.id < $8)
                ORDER BY u.id DESC LIMIT $9""",
            *_args(filters), before, min(chunk, most - sent),
        )  # fmt: skip
        for row in rows:
            yield dict(row)
        sent += len(rows)
        if len(rows) < chunk:
            return
        before = int(rows[-1]["id"])


async def existing_ids(conn: Conn, user_ids: list[int]) -> list[int]:
    rows = await conn.fetch("SELECT id FROM users WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id", user_ids)
    return [int(r["id"]) for r in rows]


async def role_names(conn: Conn, user_id: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.name",
        user_id,
    )
    return [r["name"] for r in rows]


async def owned_rooms(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, name, is_closed, seat_count, created_at FROM rooms WHERE user_id = $1 AND deleted_at IS NULL
           ORDER BY id""",
        user_id,
    )
    return [dict(r) for r in rows]


async def reports_about(conn: Conn, user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Moderation cases whose subject is the user, newest first."""
    rows = await conn.fetch(
        """SELECT id, target_type, target_id, source, state, reasons, reporter_count, action, action_until,
                  created_at
           FROM moderation_cases WHERE subject_user_id = $1 ORDER BY id DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def reports_by(conn: Conn, user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, case_id, target_type, target_id, reason, state, created_at FROM reports
           WHERE reporter_id = $1 ORDER BY id DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def app_sessions(conn: Conn, user_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The user's app logins (auth_sessions), newest first."""
    rows = await conn.fetch(
        """SELECT id, created_at, last_used_at, revoked_at, revoked_reason, user_agent, host(ip) AS ip
           FROM auth_sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def audit_trail(conn: Conn, user_id: int, limit: int = 30) -> list[dict[str, Any]]:
    """Audit entries about the user (the target) or by them (the actor), newest first."""
    rows = await conn.fetch(
        """SELECT a.id, a.at, a.actor_id, au.name AS actor_name, a.action, a.target_type, a.target_id,
                  host(a.ip) AS ip, a.details
           FROM audit_log a LEFT JOIN users au ON au.id = a.actor_id
           WHERE (a.target_type = 'user' AND a.target_id = $1::bigint::text) OR a.actor_id = $1::bigint
           ORDER BY a.id DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
