"""Agency income reads (issue 13 §3): sums of `agency_income_events` (sql/0020) per business day
and month, and the targets. The only I/O of the income model; every query takes the month's
[start, end) instants and the business time zone (a PostgreSQL zone name, the same IANA names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.agency.income_model import Target
from engine.db import Conn


async def targets(conn: Conn) -> list[Target]:
    """The active targets, lowest first."""
    rows = await conn.fetch(
        "SELECT id, coins, reward_usd_cents, valid_hours FROM agency_income_targets WHERE is_active ORDER BY coins"
    )
    return [Target(r["id"], int(r["coins"]), int(r["reward_usd_cents"]), r["valid_hours"]) for r in rows]


async def member_days(
    conn: Conn, agency_id: int, user_id: int, start: dt.datetime, end: dt.datetime, tz: str
) -> list[dict[str, Any]]:
    """One member's income in one agency per business day with any (oldest first): the daily table."""
    rows = await conn.fetch(
        """SELECT (happened_at AT TIME ZONE $5)::date AS day, sum(coins)::bigint AS coins,
                  sum(commission)::bigint AS commission, sum(diamonds)::bigint AS diamonds,
                  sum(mic_ms)::bigint AS mic_ms
           FROM agency_income_events
           WHERE agency_id = $1 AND user_id = $2 AND happened_at >= $3 AND happened_at < $4
           GROUP BY 1 ORDER BY 1""",
        agency_id, user_id, start, end, tz,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def member_totals(
    conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime, tz: str, cap_seconds: int,
    user_ids: list[int] | None = None,
) -> dict[int, dict[str, int]]:  # fmt: skip
    """Per member of one agency (or only `user_ids`), the month's sums: coins, commission, diamonds,
    mic_ms and valid_seconds (each business day's mic time capped at `cap_seconds`)."""
    rows = await conn.fetch(
        """SELECT user_id, sum(coins)::bigint AS coins, sum(commission)::bigint AS commission,
                  sum(diamonds)::bigint AS diamonds, sum(mic_ms)::bigint AS mic_ms,
                  sum(least(mic_ms / 1000, $5))::bigint AS valid_seconds
           FROM (SELECT user_id, (happened_at AT TIME ZONE $4)::date AS day, sum(coins) AS coins,
                        sum(commission) AS commission, sum(diamonds) AS diamonds,
                        sum(mic_ms)::bigint AS mic_ms  -- bigint: mic_ms / 1000 must divide whole seconds
                 FROM agency_income_events
                 WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3
                   AND ($6::bigint[] IS NULL OR user_id = ANY($6))
                 GROUP BY 1, 2) AS days
           GROUP BY user_id""",
        agency_id, start, end, tz, cap_seconds, user_ids,
    )  # fmt: skip
    return {r["user_id"]: {k: int(r[k]) for k in ("coins", "commission", "diamonds", "mic_ms", "valid_seconds")}
            for r in rows}  # fmt: skip


async def agency_coins(conn: Conn, agency_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """The coins every member of the agency earned in [start, end) (the main page's Total Coins)."""
    total = await conn.fetchval(
        """SELECT coalesce(sum(coins), 0) FROM agency_income_events
           WHERE agency_id = $1 AND happened_at >= $2 AND happened_at < $3""",
        agency_id, start, end,
    )  # fmt: skip
    return int(total)


async def commission_drift(conn: Conn) -> list[dict[str, Any]]:
    """Agencies whose income rows' commission differs from their ledger gift legs (at most 20):
    `flylive reconcile` reports them (both are written by the same flush, so any is a bug)."""
    rows = await conn.fetch(
        """WITH income AS (SELECT agency_id, sum(commission) AS total FROM agency_income_events
                           WHERE kind = 'gift' GROUP BY 1),
                ledger AS (SELECT e.account_id AS agency_id, sum(e.amount) AS total
                           FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
                           WHERE e.account_type = 'agency' AND e.currency = 'coins' AND t.kind = 'gift'
                           GROUP BY 1)
           SELECT agency_id, coalesce(i.total, 0) AS income, coalesce(l.total, 0) AS ledger
           FROM income i FULL JOIN ledger l USING (agency_id)
           WHERE coalesce(i.total, 0) <> coalesce(l.total, 0) LIMIT 20"""
    )
    return [dict(r) for r in rows]
