"""`ranking_rewards` (sql/0028), the staff's side: listing and replacing a board's period table. The
period-end snapshot reads it through rankings_store.reward_table."""

from __future__ import annotations

from typing import Any

from engine.db import Conn
from engine.progression.ranking_rewards_model import Tier

_COLUMNS = "id, board, period, rank_from, rank_to, coins"


async def page(conn: Conn, board: str | None, period: str | None, after: tuple[str, str, int, int] | None,
               limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Active tiers in (board, period, rank_from, id) order after the cursor."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM ranking_rewards
            WHERE is_active AND ($1::text IS NULL OR board = $1) AND ($2::text IS NULL OR period = $2)
              AND ($3::text IS NULL OR (board, period, rank_from, id) > ($3, $4::text, $5::int, $6::int))
            ORDER BY board, period, rank_from, id LIMIT $7""",
        board, period, *(after or (None, None, None, None)), limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def table_txn(conn: Conn, board: str, period: str) -> list[dict[str, Any]]:
    """The board's period table, after `lock_txn`: what an edit replaces."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM ranking_rewards WHERE board = $1 AND period = $2 AND is_active
            ORDER BY rank_from, id""",
        board, period,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def lock_txn(conn: Conn, board: str, period: str) -> None:
    """Serialise edits of one table (a delete-and-insert would otherwise interleave with another's)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('ranking_rewards:' || $1 || ':' || $2))", board, period)


async def replace_txn(conn: Conn, board: str, period: str, tiers: list[Tier]) -> list[dict[str, Any]]:
    """Put this table in place of the board's period table (inactive rows of it too); the new rows."""
    await conn.execute("DELETE FROM ranking_rewards WHERE board = $1 AND period = $2", board, period)
    rows = await conn.fetch(
        f"""INSERT INTO ranking_rewards (board, period, rank_from, rank_to, coins)
            SELECT $1, $2, f, t, c FROM unnest($3::int[], $4::int[], $5::bigint[]) AS x (f, t, c)
            RETURNING {_COLUMNS}""",
        board, period, [t.rank_from for t in tiers], [t.rank_to for t in tiers], [t.coins for t in tiers],
    )  # fmt: skip
    return sorted((dict(r) for r in rows), key=lambda r: (r["rank_from"], r["id"]))
