"""The reward ledger's PostgreSQL side (sql/0026_rewards.sql)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from redis.asyncio import Redis

from engine.db import Conn
from engine.keys import Keys

COLUMNS = "id, user_id, source, source_ref, items, state, claim_by, note, txn_id, created_at, granted_at"


async def insert_txn(
    conn: Conn, user_id: int, source: str, source_ref: str, items_json: str, state: str,
    claim_by: dt.datetime | None, note: str, txn_id: str,
) -> dict[str, Any] | None:  # fmt: skip
    """The new row, or None when (user, source, source_ref) is already recorded (a twin waits for
    the other's commit on the unique index, then sees the conflict)."""
    row = await conn.fetchrow(
        f"""INSERT INTO rewards (user_id, source, source_ref, items, state, claim_by, note, txn_id)
            VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
            ON CONFLICT (user_id, source, source_ref) DO NOTHING RETURNING {COLUMNS}""",
        user_id, source, source_ref, items_json, state, claim_by, note, uuid.UUID(txn_id),
    )  # fmt: skip
    return dict(row) if row else None


async def get(conn: Conn, reward_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM rewards WHERE id = $1", reward_id)
    return dict(row) if row else None


async def by_key(conn: Conn, user_id: int, source: str, source_ref: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM rewards WHERE user_id = $1 AND source = $2 AND source_ref = $3",
        user_id, source, source_ref,
    )  # fmt: skip
    return dict(row) if row else None


async def lock_txn(conn: Conn, reward_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM rewards WHERE id = $1 FOR UPDATE", reward_id)
    return dict(row) if row else None


async def mark_paid_txn(conn: Conn, reward_id: int) -> bool:
    """Everything of the reward landed: pending → granted (a claimed one stays claimed); `granted_at`
    set once. False when it was already marked."""
    status = await conn.execute(
        "UPDATE rewards SET state = CASE state WHEN 'pending' THEN 'granted' ELSE state END, granted_at = now() "
        "WHERE id = $1 AND granted_at IS NULL AND state IN ('pending', 'claimed')", reward_id,
    )  # fmt: skip
    return status.endswith(" 1")


async def claim_txn(conn: Conn, reward_id: int) -> None:
    await conn.execute("UPDATE rewards SET state = 'claimed' WHERE id = $1 AND state = 'claimable'", reward_id)


async def unpaid_ids(conn: Conn, older_than: dt.datetime | None, limit: int = 200) -> list[int]:
    """Rewards recorded (or claimed) whose items did not all land yet: what the sweep completes."""
    rows = await conn.fetch(
        "SELECT id FROM rewards WHERE state IN ('pending', 'claimed') AND granted_at IS NULL "
        "AND ($1::timestamptz IS NULL OR created_at < $1) ORDER BY id LIMIT $2", older_than, limit,
    )  # fmt: skip
    return [r["id"] for r in rows]


async def txn_recorded(conn: Conn, txn_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1", uuid.UUID(txn_id)) is not None


async def xp_of(conn: Conn, user_id: int) -> tuple[str, str]:
    row = await conn.fetchrow("SELECT wealth_xp, charm_xp FROM users WHERE id = $1", user_id)
    return (str(row["wealth_xp"]), str(row["charm_xp"])) if row else ("0", "0")


async def expire_txn(conn: Conn, user_id: int | None = None) -> int:
    """Claimable rewards past their claim_by become expired (of one user, or all)."""
    status = await conn.execute(
        "UPDATE rewards SET state = 'expired' WHERE state = 'claimable' AND claim_by <= now() "
        "AND ($1::bigint IS NULL OR user_id = $1)", user_id,
    )  # fmt: skip
    return int(status.split()[-1])


async def page_of(conn: Conn, user_id: int, state: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM rewards WHERE user_id = $1 AND ($2::text IS NULL OR state = $2)
            AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4""",
        user_id, state, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def frame_category(conn: Conn, item_id: int) -> str | None:
    value = await conn.fetchval("SELECT category FROM mall_items WHERE id = $1", item_id)
    return str(value) if value is not None else None


async def give_item_txn(conn: Conn, user_id: int, item_id: int, category: str, days: int) -> None:
    """Into the mall inventory: a new ownership, or the running one extended by `days` (0: permanent)."""
    await conn.execute(
        """INSERT INTO user_items (user_id, item_id, category, expires_at)
           VALUES ($1, $2, $3, CASE WHEN $4 = 0 THEN NULL ELSE now() + make_interval(days => $4) END)
           ON CONFLICT (user_id, item_id) DO UPDATE SET
               expires_at = CASE WHEN $4 = 0 OR user_items.expires_at IS NULL THEN NULL
                                 ELSE greatest(user_items.expires_at, now()) + make_interval(days => $4) END,
               quantity = user_items.quantity + 1, updated_at = now()""",
        user_id, item_id, category, days,
    )  # fmt: skip


async def daily_login_marked(redis: Redis, keys: Keys, user_id: int, day: str) -> bool:
    return bool(await redis.exists(keys.daily_login(user_id, day)))


async def mark_daily_login(redis: Redis, keys: Keys, user_id: int, day: str, seconds: int) -> None:
    await redis.set(keys.daily_login(user_id, day), 1, ex=seconds)
