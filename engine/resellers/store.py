"""Resellers (users with the `reseller` role) and coin requests in PostgreSQL."""

from __future__ import annotations

from typing import Any

from engine.db import Conn

COLUMNS = """id, amount, message, action_message, proof_1, proof_2, proof_3, type, status, credit_days, user_id,
    requested_from, updated_by, created_at, updated_at"""
PENDING = 1


async def active_resellers(conn: Conn) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT u.id, u.name, u.signature, u.avatar_image FROM users u
           JOIN user_roles ur ON ur.user_id = u.id JOIN roles r ON r.id = ur.role_id
           WHERE r.name = 'reseller' AND u.deleted_at IS NULL AND u.status = 'active' ORDER BY u.id"""
    )
    return [dict(r) for r in rows]


async def role_names(conn: Conn, user_id: int) -> set[str]:
    rows = await conn.fetch("SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1",
                            user_id)  # fmt: skip
    return {r["name"] for r in rows}


async def insert_request(conn: Conn, requester: int, supplier: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A pending request; `fields`: amount, message, type, credit_days, proof_1..3."""
    row = await conn.fetchrow(
        f"""INSERT INTO coin_requests (amount, message, type, credit_days, proof_1, proof_2, proof_3, user_id,
                                       requested_from)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}""",
        fields["amount"], fields["message"], fields["type"], fields["credit_days"], fields["proof_1"],
        fields["proof_2"], fields["proof_3"], requester, supplier,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def get_request(conn: Conn, request_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM coin_requests WHERE id = $1", request_id)
    return dict(row) if row else None


async def lock_request_txn(conn: Conn, request_id: int) -> dict[str, Any] | None:
    """The request, row-locked until the transaction ends: concurrent decisions queue up behind it."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM coin_requests WHERE id = $1 FOR UPDATE", request_id)
    return dict(row) if row else None


async def decide_txn(
    conn: Conn, request_id: int, status: int, action_message: str | None, actor: int, txn_id: str | None
) -> None:
    await conn.execute(
        """UPDATE coin_requests SET status = $2, action_message = $3, updated_by = $4, txn_id = $5::uuid,
                  updated_at = now() WHERE id = $1""",
        request_id, status, action_message, actor, txn_id,
    )  # fmt: skip
