"""The finance dashboard's reads and the fraud-flag review (issue 15 §4): the ledger explorer (a
page and a bounded CSV export over the same filter), diamond exchanges, fraud flags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from engine.db import Conn
from engine.economy.admin_model import LedgerFilter

_LEDGER = """SELECT e.id, e.txn_id, e.leg, e.account_type, e.account_id, e.currency, e.amount, e.balance_after,
                    e.created_at, t.kind, t.initiator_id, t.ref_type, t.ref_id
             FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
             WHERE ($1::text IS NULL OR e.account_type = $1) AND ($2::bigint IS NULL OR e.account_id = $2)
               AND ($3::text IS NULL OR e.currency = $3) AND ($4::text IS NULL OR t.kind = $4)
               AND ($5::uuid IS NULL OR e.txn_id = $5) AND ($6::timestamptz IS NULL OR e.created_at >= $6)
               AND ($7::timestamptz IS NULL OR e.created_at < $7) AND ($8::bigint IS NULL OR e.id < $8)
             ORDER BY e.id DESC LIMIT $9"""


def _args(f: LedgerFilter) -> tuple[Any, ...]:
    return f.account_type, f.account_id, f.currency, f.kind, f.txn_id, f.since, f.until


async def ledger_page(conn: Conn, f: LedgerFilter, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Ledger legs matching the filter, newest first, below the entry id `before`."""
    return [dict(r) for r in await conn.fetch(_LEDGER, *_args(f), before, limit)]


async def ledger_rows(conn: Conn, f: LedgerFilter, max_rows: int, chunk: int = 500) -> AsyncIterator[dict[str, Any]]:
    """The same legs for an export, read in keyset chunks (no long-held cursor), at most `max_rows`."""
    before, sent = None, 0
    while sent < max_rows:
        rows = await conn.fetch(_LEDGER, *_args(f), before, min(chunk, max_rows - sent))
        for row in rows:
            yield dict(row)
        sent += len(rows)
        if len(rows) < chunk:
            return
        before = rows[-1]["id"]


async def exchanges_page(conn: Conn, user_id: int | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Diamond → coin exchanges (ledger kind `exchange`): the user's diamonds out and coins in, by entry."""
    rows = await conn.fetch(
        """SELECT d.id, d.txn_id, d.account_id AS user_id, u.name AS user_name, -d.amount AS diamonds,
                  coalesce(c.amount, 0) AS coins, d.created_at
           FROM ledger_entries d JOIN ledger_transactions t ON t.txn_id = d.txn_id AND t.kind = 'exchange'
           LEFT JOIN ledger_entries c ON c.txn_id = d.txn_id AND c.account_type = 'user' AND c.currency = 'coins'
           LEFT JOIN users u ON u.id = d.account_id
           WHERE d.account_type = 'user' AND d.currency = 'diamonds' AND d.amount < 0
             AND ($1::bigint IS NULL OR d.account_id = $1) AND ($2::bigint IS NULL OR d.id < $2)
           ORDER BY d.id DESC LIMIT $3""",
        user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def fraud_flags_page(conn: Conn, reviewed: bool, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT f.id, f.user_id, u.name AS user_name, f.kind, f.day, f.details::text AS details, f.created_at,
                  f.reviewed_at, f.reviewed_by, r.name AS reviewer_name, f.review_note
           FROM fraud_flags f LEFT JOIN users u ON u.id = f.user_id LEFT JOIN users r ON r.id = f.reviewed_by
           WHERE (f.reviewed_at IS NOT NULL) = $1 AND ($2::bigint IS NULL OR f.id < $2)
           ORDER BY f.id DESC LIMIT $3""",
        reviewed, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def open_fraud_flags(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM fraud_flags WHERE reviewed_at IS NULL"))


async def lock_fraud_flag_txn(conn: Conn, flag_id: int) -> dict[str, Any] | None:
    """The flag, row-locked: two reviewers at once review it once."""
    row = await conn.fetchrow(
        "SELECT id, user_id, kind, day, reviewed_at, reviewed_by FROM fraud_flags WHERE id = $1 FOR UPDATE", flag_id
    )
    return dict(row) if row else None


async def review_fraud_flag_txn(conn: Conn, flag_id: int, actor_id: int, note: str | None) -> None:
    await conn.execute(
        "UPDATE fraud_flags SET reviewed_at = now(), reviewed_by = $2, review_note = $3 WHERE id = $1",
        flag_id, actor_id, note,
    )  # fmt: skip
