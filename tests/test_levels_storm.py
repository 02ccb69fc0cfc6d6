"""A gift storm with replays through real sockets, then the ledger drained: every user's wealth and
charm XP and every room's XP equal what the ledger's gifts add up to, exactly; every stored level is
the ladder's level for that XP; and each user's last `user.progression` names it."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

from engine.appkeys import CONFIG, LEVELS
from engine.progression.levels import watch_levels
from engine.progression.levels_model import Step, level_for
from tests.helpers import bearer, db
from tests.test_gift_storm import adjust, drain, party, storm

LADDER = [0, 20, 60, 150, 300, 600, 1200, 2500]


def ledger_xp(rows: list[Any]) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, int]]:
    """Wealth XP per sender, charm XP per recipient and room XP per room, from the gift transactions."""
    wealth: dict[int, Decimal] = defaultdict(Decimal)
    charm: dict[int, Decimal] = defaultdict(Decimal)
    room: dict[int, int] = defaultdict(int)
    for row in rows:
        meta = json.loads(row["metadata"])
        each, recipients = meta["price"] * meta["quantity"], meta["recipients"]
        wealth[row["initiator_id"]] += Decimal(each * len(recipients) * meta["wealth_bps"]) / 10000
        for recipient in recipients:
            charm[recipient] += Decimal(each * meta["charm_bps"]) / 10000
        room[meta["room_id"]] += each * len(recipients)
    return wealth, charm, room


async def test_a_gift_storm_with_replays_leaves_xp_and_levels_equal_to_the_ledger(client: Any, register: Any,
                                                                                  config: Any) -> None:  # fmt: skip
    rng = random.Random(20261202)
    async with party(client, register, config, 6) as p:
        admin, ids = p.members[0], [m.id for m in p.members]
        steps = [{"level": i + 1, "min_xp": xp} for i, xp in enumerate(LADDER)]
        for kind in ("wealth", "charm", "room"):
            resp = await client.put(f"/api/v1/admin/levels/{kind}", json={"levels": steps}, headers=bearer(admin.token))
            assert resp.status == 200, await resp.text()
        for member in p.members:
            await adjust(client, admin, member, rng.randint(300, 900))
        sent_gifts = await storm(p, rng, 20, 3, "lvl")
        applied = {payload["idempotencyKey"] for _m, payload, ack in sent_gifts
                   if ack["success"] and not ack.get("replay")}  # fmt: skip
        replays = sum(1 for _m, _p, ack in sent_gifts if ack["success"] and ack.get("replay"))
        assert applied and replays > 0

        await drain(client)
        async with db(client.app[CONFIG].database_url) as conn:
            gifts = await conn.fetch("SELECT initiator_id, metadata::text FROM ledger_transactions WHERE kind = 'gift'")
            users = {r["id"]: r for r in await conn.fetch(
                "SELECT id, wealth_xp, charm_xp, wealth_level, charm_level FROM users WHERE id = ANY($1::bigint[])",
                [*ids, p.watcher.id])}  # fmt: skip
            room = await conn.fetchrow("SELECT room_xp, room_level FROM rooms WHERE id = $1", p.room_id)
        assert {json.loads(g["metadata"])["key"] for g in gifts} == applied  # each applied once, replays not at all
        wealth, charm, room_xp = ledger_xp(gifts)
        ladder = tuple(Step(i + 1, xp) for i, xp in enumerate(LADDER))
        for user_id, row in users.items():
            assert (row["wealth_xp"], row["charm_xp"]) == (wealth[user_id], charm[user_id]), user_id
            assert row["wealth_level"] == level_for(ladder, wealth[user_id])
            assert row["charm_level"] == level_for(ladder, charm[user_id])
        assert room["room_xp"] == room_xp[p.room_id] and room["room_level"] == level_for(ladder, room_xp[p.room_id])
        assert room["room_level"] > 1 and max(r["wealth_level"] for r in users.values()) > 1

        await watch_levels(client.app[LEVELS])
        for member in p.members:
            row = users[member.id]
            for kind in ("wealth", "charm"):
                if row[f"{kind}_level"] == 1:
                    continue

                def final(kind: str = kind, row: Any = row, member: Any = member) -> bool:
                    told = [e for e in member.peer.events["user.progression"] if e["type"] == kind]
                    return bool(told) and told[-1]["level"] == row[f"{kind}_level"]

                await member.peer.wait_until(final, timeout=10)
