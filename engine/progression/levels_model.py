"""Wealth, charm and room levels (issue 14 §1, docs/progression.md "Levels"): the ladders, the level
an amount of XP reaches, progress towards the next one, the admin's ladder body with its checks, and
how levels and their changes read on the wire. Pure: no I/O.

A ladder is a type's levels, lowest first: level 1 at 0 XP, each next one at a strictly higher
`min_xp`. PostgreSQL computes the stored levels with the same rule (sql/0027: `level_of`).
"""

from __future__ import annotations

import bisect
import itertools
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.errors import validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

LevelType = Literal["wealth", "charm", "room"]
LEVEL_TYPES: tuple[LevelType, ...] = ("wealth", "charm", "room")
LADDER_MAX = 200  # levels per type
XP_MAX = 10**12 - 1  # what numeric(16, 4) holds in whole XP
REWARDS_MAX = 10  # items per level
BPS = 10_000


class LevelReward(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One item granted on reaching a level: the reward ledger's item (engine/progression/rewards.py
    RewardItem), with its limits."""

    kind: Literal["coins", "frame", "badge", "vip"]
    amount: Annotated[int, Meta(ge=0, le=10**9)] = 0
    """coins: how many."""
    ref: Annotated[int, Meta(ge=0, le=2**62)] = 0
    """frame: mall_items.id; vip: the tier (1–7); badge: badges.id."""
    days: Annotated[int, Meta(ge=0, le=3650)] = 0
    """frame/vip: how long."""

    def problem(self) -> str | None:
        """What is wrong with the item for its kind, if anything."""
        if self.kind == "coins":
            return None if self.amount >= 1 else "A coins reward needs an amount of at least 1."
        if self.ref < 1:
            return f"A {self.kind} reward needs its ref."
        if self.kind == "vip" and self.ref > 7:
            return "A VIP reward's tier is 1 to 7."
        if self.kind in ("frame", "vip") and self.days < 1:
            return f"A {self.kind} reward needs days of at least 1."
        return None


class Step(msgspec.Struct, frozen=True):
    level: int
    min_xp: int
    rewards: tuple[LevelReward, ...] = ()


Ladder = tuple[Step, ...]


class StepBody(msgspec.Struct, forbid_unknown_fields=True):
    level: Annotated[int, Meta(ge=1, le=LADDER_MAX)]
    min_xp: Annotated[int, Meta(ge=0, le=XP_MAX)]
    rewards: Annotated[list[LevelReward], Meta(max_length=REWARDS_MAX)] = []


class LadderBody(msgspec.Struct, forbid_unknown_fields=True):
    """PUT /api/v1/admin/levels/{type}: the whole ladder, lowest first."""

    levels: Annotated[list[StepBody], Meta(min_length=1, max_length=LADDER_MAX)]

    def ladder(self) -> Ladder:
        """The ladder, or 422 naming what breaks it: levels 1, 2, 3 … in order, level 1 at 0 XP, each
        next level at more XP than the one before, and rewards that say what they grant."""
        errors: dict[str, list[str]] = {}
        if [s.level for s in self.levels] != list(range(1, len(self.levels) + 1)):
            errors["levels"] = ["The levels must be numbered 1, 2, 3 … in order, without gaps."]
        if self.levels[0].min_xp != 0:
            errors["levels.0.min_xp"] = ["Level 1 starts at 0 XP."]
        for i, (low, high) in enumerate(itertools.pairwise(self.levels), start=1):
            if high.min_xp <= low.min_xp:
                errors[f"levels.{i}.min_xp"] = ["Each level needs more XP than the level below it."]
        for i, step in enumerate(self.levels):
            for j, reward in enumerate(step.rewards):
                if (problem := reward.problem()) is not None:
                    errors[f"levels.{i}.rewards.{j}"] = [problem]
        if errors:
            raise validation_error(errors)
        return tuple(Step(s.level, s.min_xp, tuple(s.rewards)) for s in self.levels)


def item_refs(ladder: Ladder) -> list[int]:
    """The mall items the ladder's frame rewards name."""
    return sorted({r.ref for s in ladder for r in s.rewards if r.kind == "frame"})


def check_items_exist(ladder: Ladder, existing: set[int]) -> None:
    """422 for each frame reward naming a mall item that does not exist."""
    errors = {f"levels.{i}.rewards.{j}": [f"No mall item {r.ref}."] for i, s in enumerate(ladder)
              for j, r in enumerate(s.rewards) if r.kind == "frame" and r.ref not in existing}  # fmt: skip
    if errors:
        raise validation_error(errors)


class LevelsQuery(msgspec.Struct):
    type: LevelType = "wealth"


class HistoryQuery(msgspec.Struct):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def default_min_xp(levels: int = 50) -> list[int]:
    """The defaults sql/0027 writes for every type: the reference's L1 = 0–10,855 and L2 = 10,856–20,000,
    then each step 15% longer than the one before, from 10,000 XP above L3, rounded to a hundred."""
    steps = [0, 10_856, 20_001]
    for n in range(4, levels + 1):
        steps.append(steps[-1] + int(round(10_000 * 1.15 ** (n - 3), -2)))
    return steps[:levels]


def ladder_of(rows: list[dict[str, Any]]) -> Ladder:
    """A ladder from its `levels` rows (lowest first); rewards as stored (JSON)."""
    return tuple(Step(int(r["level"]), int(r["min_xp"]), tuple(msgspec.convert(r["rewards"], list[LevelReward])))
                 for r in rows)  # fmt: skip


def level_for(ladder: Ladder, xp: Decimal | int) -> int:
    """The highest level whose min_xp the XP reaches (1 with an empty ladder)."""
    index = bisect.bisect_right([s.min_xp for s in ladder], xp) - 1
    return ladder[index].level if index >= 0 else 1


def step_of(ladder: Ladder, level: int) -> Step | None:
    return ladder[level - 1] if 1 <= level <= len(ladder) and ladder[level - 1].level == level else None


def crossed(ladder: Ladder, before: int, after: int) -> list[Step]:
    """The levels a rise from `before` to `after` reaches (none for a fall)."""
    return [s for s in ladder if before < s.level <= after]


def xp_text(xp: Decimal | int) -> str:
    return f"{Decimal(xp):.4f}"


def progress(ladder: Ladder, level: int, xp: Decimal | int) -> dict[str, Any]:
    """Where `xp` stands on the ladder: its level's start, the next level (None at the top) and the
    share of the way there in basis points."""
    here, above = step_of(ladder, level), step_of(ladder, level + 1)
    start = here.min_xp if here is not None else 0
    if above is None:
        return {"level": level, "xp": xp_text(xp), "level_min_xp": start, "next_level": None,
                "next_level_xp": None, "xp_to_next": None, "progress_bps": BPS}  # fmt: skip
    span = above.min_xp - start
    done = min(max(Decimal(xp) - start, Decimal(0)), Decimal(span))
    return {"level": level, "xp": xp_text(xp), "level_min_xp": start, "next_level": above.level,
            "next_level_xp": above.min_xp, "xp_to_next": xp_text(max(above.min_xp - Decimal(xp), Decimal(0))),
            "progress_bps": int(done * BPS / span)}  # fmt: skip


def ladder_view(kind: LevelType, ladder: Ladder) -> dict[str, Any]:
    items = []
    for step, above in itertools.zip_longest(ladder, ladder[1:]):
        items.append({"level": step.level, "min_xp": step.min_xp,
                      "max_xp": above.min_xp - 1 if above is not None else None,
                      "rewards": [msgspec.structs.asdict(r) for r in step.rewards]})  # fmt: skip
    return {"type": kind, "items": items}


def reward_ref(kind: LevelType, level: int, room_id: int | None) -> str:
    """The reward ledger's source_ref of a level: `<type>:<level>`, the room's id in between for a
    room level (an owner may own another room later, which earns its own)."""
    return f"room:{room_id}:{level}" if kind == "room" else f"{kind}:{level}"


def change_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "type": row["type"], "room_id": row["room_id"], "from_level": row["from_level"],
            "to_level": row["to_level"], "xp": xp_text(row["xp"]), "reason": row["reason"],
            "changed_at": iso_timestamp(row["changed_at"])}  # fmt: skip


def history_cursor(row: dict[str, Any]) -> tuple[int]:
    return (int(row["id"]),)


def announce(level_before: int, level_after: int, announce_min: int) -> bool:
    """A rise to a level at or above the setting is announced in the rooms (once, with the final level)."""
    return level_after > level_before and level_after >= announce_min


class NetChange(msgspec.Struct):
    """What a watcher pass tells of one ladder position (a user's wealth or charm level, a room's
    level): the level before the pass's first change and after its last, and every level reached."""

    kind: LevelType
    user_id: int
    room_id: int | None
    before: int
    after: int
    xp: Decimal
    reached: list[int]


def net_changes(rows: list[dict[str, Any]]) -> list[NetChange]:
    """Queued `level_changes` rows (oldest first) folded per position: a jump over several levels in
    one flush, or several flushes, become one change with the final level."""
    by_subject: dict[tuple[str, int, int | None], NetChange] = {}
    for row in rows:
        key = (row["type"], int(row["user_id"]), row["room_id"])
        net = by_subject.get(key)
        if net is None:
            net = by_subject[key] = NetChange(row["type"], key[1], key[2], row["from_level"], row["to_level"],
                                              Decimal(row["xp"]), [])  # fmt: skip
        net.after, net.xp = row["to_level"], Decimal(row["xp"])
        net.reached.extend(range(row["from_level"] + 1, row["to_level"] + 1))
    for net in by_subject.values():
        net.reached = sorted(set(net.reached))
    return list(by_subject.values())
