"""PostgreSQL access of the month-end settlement (sql/0022): the run marker of a month, the
members' and agencies' settlement rows, the locks that keep two settlements of the same thing
apart, and the ledger reads the payments depend on (advances drawn, a transaction recorded)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn

# --- locks ------------------------------------------------------------------------------------------


async def try_lock_month_txn(conn: Conn, month: dt.date) -> bool:
    """The month's run lock, held until the caller's transaction ends (False: another process holds
    it). A transaction-level lock rather than a session one: behind PgBouncer in transaction mode a
    session lock could land on another server connection, an open transaction cannot."""
    locked = await conn.fetchval(
        "SELECT pg_try_advisory_xact_lock(hashtextextended('agency_settlement_month:' || $1::date::text, 0))", month
    )
    return bool(locked)


async def lock_member_txn(conn: Conn, month: dt.date, agency_id: int, user_id: int) -> None:
    """Serialise the settlements of one (month, agency, member): a leaver's and the month end's."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(
               hashtextextended('agency_settlement:' || $1::date::text || ':' || $2 || ':' || $3, 0))""",
        month, str(agency_id), str(user_id),
    )  # fmt: skip


# --- runs -------------------------------------------------------------------------------------------


async def run(conn: Conn, month: dt.date) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM agency_settlement_runs WHERE month = $1", month)
    return dict(row) if row else None


async def start_run_txn(conn: Conn, month: dt.date) -> dict[str, Any]:
    """The month's run marker, created `running` or taken up again (one more attempt)."""
    row = await conn.fetchrow(
        """INSERT INTO agency_settlement_runs (month) VALUES ($1)
           ON CONFLICT (month) DO UPDATE SET attempts = agency_settlement_runs.attempts + 1
               WHERE agency_settlement_runs.state = 'running'
           RETURNING *""",
        month,
    )
    if row is None:  # closed: not taken up again
        row = await conn.fetchrow("SELECT * FROM agency_settlement_runs WHERE month = $1", month)
    assert row is not None
    return dict(row)


async def close_run_txn(conn: Conn, month: dt.date) -> dict[str, Any]:
    """Close the month with its totals (every member and agency row of it)."""
    row = await conn.fetchrow(
        """WITH m AS (SELECT count(DISTINCT (agency_id, user_id))::int AS members,
                             coalesce(sum(reward_usd_cents), 0)::bigint AS usd_cents,
                             coalesce(sum(iecp_diamonds), 0)::bigint AS diamonds
                      FROM agency_settlements WHERE month = $1),
                a AS (SELECT count(*)::int AS agencies, coalesce(sum(paid_usd_cents), 0)::bigint AS agency_usd_cents
                      FROM agency_share_settlements WHERE month = $1)
           UPDATE agency_settlement_runs r
           SET state = 'closed', closed_at = now(), members = m.members, usd_cents = m.usd_cents,
               diamonds = m.diamonds, agencies = a.agencies, agency_usd_cents = a.agency_usd_cents
           FROM m, a WHERE r.month = $1 RETURNING r.*""",
        month,
    )
    assert row is not None
    return dict(row)


async def runs_page(conn: Conn, month: dt.date | None, before: dt.date | None, limit: int) -> list[dict[str, Any]]:
    """The runs, newest month first; a run still `running` shows what its rows paid so far."""
    rows = await conn.fetch(
        """SELECT r.month, r.state, r.attempts, r.started_at, r.closed_at,
                  CASE WHEN r.state = 'closed' THEN r.members ELSE m.members END AS members,
                  CASE WHEN r.state = 'closed' THEN r.usd_cents ELSE m.usd_cents END AS usd_cents,
                  CASE WHEN r.state = 'closed' THEN r.diamonds ELSE m.diamonds END AS diamonds,
                  CASE WHEN r.state = 'closed' THEN r.agencies ELSE a.agencies END AS agencies,
                  CASE WHEN r.state = 'closed' THEN r.agency_usd_cents ELSE a.agency_usd_cents END AS agency_usd_cents
           FROM agency_settlement_runs r
           CROSS JOIN LATERAL (
               SELECT count(DISTINCT (agency_id, user_id))::int AS members,
                      coalesce(sum(reward_usd_cents), 0)::bigint AS usd_cents,
                      coalesce(sum(iecp_diamonds), 0)::bigint AS diamonds
               FROM agency_settlements s WHERE s.month = r.month AND r.state = 'running') m
           CROSS JOIN LATERAL (
               SELECT count(*)::int AS agencies, coalesce(sum(paid_usd_cents), 0)::bigint AS agency_usd_cents
               FROM agency_share_settlements h WHERE h.month = r.month AND r.state = 'running') a
           WHERE ($1::date IS NULL OR r.month = $1) AND ($2::date IS NULL OR r.month < $2)
           ORDER BY r.month DESC LIMIT $3""",
        month, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def unclosed_before(conn: Conn, month: dt.date) -> list[dt.date]:
    """Months before `month` with a run that never closed (a run killed half way)."""
    rows = await conn.fetch("SELECT month FROM agency_settlement_runs WHERE state = 'running' AND month < $1 "
                            "ORDER BY month", month)  # fmt: skip
    return [r["month"] for r in rows]


async def latest_run_month(conn: Conn) -> dt.date | None:
    value = await conn.fetchval("SELECT max(month) FROM agency_settlement_runs")
    return value if isinstance(value, dt.date) else None


# --- who earned what --------------------------------------------------------------------------------


async def earners(conn: Conn, start: dt.datetime, end: dt.datetime) -> list[tuple[int, int]]:
    """Every (agency, member) with income in [start, end), members who left since included."""
    rows = await conn.fetch(
        """SELECT DISTINCT agency_id, user_id FROM agency_income_events
           WHERE happened_at >= $1 AND happened_at < $2 ORDER BY agency_id, user_id""",
        start, end,
    )  # fmt: skip
    return [(int(r["agency_id"]), int(r["user_id"])) for r in rows]


async def agency_share_bps(conn: Conn, agency_id: int) -> int | None:
    value = await conn.fetchval("SELECT share_bps FROM agencies WHERE id = $1", agency_id)
    return int(value) if value is not None else None


async def ended_membership(conn: Conn, membership_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT id, agency_id, user_id, joined_at, left_at FROM agency_members WHERE id = $1",
                              membership_id)  # fmt: skip
    return dict(row) if row else None


async def last_ended_membership(conn: Conn, agency_id: int, user_id: int) -> int | None:
    """The id of the user's membership of the agency that ended last (the one a leave just ended)."""
    value = await conn.fetchval(
        """SELECT id FROM agency_members WHERE agency_id = $1 AND user_id = $2 AND left_at IS NOT NULL
           ORDER BY left_at DESC, id DESC LIMIT 1""",
        agency_id, user_id,
    )  # fmt: skip
    return int(value) if value is not None else None


# --- member rows ------------------------------------------------------------------------------------


async def month_end_row(conn: Conn, month: dt.date, agency_id: int, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM agency_settlements WHERE month = $1 AND agency_id = $2 AND user_id = $3 AND kind = 'month_end'",
        month, agency_id, user_id,
    )  # fmt: skip
    return dict(row) if row else None


async def leaver_row(conn: Conn, membership_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM agency_settlements WHERE membership_id = $1", membership_id)
    return dict(row) if row else None


async def paid_so_far(conn: Conn, month: dt.date, agency_id: int, user_id: int) -> tuple[int, int]:
    """USD cents and diamonds the earlier rows of this (month, agency, member) paid."""
    row = await conn.fetchrow(
        """SELECT coalesce(sum(reward_usd_cents), 0)::bigint AS usd, coalesce(sum(iecp_diamonds), 0)::bigint AS d
           FROM agency_settlements WHERE month = $1 AND agency_id = $2 AND user_id = $3""",
        month, agency_id, user_id,
    )  # fmt: skip
    assert row is not None
    return int(row["usd"]), int(row["d"])


async def insert_member_row_txn(conn: Conn, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The row (None when its unique constraint says it exists already)."""
    columns = list(fields)
    row = await conn.fetchrow(
        f"""INSERT INTO agency_settlements ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))})
            ON CONFLICT DO NOTHING RETURNING *""",
        *fields.values(),
    )
    return dict(row) if row else None


async def mark_iecp_done(conn: Conn, row_id: int) -> None:
    await conn.execute(
        """UPDATE agency_settlements SET iecp_state = 'done', iecp_done_at = now()
           WHERE id = $1 AND iecp_state = 'pending'""",
        row_id,
    )


async def pending_iecp(conn: Conn, month: dt.date | None, older_than: dt.datetime | None) -> list[dict[str, Any]]:
    """Rows whose diamond credit may not have been applied: of one month, or of any month made
    before `older_than`."""
    rows = await conn.fetch(
        """SELECT * FROM agency_settlements WHERE iecp_state = 'pending'
           AND ($1::date IS NULL OR month = $1) AND ($2::timestamptz IS NULL OR created_at < $2) ORDER BY id""",
        month, older_than,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def txn_recorded(conn: Conn, txn_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1", txn_id) is not None


async def member_rows_page(conn: Conn, agency_id: int, month: dt.date | None, before: int | None,
                           limit: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = await conn.fetch(
        """SELECT s.*, u.name AS user_name, u.avatar_image AS user_avatar
           FROM agency_settlements s JOIN users u ON u.id = s.user_id
           WHERE s.agency_id = $1 AND ($2::date IS NULL OR s.month = $2) AND ($3::bigint IS NULL OR s.id < $3)
           ORDER BY s.id DESC LIMIT $4""",
        agency_id, month, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- agency rows ------------------------------------------------------------------------------------


async def advances(conn: Conn, agency_id: int, month_text: str) -> int:
    """The USD cents the agency drew as salary advances on this month (`agency_salary_advance`)."""
    total = await conn.fetchval(
        """SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
           WHERE t.kind = 'agency_salary_advance' AND t.ref_type = 'agency_month' AND t.ref_id = $2
             AND e.account_type = 'agency' AND e.account_id = $1 AND e.currency = 'usd_cents'""",
        agency_id, month_text,
    )  # fmt: skip
    return int(total)


async def share_row(conn: Conn, month: dt.date, agency_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM agency_share_settlements WHERE month = $1 AND agency_id = $2",
                              month, agency_id)  # fmt: skip
    return dict(row) if row else None


async def insert_share_row_txn(conn: Conn, fields: dict[str, Any]) -> bool:
    columns = list(fields)
    inserted = await conn.fetchval(
        f"""INSERT INTO agency_share_settlements ({", ".join(columns)})
            VALUES ({", ".join(f"${i + 1}" for i in range(len(columns)))})
            ON CONFLICT DO NOTHING RETURNING 1""",
        *fields.values(),
    )
    return inserted is not None


async def lock_share_txn(conn: Conn, month: dt.date, agency_id: int) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('agency_share:' || $1::date::text || ':' || $2, 0))",
        month, str(agency_id),
    )  # fmt: skip
