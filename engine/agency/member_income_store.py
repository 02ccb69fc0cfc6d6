"""The member side of agency income (sql/0021): salary exchange rows, target completions and the
watcher's queue, the admin's targets and agency shares, and the ledger sums a member's month reads
(settlement paid, exchanged this month). Sums of income rows are in income_store.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.agency.income_model import Target
from engine.db import Conn

# --- memberships --------------------------------------------------------------------------------


async def membership_during(conn: Conn, user_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, Any] | None:
    """The user's latest membership that overlaps [start, end), current or ended, with the agency's name."""
    row = await conn.fetchrow(
        """SELECT m.agency_id, m.role, m.joined_at, m.left_at, a.name AS agency_name
           FROM agency_members m JOIN agencies a ON a.id = m.agency_id
           WHERE m.user_id = $1 AND m.joined_at < $3 AND (m.left_at IS NULL OR m.left_at > $2)
           ORDER BY m.joined_at DESC LIMIT 1""",
        user_id, start, end,
    )  # fmt: skip
    return dict(row) if row else None


async def current_membership(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT m.agency_id, m.role, m.joined_at, m.left_at, a.name AS agency_name
           FROM agency_members m JOIN agencies a ON a.id = m.agency_id
           WHERE m.user_id = $1 AND m.left_at IS NULL""",
        user_id,
    )  # fmt: skip
    return dict(row) if row else None


# --- ledger sums --------------------------------------------------------------------------------


async def settlement_paid(conn: Conn, user_id: int, agency_id: int, month: str) -> tuple[bool, int]:
    """Whether the month is settled for this member — its run closed, or the run reached them (their
    `month_end` row; a leaver's settlement pays the month so far and does not close it) — and the
    USD cents the settlement transactions for (agency, member, month) credited them in all."""
    row = await conn.fetchrow(
        """SELECT EXISTS (SELECT 1 FROM agency_settlement_runs r WHERE r.month = $3 AND r.state = 'closed')
                  OR EXISTS (SELECT 1 FROM agency_settlements s WHERE s.month = $3 AND s.agency_id = $2
                                AND s.user_id = $1 AND s.kind = 'month_end') AS settled,
                  (SELECT coalesce(sum(e.amount), 0)::bigint
                     FROM ledger_transactions t JOIN ledger_entries e USING (txn_id)
                    WHERE t.kind = 'agency_settlement' AND t.ref_type = 'agency_month' AND t.ref_id = $4
                      AND t.metadata ->> 'agency_id' = $5 AND t.metadata ->> 'user_id' = $6
                      AND e.account_type = 'user' AND e.account_id = $1 AND e.currency = 'usd_cents') AS paid""",
        user_id, agency_id, dt.date.fromisoformat(f"{month}-01"), month, str(agency_id), str(user_id),
    )  # fmt: skip
    assert row is not None
    return bool(row["settled"]), int(row["paid"])


async def exchanged_cents(conn: Conn, user_id: int, start: dt.datetime, end: dt.datetime) -> int:
    """USD cents the user's salary exchanges took from their salary in [start, end): the user legs
    of `salary_exchange` transactions (only the hold step has one in usd_cents)."""
    total = await conn.fetchval(
        """SELECT coalesce(-sum(e.amount), 0)::bigint FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
           WHERE t.kind = 'salary_exchange' AND e.account_type = 'user' AND e.account_id = $1
             AND e.currency = 'usd_cents' AND e.created_at >= $2 AND e.created_at < $3""",
        user_id, start, end,
    )  # fmt: skip
    return int(total)


async def txn_recorded(conn: Conn, txn_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM ledger_transactions WHERE txn_id = $1", txn_id) is not None


# --- salary exchanges ---------------------------------------------------------------------------


async def insert_exchange_txn(conn: Conn, user_id: int, key: str, usd_cents: int, coins: int,
                              coins_per_usd: int) -> dict[str, Any] | None:  # fmt: skip
    """A new exchange row; None when (user, key) has one already (a replay: read it with `exchange_by_key`
    once this transaction ends — a concurrent twin's insert waits for the first to commit)."""
    row = await conn.fetchrow(
        """INSERT INTO salary_exchanges (user_id, idempotency_key, usd_cents, coins, coins_per_usd)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING *""",
        user_id, key, usd_cents, coins, coins_per_usd,
    )  # fmt: skip
    return dict(row) if row else None


async def exchange_by_key(conn: Conn, user_id: int, key: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM salary_exchanges WHERE user_id = $1 AND idempotency_key = $2",
                              user_id, key)  # fmt: skip
    return dict(row) if row else None


async def mark_credited(conn: Conn, exchange_id: int) -> dict[str, Any]:
    row = await conn.fetchrow(
        """UPDATE salary_exchanges SET status = 'credited', credited_at = coalesce(credited_at, now())
           WHERE id = $1 RETURNING *""",
        exchange_id,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def stale_held(conn: Conn, older_than_seconds: float, limit: int) -> list[dict[str, Any]]:
    """Exchanges still `held` after `older_than_seconds` (their request died between the two steps)."""
    rows = await conn.fetch(
        """SELECT * FROM salary_exchanges WHERE status = 'held'
             AND created_at <= now() - make_interval(secs => $1) ORDER BY created_at LIMIT $2""",
        older_than_seconds, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- targets and agency shares ------------------------------------------------------------------


async def replace_targets_txn(conn: Conn, targets: list[tuple[int, int, int]], actor_id: int) -> None:
    """Make `targets` ((coins, reward_usd_cents, valid_hours), …) the active set. A level kept keeps
    its id (completions point at it); levels dropped are deactivated, never deleted."""
    await conn.execute("LOCK TABLE agency_income_targets IN SHARE ROW EXCLUSIVE MODE")  # two replacements in turn
    await conn.executemany(
        """INSERT INTO agency_income_targets (coins, reward_usd_cents, valid_hours, is_active, updated_by)
           VALUES ($1, $2, $3, true, $4)
           ON CONFLICT (coins) DO UPDATE SET reward_usd_cents = EXCLUDED.reward_usd_cents,
               valid_hours = EXCLUDED.valid_hours, is_active = true, updated_at = now(), updated_by = $4""",
        [(coins, reward, hours, actor_id) for coins, reward, hours in targets],
    )  # fmt: skip
    await conn.execute(
        """UPDATE agency_income_targets SET is_active = false, updated_at = now(), updated_by = $2
           WHERE is_active AND NOT coins = ANY($1::bigint[])""",
        [coins for coins, _, _ in targets], actor_id,
    )  # fmt: skip


async def set_share_txn(conn: Conn, agency_id: int, share_bps: int | None) -> dict[str, Any] | None:
    row = await conn.fetchrow("UPDATE agencies SET share_bps = $2, updated_at = now() WHERE id = $1 "
                              "RETURNING id, name, share_bps", agency_id, share_bps)  # fmt: skip
    return dict(row) if row else None


# --- target completions -------------------------------------------------------------------------


async def claim_pending_txn(conn: Conn, batch: int) -> list[dict[str, Any]]:
    """Take up to `batch` queued income rows (those another process holds are skipped) and answer
    which (agency, member, instant) they concern. The caller's transaction decides: on rollback they
    are queued again."""
    rows = await conn.fetch(
        """WITH claimed AS (SELECT event_id FROM agency_income_pending ORDER BY event_id LIMIT $1
                            FOR UPDATE SKIP LOCKED),
                gone AS (DELETE FROM agency_income_pending p USING claimed c WHERE p.event_id = c.event_id
                         RETURNING p.event_id)
           SELECT e.agency_id, e.user_id, e.happened_at
           FROM gone JOIN agency_income_events e ON e.id = gone.event_id""",
        batch,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def insert_completion_txn(conn: Conn, month: str, agency_id: int, user_id: int, target: Target,
                                coins: int) -> bool:  # fmt: skip
    """Record that the member crossed `target` in the month; False when that was recorded already."""
    inserted = await conn.fetchval(
        """INSERT INTO agency_target_completions
               (month, agency_id, user_id, target_id, target_coins, reward_usd_cents, valid_hours, coins)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (month, agency_id, user_id, target_id) DO NOTHING RETURNING id""",
        month, agency_id, user_id, target.id, target.coins, target.reward_usd_cents, target.valid_hours, coins,
    )  # fmt: skip
    return inserted is not None
