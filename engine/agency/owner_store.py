"""PostgreSQL access for the owner's side of agency income (sql/0023): the per-host rows of the
income page, salary advances, Salary Exchange Requests. The money itself is in the ledger
(engine/economy/store.py `apply_held_txn`, `held_balance`); these rows say which request it answered."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from engine.db import Conn


async def lock_agency_txn(conn: Conn, agency_id: int) -> None:
    """Serialise one agency's advances and exchange requests on its row (the advance cap is a sum:
    two requests racing at it must run one after the other)."""
    await conn.execute("SELECT 1 FROM agencies WHERE id = $1 FOR UPDATE", agency_id)


async def host_rows(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime, with_members: bool,
                    after: tuple[int, int] | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The hosts of the income page, most coins first (then user id): everyone with income for the
    agency in [start, end), and its current members too when `with_members` (the month under way)."""
    rows = await conn.fetch(
        """WITH income AS (SELECT user_id, sum(coins)::bigint AS coins FROM agency_income_events
                           WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3 GROUP BY 1),
                hosts AS (SELECT user_id FROM income
                          UNION SELECT user_id FROM agency_members
                          WHERE $4 AND agency_id = $1 AND left_at IS NULL)
           SELECT u.id AS user_id, u.name, u.avatar_image, coalesce(i.coins, 0)::bigint AS coins
           FROM hosts h JOIN users u ON u.id = h.user_id LEFT JOIN income i ON i.user_id = h.user_id
           WHERE $5::bigint IS NULL OR (coalesce(i.coins, 0), u.id) < ($5, $6)
           ORDER BY 4 DESC, 1 DESC LIMIT $7""",
        agency_id, start, end, with_members, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- advances ---------------------------------------------------------------------------------------


async def advance_by_key(conn: Conn, agency_id: int, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM agency_salary_advances WHERE agency_id = $1 AND idempotency_key = $2",
                              agency_id, key)  # fmt: skip
    return dict(row) if row else None


async def advances_total(conn: Conn, agency_id: int, month: dt.date) -> int:
    """What the agency drew in advances on a month's share."""
    total = await conn.fetchval(
        "SELECT coalesce(sum(usd_cents), 0) FROM agency_salary_advances WHERE agency_id = $1 AND month = $2",
        agency_id, month,
    )  # fmt: skip
    return int(total)


async def insert_advance_txn(conn: Conn, agency_id: int, month: dt.date, usd_cents: int, requested_by: int,
                             key: str, txn_id: str) -> dict[str, Any]:  # fmt: skip
    row = await conn.fetchrow(
        """INSERT INTO agency_salary_advances (agency_id, month, usd_cents, requested_by, idempotency_key, txn_id)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *""",
        agency_id, month, usd_cents, requested_by, key, txn_id,
    )  # fmt: skip
    assert row is not None  # RETURNING always gives the row
    return dict(row)


async def advances_page(conn: Conn, agency_id: int, month: dt.date | None, before: int | None,
                        limit: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = await conn.fetch(
        """SELECT * FROM agency_salary_advances
           WHERE agency_id = $1 AND ($2::date IS NULL OR month = $2) AND ($3::bigint IS NULL OR id < $3)
           ORDER BY id DESC LIMIT $4""",
        agency_id, month, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- salary exchange requests -------------------------------------------------------------------

_EXCHANGE = """x.*, a.name AS agency_name, a.owner_id
               FROM agency_salary_exchanges x JOIN agencies a ON a.id = x.agency_id"""


async def exchange_by_key(conn: Conn, agency_id: int, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_EXCHANGE} WHERE x.agency_id = $1 AND x.idempotency_key = $2", agency_id, key)
    return dict(row) if row else None


async def get_exchange(conn: Conn, exchange_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """The request; `lock`: held FOR UPDATE (a decision happens once: its state and its ledger
    transaction change together, under this lock)."""
    if lock:
        await conn.execute("SELECT 1 FROM agency_salary_exchanges WHERE id = $1 FOR UPDATE", exchange_id)
    row = await conn.fetchrow(f"SELECT {_EXCHANGE} WHERE x.id = $1", exchange_id)
    return dict(row) if row else None


async def insert_exchange_txn(conn: Conn, agency_id: int, coins: int, usd_cents: int, coins_per_usd: int,
                              requested_by: int, key: str) -> int | None:  # fmt: skip
    """A pending request; None when the agency has one pending already (the partial unique index)."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives a refusal
            return int(await conn.fetchval(
                """INSERT INTO agency_salary_exchanges
                       (agency_id, coins, usd_cents, coins_per_usd, requested_by, idempotency_key)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
                agency_id, coins, usd_cents, coins_per_usd, requested_by, key,
            ))  # fmt: skip
    except asyncpg.UniqueViolationError:
        return None


async def decide_exchange_txn(conn: Conn, exchange_id: int, status: str, actor_id: int, reason: str | None) -> None:
    await conn.execute(
        """UPDATE agency_salary_exchanges SET status = $2, processed_by = $3, reason = $4, processed_at = now()
           WHERE id = $1""",
        exchange_id, status, actor_id, reason,
    )  # fmt: skip


async def exchanges_page(conn: Conn, agency_id: int | None, status: str | None, before: int | None,
                         limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """One agency's requests (or every agency's), in one state or all, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_EXCHANGE}
            WHERE ($1::bigint IS NULL OR x.agency_id = $1) AND ($2::text IS NULL OR x.status = $2)
              AND ($3::bigint IS NULL OR x.id < $3)
            ORDER BY x.id DESC LIMIT $4""",
        agency_id, status, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
