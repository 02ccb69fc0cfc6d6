"""The pure side of levels (engine/progression/levels_model.py): thresholds at their boundaries,
progress, the admin ladder's checks, and how queued changes fold into one per ladder position."""

from __future__ import annotations

import itertools
from decimal import Decimal

import msgspec
import pytest

from engine.errors import DomainError
from engine.progression.levels_model import (
    LadderBody,
    LevelReward,
    Step,
    crossed,
    default_min_xp,
    ladder_view,
    level_for,
    net_changes,
    progress,
    reward_ref,
)

LADDER = tuple(Step(i + 1, xp) for i, xp in enumerate(default_min_xp()))


def test_the_defaults_start_as_the_reference_and_rise_ever_faster() -> None:
    xp = default_min_xp()
    assert len(xp) == 50 and xp[:3] == [0, 10_856, 20_001]
    steps = [b - a for a, b in itertools.pairwise(xp[2:])]
    assert all(b > a for a, b in itertools.pairwise(steps))
    view = ladder_view("wealth", LADDER)["items"]
    assert (view[0]["min_xp"], view[0]["max_xp"]) == (0, 10_855)  # L1 = 0–10,855
    assert (view[1]["min_xp"], view[1]["max_xp"]) == (10_856, 20_000)  # L2 = 10,856–20,000
    assert view[-1]["max_xp"] is None


@pytest.mark.parametrize("level", [2, 3, 10, 50])
def test_each_threshold_at_its_boundary(level: int) -> None:
    start = LADDER[level - 1].min_xp
    assert level_for(LADDER, start - 1) == level - 1
    assert level_for(LADDER, Decimal(start) - Decimal("0.0001")) == level - 1
    assert level_for(LADDER, start) == level
    assert level_for(LADDER, start + 1) == level


def test_level_one_and_beyond_the_top() -> None:
    assert level_for(LADDER, 0) == 1 and level_for(LADDER, 10**12) == 50


def test_progress_towards_the_next_level() -> None:
    half = progress(LADDER, 1, 5428)
    assert half == {"level": 1, "xp": "5428.0000", "level_min_xp": 0, "next_level": 2, "next_level_xp": 10_856,
                    "xp_to_next": "5428.0000", "progress_bps": 5000}  # fmt: skip
    top = progress(LADDER, 50, 10**9)
    assert (top["next_level"], top["next_level_xp"], top["xp_to_next"], top["progress_bps"]) == (
        None,
        None,
        None,
        10000,
    )


def test_crossed_levels_and_reward_refs() -> None:
    assert [s.level for s in crossed(LADDER, 2, 5)] == [3, 4, 5]
    assert crossed(LADDER, 5, 3) == []
    assert reward_ref("wealth", 7, None) == "wealth:7" and reward_ref("room", 7, 12) == "room:12:7"


def body(levels: list[dict[str, object]]) -> LadderBody:
    return msgspec.convert({"levels": levels}, LadderBody)


def fields_of(levels: list[dict[str, object]]) -> dict[str, list[str]]:
    with pytest.raises(DomainError) as caught:
        body(levels).ladder()
    assert caught.value.status == 422
    return caught.value.fields


def test_a_ladder_starts_at_zero_and_rises_strictly() -> None:
    good = body([{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 10, "rewards": [{"kind": "coins", "amount": 5}]}])
    assert good.ladder() == (Step(1, 0), Step(2, 10, (LevelReward("coins", 5),)))
    assert set(fields_of([{"level": 1, "min_xp": 5}, {"level": 2, "min_xp": 10}])) == {"levels.0.min_xp"}
    assert set(fields_of([{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 10}, {"level": 3, "min_xp": 10}])) == {
        "levels.2.min_xp"
    }
    assert set(fields_of([{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 5}, {"level": 3, "min_xp": 4}])) == {
        "levels.2.min_xp"
    }
    assert set(fields_of([{"level": 1, "min_xp": 0}, {"level": 3, "min_xp": 10}])) == {"levels"}
    assert set(fields_of([{"level": 2, "min_xp": 0}, {"level": 1, "min_xp": 10}])) == {"levels"}


def test_rewards_say_what_they_grant() -> None:
    bad = [{"kind": "coins"}, {"kind": "frame", "ref": 3}, {"kind": "vip", "ref": 9, "days": 3}, {"kind": "badge"}]
    fields = fields_of([{"level": 1, "min_xp": 0, "rewards": bad}])
    assert set(fields) == {f"levels.0.rewards.{i}" for i in range(4)}
    fine = [{"kind": "frame", "ref": 3, "days": 7}, {"kind": "vip", "ref": 7, "days": 1}, {"kind": "badge", "ref": 1}]
    assert len(body([{"level": 1, "min_xp": 0, "rewards": fine}]).ladder()[0].rewards) == 3


def test_queued_changes_fold_into_one_per_position() -> None:
    rows = [
        {"type": "wealth", "user_id": 1, "room_id": None, "from_level": 1, "to_level": 3, "xp": Decimal(30)},
        {"type": "charm", "user_id": 1, "room_id": None, "from_level": 1, "to_level": 2, "xp": Decimal(12)},
        {"type": "wealth", "user_id": 1, "room_id": None, "from_level": 3, "to_level": 2, "xp": Decimal(30)},
        {"type": "wealth", "user_id": 1, "room_id": None, "from_level": 2, "to_level": 5, "xp": Decimal(90)},
        {"type": "room", "user_id": 1, "room_id": 4, "from_level": 1, "to_level": 2, "xp": Decimal(20)},
    ]
    wealth, charm, room = net_changes(rows)
    assert (wealth.before, wealth.after, wealth.xp, wealth.reached) == (1, 5, Decimal(90), [2, 3, 4, 5])
    assert (charm.kind, charm.reached) == ("charm", [2])
    assert (room.kind, room.room_id, room.reached) == ("room", 4, [2])
