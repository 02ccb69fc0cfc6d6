"""Level rewards through the reward ledger: a jump over several levels grants every crossed level's
rewards exactly once, however many processes watch and however often the changes are re-queued,
with one `user.progression` per pass naming the final level."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import CONFIG, LEVELS, SERVICES
from engine.economy.reconcile import reconcile
from engine.progression.levels import watch_levels
from tests.helpers import bearer, db, new_user
from tests.sockets import first
from tests.test_levels import put_ladder, set_xp

REWARDED = [{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 10, "rewards": [{"kind": "coins", "amount": 10}]},
            {"level": 3, "min_xp": 30, "rewards": [{"kind": "coins", "amount": 20}]},
            {"level": 4, "min_xp": 60, "rewards": [{"kind": "coins", "amount": 30}]},
            {"level": 5, "min_xp": 100, "rewards": [{"kind": "coins", "amount": 40}]}]  # fmt: skip


async def coins(client: Any, user: Any) -> int:
    resp = await client.get("/api/v1/wallet", headers=bearer(user.token))
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["data"]["coins"])


async def test_a_multi_level_jump_grants_each_levels_reward_once(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()  # two engine processes on one database
    staff, climber = await new_user(a, "Staff", role="admin"), await new_user(a, "Climber")
    for kind in ("wealth", "room"):
        assert (await put_ladder(a, staff, kind, REWARDED)).status == 200
    peer = await connect(a, climber)

    async def watch_everywhere() -> None:
        await asyncio.gather(watch_levels(a.app[LEVELS]), watch_levels(b.app[LEVELS]))

    await set_xp(a, climber, wealth=65, room=12)  # wealth 1 → 4 at once, the room 1 → 2
    await watch_everywhere()
    await watch_everywhere()
    await peer.wait_until(lambda: {e["type"] for e in peer.events["user.progression"]} == {"wealth", "room"})
    told = {e["type"]: e for e in peer.events["user.progression"]}
    assert (told["wealth"]["level"], told["wealth"]["reached"]) == (4, [2, 3, 4])
    assert (told["room"]["level"], told["room"]["room_id"]) == (2, climber.room)
    assert len(peer.events["user.progression"]) == 2  # one push per type, the final level only

    async with db(a.app[CONFIG].database_url) as conn:  # every change queued again (a crash, a replay)
        await conn.execute("INSERT INTO level_changes_pending (change_id) SELECT id FROM level_changes "
                           "WHERE user_id = $1 ON CONFLICT DO NOTHING", climber.id)  # fmt: skip
    await watch_everywhere()
    await peer.wait_for("user.progression", 4)
    await set_xp(a, climber, wealth=120)  # on to level 5: only its own reward is new
    await watch_everywhere()
    fifth = await first(peer, "user.progression", 4)
    assert (fifth.level, fifth.reached) == (5, [5])  # type: ignore[attr-defined]

    async with db(a.app[CONFIG].database_url) as conn:
        refs = [r["source_ref"] for r in await conn.fetch(
            "SELECT source_ref FROM rewards WHERE user_id = $1 AND source = 'level' ORDER BY source_ref",
            climber.id)]  # fmt: skip
    assert refs == [f"room:{climber.room}:2", "wealth:2", "wealth:3", "wealth:4", "wealth:5"]
    assert await coins(a, climber) == 10 + 10 + 20 + 30 + 40
    report = await reconcile(a.app[SERVICES])
    assert report.ok, report.render()
