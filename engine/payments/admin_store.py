"""The finance dashboard's reads of recharge orders (issue 15 §4): the order list and revenue by
day, country and package. Revenue counts orders that were credited (`fulfilled`); a refunded order
is not revenue."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from engine.db import Conn

STATUSES = ("pending", "paid", "fulfilled", "failed", "refunded")


async def orders_page(conn: Conn, status: str | None, user_id: int | None, before: dt.datetime | None,
                      limit: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = await conn.fetch(
        """SELECT o.id, o.user_id, u.name AS user_name, u.country, o.package_id, p.name AS package_name, o.coins,
                  o.bonus_coins, o.price_cents, o.currency, o.provider, o.status, o.txn_id, o.created_at, o.updated_at
           FROM recharge_orders o LEFT JOIN users u ON u.id = o.user_id
           LEFT JOIN recharge_packages p ON p.id = o.package_id
           WHERE ($1::text IS NULL OR o.status = $1) AND ($2::bigint IS NULL OR o.user_id = $2)
             AND ($3::timestamptz IS NULL OR o.created_at < $3)
           ORDER BY o.created_at DESC, o.id LIMIT $4""",
        status, user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def status_counts(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM recharge_orders GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


async def order_status(conn: Conn, order_id: uuid.UUID) -> str | None:
    status: str | None = await conn.fetchval("SELECT status FROM recharge_orders WHERE id = $1", order_id)
    return status


async def revenue_by_day(conn: Conn, since: dt.date, currency: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT (created_at AT TIME ZONE 'UTC')::date AS day, sum(price_cents) AS cents, count(*) AS orders
           FROM recharge_orders WHERE status = 'fulfilled' AND currency = $2
             AND created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
           GROUP BY 1 ORDER BY 1""",
        since, currency,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def revenue_by_country(conn: Conn, since: dt.date, currency: str, limit: int = 12) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT coalesce(upper(u.country), '—') AS label, sum(o.price_cents) AS cents, count(*) AS orders
           FROM recharge_orders o LEFT JOIN users u ON u.id = o.user_id
           WHERE o.status = 'fulfilled' AND o.currency = $2
             AND o.created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3""",
        since, currency, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def revenue_by_package(conn: Conn, since: dt.date, currency: str, limit: int = 12) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT coalesce(p.name, '#' || o.package_id) AS label, sum(o.price_cents) AS cents, count(*) AS orders
           FROM recharge_orders o LEFT JOIN recharge_packages p ON p.id = o.package_id
           WHERE o.status = 'fulfilled' AND o.currency = $2
             AND o.created_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $3""",
        since, currency, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]
