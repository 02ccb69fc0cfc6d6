"""What a closed ranking period pays (`ranking_rewards`, sql/0028): the staff's table per board and
period, its checks and the shapes the API shows (docs/progression.md "Rankings"). Pure: no I/O."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

Board = Literal["wealth", "charm", "room", "agency"]
ClosingPeriod = Literal["daily", "weekly", "monthly"]
Rank = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
TIERS_MAX = 100


class Tier(msgspec.Struct, forbid_unknown_fields=True):
    """Ranks `rank_from`..`rank_to` (inclusive) of the period each get `coins` (through the reward ledger;
    a room's or an agency's go to its owner)."""

    rank_from: Rank
    rank_to: Rank
    coins: Annotated[int, msgspec.Meta(ge=1, le=10**12)]


class RewardsBody(msgspec.Struct, forbid_unknown_fields=True):
    """The whole table of one board and period; [] pays nothing."""

    tiers: Annotated[list[Tier], msgspec.Meta(max_length=TIERS_MAX)]


class RewardsQuery(msgspec.Struct):
    board: Board | None = None
    period: ClosingPeriod | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def tier_problems(tiers: list[Tier]) -> dict[str, list[str]]:
    """The 422 field errors of a table (empty: fine): each tier's ranks in order, no rank paid twice."""
    problems: dict[str, list[str]] = {}
    for i, tier in enumerate(tiers):
        if tier.rank_to < tier.rank_from:
            problems[f"tiers.{i}.rank_to"] = ["Must be at least rank_from."]
    if problems:
        return problems
    widest: int | None = None  # of the tiers starting lower, the one reaching highest
    for i in sorted(range(len(tiers)), key=lambda i: (tiers[i].rank_from, i)):
        if widest is not None and tiers[i].rank_from <= tiers[widest].rank_to:
            w = tiers[widest]
            problems[f"tiers.{i}.rank_from"] = [f"Ranks {w.rank_from}-{w.rank_to} are paid by tier {widest} already."]
        if widest is None or tiers[i].rank_to > tiers[widest].rank_to:
            widest = i
    return problems


def tier_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "board": row["board"], "period": row["period"], "rank_from": row["rank_from"],
            "rank_to": row["rank_to"], "coins": int(row["coins"])}  # fmt: skip


def table_out(board: str, period: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"board": board, "period": period, "tiers": [tier_out(r) for r in rows]}


def cursor_of(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return row["board"], row["period"], row["rank_from"], row["id"]
