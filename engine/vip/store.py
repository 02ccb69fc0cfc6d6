"""VIP in PostgreSQL: the tiers, the purchase rows (pending → applied | refused) and the users'
VIP columns the rest of the engine reads (`users.vip_level`, `users.vip_expires_at`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from engine.db import Conn
from engine.vip.model import Outcome, Standing

TIER_COLUMNS = "level, name, price_coins, privileges, is_active, updated_at"


async def tiers(conn: Conn) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(f"SELECT {TIER_COLUMNS} FROM vip_tiers ORDER BY level")]


async def tier(conn: Conn, level: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {TIER_COLUMNS} FROM vip_tiers WHERE level = $1", level)
    return dict(row) if row else None


async def prices(conn: Conn) -> dict[int, int]:
    return {
        int(r["level"]): int(r["price_coins"]) for r in await conn.fetch("SELECT level, price_coins FROM vip_tiers")
    }


async def upsert_tier_txn(conn: Conn, level: int, name: str, price: int, privileges: Any, active: bool,
                          actor_id: int) -> dict[str, Any]:  # fmt: skip
    row = await conn.fetchrow(
        f"""INSERT INTO vip_tiers (level, name, price_coins, privileges, is_active, updated_by)
            VALUES ($1, $2, $3, $4::text::jsonb, $5, $6)
            ON CONFLICT (level) DO UPDATE SET name = $2, price_coins = $3, privileges = $4::text::jsonb,
                is_active = $5, updated_by = $6, updated_at = now()
            RETURNING {TIER_COLUMNS}""",
        level, name, price, msgspec.json.encode(privileges).decode(), active, actor_id,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def standing(conn: Conn, user_id: int, *, lock: bool = False) -> Standing | None:
    """The user's stored VIP (row-locked with `lock`: applications to one user queue up); None: no such user."""
    sql = "SELECT vip_level, vip_expires_at FROM users WHERE id = $1"
    row = await conn.fetchrow(sql + " FOR UPDATE" if lock else sql + " AND deleted_at IS NULL", user_id)
    return Standing(int(row["vip_level"]), row["vip_expires_at"]) if row else None


async def set_vip_txn(conn: Conn, user_id: int, outcome: Outcome) -> None:
    await conn.execute("UPDATE users SET vip_level = $2, vip_expires_at = $3 WHERE id = $1",
                       user_id, outcome.level, outcome.expires_at)  # fmt: skip


async def insert_purchase_txn(conn: Conn, *, kind: str, buyer_id: int | None, recipient_id: int, tier: int,
                              months: int, seconds: int, price: int, key: str,
                              told: bool = True) -> dict[str, Any] | None:  # fmt: skip
    """The pending row; None when (buyer, key) has one already (a retry, or its concurrent twin)."""
    row = await conn.fetchrow(
        """INSERT INTO vip_purchases (kind, buyer_id, recipient_id, tier, months, seconds, price_coins,
                                      idempotency_key, txn_id, told)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (coalesce(buyer_id, 0), idempotency_key) DO NOTHING RETURNING *""",
        kind, buyer_id, recipient_id, tier, months, seconds, price, key, uuid.uuid4(), told,
    )  # fmt: skip
    return dict(row) if row else None


async def purchase_by_key(conn: Conn, buyer_id: int | None, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM vip_purchases WHERE coalesce(buyer_id, 0) = coalesce($1::bigint, 0) AND idempotency_key = $2",
        buyer_id, key,
    )  # fmt: skip
    return dict(row) if row else None


async def lock_purchase_txn(conn: Conn, purchase_id: int) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM vip_purchases WHERE id = $1 FOR UPDATE", purchase_id)
    assert row is not None
    return dict(row)


async def mark_applied_txn(conn: Conn, purchase_id: int, before: Standing, outcome: Outcome) -> dict[str, Any]:
    row = await conn.fetchrow(
        """UPDATE vip_purchases SET status = 'applied', refusal = NULL, mode = $2, level_before = $3,
               expires_before = $4, level_after = $5, expires_after = $6, applied_at = clock_timestamp()
           WHERE id = $1 RETURNING *""",
        purchase_id, outcome.mode, before.level, before.expires_at, outcome.level, outcome.expires_at,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def mark_refused(conn: Conn, purchase_id: int, code: str) -> None:
    """Only a pending row: one a concurrent attempt applied stays applied."""
    await conn.execute("UPDATE vip_purchases SET status = 'refused', refusal = $2 WHERE id = $1 AND status = 'pending'",
                       purchase_id, code)  # fmt: skip


async def retry_refused(conn: Conn, purchase_id: int) -> None:
    """A retry with the key of a refused request tries again (its debit was never taken)."""
    await conn.execute(
        "UPDATE vip_purchases SET status = 'pending', refusal = NULL WHERE id = $1 AND status = 'refused'", purchase_id
    )


async def stale_pending(conn: Conn, older_than_seconds: float, limit: int) -> list[dict[str, Any]]:
    """Rows a crash left pending, and refused rows whose debit the ledger has after all (a race)."""
    rows = await conn.fetch(
        """SELECT p.* FROM vip_purchases p
           WHERE p.created_at <= now() - make_interval(secs => $1)
             AND (p.status = 'pending' OR (p.status = 'refused' AND p.price_coins > 0 AND EXISTS (
                  SELECT 1 FROM ledger_transactions t WHERE t.txn_id = p.txn_id)))
           ORDER BY p.created_at LIMIT $2""",
        older_than_seconds, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def txn_recorded(conn: Conn, txn_id: uuid.UUID) -> bool:
    return await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1", txn_id) is not None


async def expire_due_txn(conn: Conn, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """Clear VIP levels whose expiry has passed; each (id, old level) once, whichever process runs it."""
    rows = await conn.fetch(
        """WITH due AS (SELECT id, vip_level FROM users WHERE vip_level > 0 AND vip_expires_at <= $1
                        ORDER BY vip_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           UPDATE users u SET vip_level = 0, vip_expires_at = NULL FROM due WHERE u.id = due.id
           RETURNING u.id, due.vip_level AS old_level""",
        now, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def purchases_of(conn: Conn, user_id: int, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The user's purchases, gifts and grants (bought or received), newest first."""
    rows = await conn.fetch(
        """SELECT * FROM vip_purchases WHERE (recipient_id = $1 OR buyer_id = $1) AND ($2::bigint IS NULL OR id < $2)
           ORDER BY id DESC LIMIT $3""",
        user_id, before_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def claim_untold(conn: Conn, limit: int) -> list[dict[str, Any]]:
    """Applied rows whose holder was not told yet (applied in another domain's transaction), each
    claimed by one process."""
    rows = await conn.fetch(
        """UPDATE vip_purchases SET told = true WHERE id IN (
               SELECT id FROM vip_purchases WHERE NOT told AND status = 'applied' ORDER BY id LIMIT $1
               FOR UPDATE SKIP LOCKED)
           RETURNING id, recipient_id, kind""",
        limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def holders_without_bonus(conn: Conn, now: dt.datetime, day: str, after_id: int,
                                limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Holders of a level in force at `now` with no `vip_daily` reward for business day `day` yet,
    by id from `after_id` (the daily bonus job walks them)."""
    rows = await conn.fetch(
        """SELECT u.id, u.vip_level FROM users u
           WHERE u.vip_level > 0 AND u.vip_expires_at > $1 AND u.id > $3 AND u.deleted_at IS NULL
             AND NOT EXISTS (SELECT 1 FROM rewards r
                             WHERE r.user_id = u.id AND r.source = 'vip_daily' AND r.source_ref = $2)
           ORDER BY u.id LIMIT $4""",
        now, day, after_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
