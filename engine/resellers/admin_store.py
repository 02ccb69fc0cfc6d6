"""The finance dashboard's list of coin requests (issue 15 §4): every request, newest first."""

from __future__ import annotations

from typing import Any

from engine.db import Conn


async def requests_page(conn: Conn, status: int | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT c.id, c.amount, c.type, c.status, c.message, c.action_message, c.credit_days, c.user_id,
                  u.name AS user_name, c.requested_from, s.name AS supplier_name, c.updated_by, c.txn_id,
                  c.created_at, c.updated_at
           FROM coin_requests c LEFT JOIN users u ON u.id = c.user_id LEFT JOIN users s ON s.id = c.requested_from
           WHERE ($1::smallint IS NULL OR c.status = $1) AND ($2::bigint IS NULL OR c.id < $2)
           ORDER BY c.id DESC LIMIT $3""",
        status, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
