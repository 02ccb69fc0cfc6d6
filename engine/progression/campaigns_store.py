"""Campaigns' PostgreSQL side (sql/0031_campaigns.sql): the campaigns, their progress (written by the
gift ledger's trigger), the budget reservation and the standings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn

COLUMNS = ("id, code, title, description, starts_at, ends_at, rule, prizes, budget_coins, spent_coins, state, "
           "created_by, created_at, updated_at, closed_at")  # fmt: skip
EDITABLE = ("title", "description", "starts_at", "ends_at", "rule", "prizes", "budget_coins", "state")
PROGRESS = "gift_count, coins, last_gift_at, qualified_at, rank, reward_id, outcome, decided_at"
# The standings' order per rule kind: qualifiers first come first served (gift_count); coins, then
# who reached them first (top_senders). The close ranks winners in the same order.
ORDER = {
    "gift_count": "p.qualified_at ASC NULLS LAST, p.gift_count DESC, p.last_gift_at, p.user_id",
    "top_senders": "p.coins DESC, p.last_gift_at, p.user_id",
}


async def insert(conn: Conn, values: dict[str, Any]) -> dict[str, Any] | None:
    """The new campaign, or None when its code is taken."""
    row = await conn.fetchrow(
        f"""INSERT INTO campaigns (code, title, description, starts_at, ends_at, rule, prizes, budget_coins, state,
                                   created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (code) DO NOTHING RETURNING {COLUMNS}""",
        values["code"], values["title"], values["description"], values["starts_at"], values["ends_at"],
        values["rule"], values["prizes"], values["budget_coins"], values["state"], values["created_by"],
    )  # fmt: skip
    return dict(row) if row else None


async def get(conn: Conn, campaign_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM campaigns WHERE id = $1", campaign_id)
    return dict(row) if row else None


async def lock_txn(conn: Conn, campaign_id: int, states: tuple[str, ...] | None = None) -> dict[str, Any] | None:
    """The campaign, locked until the transaction ends (None: none, or not in one of `states`)."""
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND ($2::text[] IS NULL OR state = ANY($2)) FOR UPDATE",
        campaign_id, list(states) if states else None,
    )  # fmt: skip
    return dict(row) if row else None


async def update_txn(conn: Conn, campaign_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    assert changes and all(col in EDITABLE for col in changes)
    sets = [f"{col} = ${i + 2}" for i, col in enumerate(changes)]
    row = await conn.fetchrow(
        f"UPDATE campaigns SET {', '.join([*sets, 'updated_at = now()'])} WHERE id = $1 RETURNING {COLUMNS}",
        campaign_id, *changes.values(),
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def admin_page(conn: Conn, state: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Every campaign (of a state), newest first."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM campaigns WHERE ($1::text IS NULL OR state = $1)
              AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        state, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def public_page(conn: Conn, now: dt.datetime, after: tuple[dt.datetime, int] | None,
                      limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Running and upcoming campaigns (active, not yet ended), soonest start first."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM campaigns WHERE state = 'active' AND ends_at > $1
              AND ($2::timestamptz IS NULL OR (starts_at, id) > ($2, $3::bigint))
            ORDER BY starts_at, id LIMIT $4""",
        now, after[0] if after else None, after[1] if after else None, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def existing(conn: Conn, frames: list[int], badges: list[int]) -> tuple[set[int], set[int]]:
    """Which of these mall items and badges exist."""
    f = await conn.fetch("SELECT id FROM mall_items WHERE id = ANY($1::bigint[])", frames) if frames else []
    b = await conn.fetch("SELECT id FROM badges WHERE id = ANY($1::bigint[])", badges) if badges else []
    return {r["id"] for r in f}, {r["id"] for r in b}


# --- progress and standings ----------------------------------------------------------------------


async def progress_of(conn: Conn, campaign_id: int, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {PROGRESS} FROM campaign_progress WHERE campaign_id = $1 AND user_id = $2", campaign_id, user_id
    )
    return dict(row) if row else None


async def standings(conn: Conn, campaign_id: int, kind: str, after: int, limit: int) -> list[dict[str, Any]]:
    """The campaign's participants in standings order from position `after` + 1, with who they are
    and the reward they got. Positions are counted over the whole campaign (a window over its rows)."""
    rows = await conn.fetch(
        f"""WITH s AS (SELECT p.*, row_number() OVER (ORDER BY {ORDER[kind]}) AS pos
                       FROM campaign_progress p WHERE p.campaign_id = $1)
            SELECT s.pos, s.user_id, s.gift_count, s.coins, s.qualified_at, s.rank, s.outcome, s.reward_id,
                   u.name, u.avatar_image AS avatar_url, r.state AS reward_state, r.items AS reward_items
            FROM s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN rewards r ON r.id = s.reward_id
            WHERE s.pos > $2 ORDER BY s.pos LIMIT $3""",
        campaign_id, after, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def winners_txn(conn: Conn, campaign_id: int, top: int, min_coins: int) -> list[dict[str, Any]]:
    """A top_senders campaign's top `top` senders with at least `min_coins`, best first."""
    rows = await conn.fetch(
        f"""SELECT p.user_id, p.coins, (u.id IS NOT NULL AND u.deleted_at IS NULL) AS live
            FROM campaign_progress p LEFT JOIN users u ON u.id = p.user_id
            WHERE p.campaign_id = $1 AND p.coins >= $2 ORDER BY {ORDER["top_senders"]} LIMIT $3""",
        campaign_id, min_coins, top,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def participant_ids(conn: Conn, campaign_id: int) -> list[int]:
    rows = await conn.fetch("SELECT user_id FROM campaign_progress WHERE campaign_id = $1", campaign_id)
    return [r["user_id"] for r in rows]


# --- paying ----------------------------------------------------------------------------------------


async def campaigns_to_pay(conn: Conn) -> list[int]:
    """Campaigns (active or closed, not cancelled) with gift_count qualifiers not yet decided."""
    rows = await conn.fetch(
        """SELECT DISTINCT p.campaign_id FROM campaign_progress p JOIN campaigns c ON c.id = p.campaign_id
           WHERE p.qualified_at IS NOT NULL AND p.outcome IS NULL AND c.state IN ('active', 'closed')
           ORDER BY 1"""
    )
    return [r["campaign_id"] for r in rows]


async def claim_qualifiers_txn(conn: Conn, campaign_id: int, limit: int) -> list[dict[str, Any]]:
    """Undecided qualifiers in qualification order, locked (rows a flush is adding to right now are
    skipped: the next pass takes them)."""
    rows = await conn.fetch(
        """SELECT p.user_id, p.qualified_at, (u.id IS NOT NULL AND u.deleted_at IS NULL) AS live
           FROM campaign_progress p LEFT JOIN users u ON u.id = p.user_id
           WHERE p.campaign_id = $1 AND p.qualified_at IS NOT NULL AND p.outcome IS NULL
           ORDER BY p.qualified_at, p.user_id LIMIT $2 FOR UPDATE OF p SKIP LOCKED""",
        campaign_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def reserve_txn(conn: Conn, campaign_id: int, coins: int) -> int | None:
    """Take `coins` from the budget, or None when that would overspend it. Concurrent reservations
    wait on the row lock and each re-checks the condition on the row the one before committed: the
    budget is never exceeded (the table's CHECK is the backstop)."""
    spent: int | None = await conn.fetchval(
        """UPDATE campaigns SET spent_coins = spent_coins + $2
           WHERE id = $1 AND spent_coins + $2 <= budget_coins RETURNING spent_coins""",
        campaign_id, coins,
    )  # fmt: skip
    return spent


async def decide_txn(conn: Conn, campaign_id: int, user_id: int, outcome: str, reward_id: int | None,
                     rank: int | None) -> None:  # fmt: skip
    await conn.execute(
        """UPDATE campaign_progress SET outcome = $3, reward_id = $4, rank = coalesce($5, rank), decided_at = now()
           WHERE campaign_id = $1 AND user_id = $2""",
        campaign_id, user_id, outcome, reward_id, rank,
    )  # fmt: skip


async def requeue_exhausted_txn(conn: Conn, campaign_id: int) -> None:
    """Qualifiers the budget refused are undecided again (the budget was raised): the watcher takes
    them in qualification order, as the first time."""
    await conn.execute(
        "UPDATE campaign_progress SET outcome = NULL, decided_at = NULL "
        "WHERE campaign_id = $1 AND outcome = 'budget_exhausted' AND qualified_at IS NOT NULL", campaign_id,
    )  # fmt: skip


async def reward_id_of(conn: Conn, user_id: int, source_ref: str) -> int | None:
    """The reward already recorded for this campaign prize (a duplicate's)."""
    found: int | None = await conn.fetchval(
        "SELECT id FROM rewards WHERE user_id = $1 AND source = 'campaign' AND source_ref = $2", user_id, source_ref
    )
    return found


# --- closing ---------------------------------------------------------------------------------------


async def due_to_close(conn: Conn, now: dt.datetime, grace: dt.timedelta) -> list[int]:
    rows = await conn.fetch(
        "SELECT id FROM campaigns WHERE state = 'active' AND ends_at <= $1 ORDER BY id", now - grace
    )
    return [r["id"] for r in rows]


async def close_txn(conn: Conn, campaign_id: int) -> int:
    """Mark it closed; the coins its prizes took."""
    spent: int = await conn.fetchval(
        "UPDATE campaigns SET state = 'closed', closed_at = now(), updated_at = now() WHERE id = $1 "
        "RETURNING spent_coins", campaign_id,
    )  # fmt: skip
    return spent
