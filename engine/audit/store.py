"""The audit log: one row per privileged action, written in the action's own transaction."""

from __future__ import annotations

from typing import Any

import msgspec

from engine.db import Conn
from engine.logs import request_id_var


async def record_txn(
    conn: Conn,
    *,
    actor_id: int | None,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (actor_id, action, target_type, target_id, ip, request_id, details)
           VALUES ($1, $2, $3, $4, $5::inet, $6, $7::text::jsonb)""",
        actor_id,
        action,
        target_type,
        None if target_id is None else str(target_id),
        ip,
        request_id_var.get(),
        msgspec.json.encode(details or {}).decode(),
    )


async def recent(conn: Conn, *, limit: int = 100, actor_id: int | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT id, at, actor_id, action, target_type, target_id, host(ip) AS ip, request_id, details
           FROM audit_log WHERE $1::bigint IS NULL OR actor_id = $1 ORDER BY id DESC LIMIT $2""",
        actor_id,
        limit,
    )
    return [dict(r) for r in rows]
