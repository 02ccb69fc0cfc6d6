"""Issue 14's gift storm: one storm with replays through real sockets, one VIP sender among the
gifters, then the ledger drained and every batch re-delivered to the rankings observer. Afterwards
four records of the same gifts agree exactly: the ledger's gift transactions, the users' and the
room's XP with their levels, the live ranking boards of every period, and the gift statistics; and
the coins the senders' ledger legs lost are the coins the boards and statistics count."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

from engine.appkeys import CONFIG, RANKINGS
from engine.progression.levels_model import Step, level_for
from engine.progression.rankings_model import PERIODS
from tests.helpers import bearer, db
from tests.test_gift_storm import PRICES, adjust, drain, party, storm
from tests.test_levels_storm import LADDER, ledger_xp
from tests.test_rankings import _board, _gifts

GRANT = 1_500


async def test_one_storm_with_replays_leaves_ledger_levels_rankings_and_stats_in_agreement(
    client: Any, register: Any, config: Any
) -> None:
    rng = random.Random(20261203)
    async with party(client, register, config, 6) as p:
        admin, ids = p.members[0], [m.id for m in p.members]
        vip = p.members[3]
        steps = [{"level": i + 1, "min_xp": xp} for i, xp in enumerate(LADDER)]
        for kind in ("wealth", "charm", "room"):
            resp = await client.put(f"/api/v1/admin/levels/{kind}", json={"levels": steps}, headers=bearer(admin.token))
            assert resp.status == 200, await resp.text()
        async with db(config.database_url) as conn:  # VIP3: its gifts earn 1.15 × the wealth XP
            await conn.execute(
                "UPDATE users SET vip_level = 3, vip_expires_at = now() + interval '30 days' WHERE id = $1", vip.id
            )
        for member in p.members:
            await adjust(client, admin, member, GRANT)
        sent_gifts = await storm(p, rng, 15, 3, "prog")
        sent: dict[int, int] = defaultdict(int)  # coins per sender, from the acks alone
        received: dict[int, int] = defaultdict(int)
        applied: set[str] = set()
        for member, payload, ack in sent_gifts:
            if not ack["success"] or ack.get("replay"):
                continue
            applied.add(payload["idempotencyKey"])
            each = PRICES[payload["giftId"]] * payload["quantity"]
            sent[member.id] += each * len(ack["acceptedRecipientIds"])
            for recipient in ack["acceptedRecipientIds"]:
                received[recipient] += each
        assert any(ack.get("replay") for _m, _p, ack in sent_gifts) and sent[vip.id] > 0

        await drain(client)
        await client.app[RANKINGS].ledger_flushed(await _gifts(client))  # every batch re-delivered
        async with db(client.app[CONFIG].database_url) as conn:
            gifts = await conn.fetch("SELECT initiator_id, metadata::text FROM ledger_transactions WHERE kind = 'gift'")
            users = {r["id"]: r for r in await conn.fetch(
                "SELECT id, wealth_xp, charm_xp, wealth_level, charm_level FROM users WHERE id = ANY($1::bigint[])",
                ids)}  # fmt: skip
            room = await conn.fetchrow("SELECT room_xp, room_level FROM rooms WHERE id = $1", p.room_id)
            stats = await conn.fetch(
                "SELECT user_id, direction, sum(coins)::bigint AS coins FROM gift_stats GROUP BY user_id, direction"
            )

        # The ledger: each applied gift once, replays not at all, and the coins the acks promised.
        assert sorted(json.loads(g["metadata"])["key"] for g in gifts) == sorted(applied)
        spent: dict[int, int] = defaultdict(int)
        for gift in gifts:
            meta = json.loads(gift["metadata"])
            spent[gift["initiator_id"]] += meta["price"] * meta["quantity"] * len(meta["recipients"])
        assert spent == sent

        # XP and levels: the ledger's sums (with the VIP multiplier), each level the ladder's.
        wealth, charm, room_xp = ledger_xp(gifts)
        assert wealth[vip.id] == Decimal(sent[vip.id] * 11500) / 10000 and wealth[ids[0]] == sent[ids[0]]
        ladder = tuple(Step(i + 1, xp) for i, xp in enumerate(LADDER))
        for user_id, row in users.items():
            assert (row["wealth_xp"], row["charm_xp"]) == (wealth[user_id], charm[user_id]), user_id
            assert (row["wealth_level"], row["charm_level"]) == (level_for(ladder, wealth[user_id]),
                                                                 level_for(ladder, charm[user_id]))  # fmt: skip
        assert room_xp[p.room_id] == sum(sent.values())
        assert (room["room_xp"], room["room_level"]) == (room_xp[p.room_id], level_for(ladder, room_xp[p.room_id]))

        # Rankings count coins, not XP: every period's boards equal the acks' coins.
        rankings = client.app[RANKINGS]
        for period in PERIODS:
            assert await _board(client, rankings.board_key("wealth", period, None)) == dict(sent), period
            assert await _board(client, rankings.board_key("charm", period, None)) == dict(received), period
            assert await _board(client, rankings.board_key("room", period, None)) == {p.room_id: sum(sent.values())}

        # Gift statistics: the same coins per user and direction, and /me/gifts/stats says so too.
        assert {(r["user_id"], r["direction"]): r["coins"] for r in stats} == {
            **{(u, "sent"): c for u, c in sent.items()},
            **{(u, "received"): c for u, c in received.items()},
        }
        resp = await client.get("/api/v1/me/gifts/stats?period=all", headers=bearer(vip.token))
        assert resp.status == 200, await resp.text()
        body = (await resp.json())["data"]
        assert (body["sent"]["coins"], body["received"]["coins"]) == (sent[vip.id], received[vip.id]), body
