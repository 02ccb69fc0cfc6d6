"""Recharge packages, orders and provider events in PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from engine.db import Conn

ORDER_COLUMNS = "id, user_id, package_id, coins, bonus_coins, price_cents, currency, provider, provider_ref, status"
_ON_SALE = "is_active AND (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())"


async def packages_on_sale(conn: Conn, country: str | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT id, name, coins, bonus_coins, price_cents, currency, country FROM recharge_packages
            WHERE {_ON_SALE} AND (country IS NULL OR country = $1) ORDER BY price_cents, id""",
        country,
    )
    return [dict(r) for r in rows]


async def package_on_sale(conn: Conn, package_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT id, coins, bonus_coins, price_cents, currency FROM recharge_packages WHERE id = $1 AND {_ON_SALE}",
        package_id,
    )
    return dict(row) if row else None


async def insert_order(
    conn: Conn, order_id: uuid.UUID, user_id: int, package: dict[str, Any], provider: str, provider_ref: str
) -> dict[str, Any]:
    """A pending order at the package's current price and coins (a later price change does not touch it)."""
    row = await conn.fetchrow(
        f"""INSERT INTO recharge_orders (id, user_id, package_id, coins, bonus_coins, price_cents, currency,
                                         provider, provider_ref)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {ORDER_COLUMNS}""",
        order_id, user_id, package["id"], package["coins"], package["bonus_coins"], package["price_cents"],
        package["currency"], provider, provider_ref,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def get_order(conn: Conn, order_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM recharge_orders WHERE id = $1", order_id)
    return dict(row) if row else None


async def order_owner(conn: Conn, order_ref: str) -> int | None:
    """The buyer of the order whose id reads `order_ref` (any text: not a uuid matches nothing)."""
    owner = await conn.fetchval("SELECT user_id FROM recharge_orders WHERE id::text = $1", order_ref)
    return int(owner) if owner is not None else None


async def user_orders(conn: Conn, user_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {ORDER_COLUMNS}, created_at, updated_at FROM recharge_orders
            WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2""",
        user_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def mark_fulfilled(conn: Conn, order_id: uuid.UUID, txn_id: str) -> None:
    """Paid → fulfilled; the first fulfilment's transaction id is kept."""
    await conn.execute(
        """UPDATE recharge_orders SET status = 'fulfilled', txn_id = coalesce(txn_id, $2::uuid), updated_at = now()
           WHERE id = $1 AND status = 'paid'""",
        order_id, txn_id,
    )  # fmt: skip


async def record_event_txn(conn: Conn, provider: str, event_id: str, kind: str, order_id: uuid.UUID | None) -> bool:
    """Record a provider event; False when that event id was already recorded (a redelivery)."""
    first = await conn.fetchval(
        """INSERT INTO payment_events (provider, event_id, type, order_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING event_id""",
        provider, event_id, kind, order_id,
    )  # fmt: skip
    return first is not None


async def lock_order_txn(conn: Conn, order_id: uuid.UUID | None) -> dict[str, Any] | None:
    """The order, row-locked until the transaction ends (events for one order apply one at a time)."""
    row = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM recharge_orders WHERE id = $1 FOR UPDATE", order_id)
    return dict(row) if row else None


async def set_status_txn(conn: Conn, order_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE recharge_orders SET status = $2, updated_at = now() WHERE id = $1", order_id, status)


async def stuck_paid_orders(conn: Conn, older_than_seconds: int, limit: int = 100) -> list[uuid.UUID]:
    """Orders left `paid` for a while: a crash came between the payment and the credit."""
    rows = await conn.fetch(
        """SELECT id FROM recharge_orders WHERE status = 'paid'
           AND updated_at < now() - make_interval(secs => $1) LIMIT $2""",
        older_than_seconds, limit,
    )  # fmt: skip
    return [r["id"] for r in rows]
