"""Target crossings told once (engine/agency/income_targets.py), and a gift storm into the hosts of
two agencies whose income rows sum to the ledger (`flylive reconcile` clean)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from typing import Any

from engine.agency import income_store
from engine.agency.income_targets import watch_targets
from engine.appkeys import AGENCIES, CONFIG, SERVICES
from engine.cli import reconcile_all
from engine.economy import model as money
from engine.economy.flusher import GROUP, flush_all
from tests.agency_setup import add_member, agency_share_probe, cast, new_agency
from tests.helpers import bearer, db, join, new_user
from tests.sockets import first

MEMBER_EVENT, OWNER_EVENT = "income_target.member_completed", "income_target.completed"


async def put_targets(client: Any, staff: Any, targets: list[dict[str, int]]) -> None:
    resp = await client.put("/api/v1/admin/agency-targets", json={"targets": targets}, headers=bearer(staff.token))
    assert resp.status == 200, await resp.text()


async def notices(client: Any, user_id: int, event: str) -> int:
    async with db(client.app[CONFIG].database_url) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND kind = 'agency' "
                                       "AND data ->> 'event' = $2", user_id, event))  # fmt: skip


async def test_each_target_crossed_is_told_once_to_the_member_and_the_owner(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()  # two engine processes on one database
    c = await cast(a)
    await put_targets(a, c.staff, [{"coins": 10, "reward_usd_cents": 100},
                                   {"coins": 20, "reward_usd_cents": 200, "valid_hours": 1},
                                   {"coins": 30, "reward_usd_cents": 300}])  # fmt: skip
    member, owner = await connect(a, c.member), await connect(a, c.owner)
    sender = await new_user(a, "Sender", role="admin")
    gift = await agency_share_probe(a, b, connect, sender, c.member, "targets-1")

    async def watch_twice() -> None:  # both processes at once, then again: each crossing told once
        await asyncio.gather(watch_targets(a.app[AGENCIES]), watch_targets(b.app[AGENCIES]))
        await asyncio.gather(watch_targets(a.app[AGENCIES]), watch_targets(b.app[AGENCIES]))

    assert await gift() == [c.agency_id]  # 10 coins: the first target
    await watch_twice()
    told = await first(member, MEMBER_EVENT)
    to_owner = await first(owner, OWNER_EVENT)
    assert (told.target.coins, told.coins, told.agency.id) == (10, 10, c.agency_id)  # type: ignore[attr-defined]
    assert to_owner.member.id == c.member.id and to_owner.target.reward_usd_cents == 100  # type: ignore[attr-defined]

    await gift()  # 20 coins, but no valid hour yet
    await watch_twice()
    async with db(a.app[CONFIG].database_url) as conn:
        await conn.execute(
            """INSERT INTO user_activity (user_id, kind, room_id, duration_ms, mic_ms, source, happened_at)
               VALUES ($1, 'room_visit', 1, 3600000, 3600000, 'targets-visit', now())""",
            c.member.id,
        )  # fmt: skip
    await watch_twice()
    await member.wait_for(MEMBER_EVENT, 2)
    await gift()  # 30 coins
    await watch_twice()
    await member.wait_for(MEMBER_EVENT, 3)
    await owner.wait_for(OWNER_EVENT, 3)
    await watch_twice()
    await asyncio.sleep(0.3)  # anything doubled would have arrived by now (the periodic watchers run too)
    assert [e["target"]["coins"] for e in member.events[MEMBER_EVENT]] == [10, 20, 30]
    assert [e["target"]["coins"] for e in owner.events[OWNER_EVENT]] == [10, 20, 30]
    assert MEMBER_EVENT not in owner.events and OWNER_EVENT not in member.events
    assert await notices(a, c.member.id, MEMBER_EVENT) == 3 and await notices(a, c.owner.id, OWNER_EVENT) == 3
    status = (await (await a.get("/api/v1/me/income", headers=bearer(c.member.token))).json())["data"]
    assert [t["reached"] for t in status["targets"]] == [True, True, True]
    assert status["monthly_total_salary_usd_cents"] == 300  # highest only (agency_targets_cumulative 0)


async def test_a_gift_storm_into_two_agencies_adds_up_to_the_ledger(client: Any, connect: Any) -> None:
    rng = random.Random(13)
    c = await cast(client)
    owner_b = await new_user(client, "Owner B")
    agency_b = await new_agency(client, owner_b, c.staff)
    b1, b2 = await new_user(client, "Host B1"), await new_user(client, "Host B2")
    for host in (b1, b2):
        await add_member(client, agency_b, host)
    agency_of = {c.member.id: c.agency_id, c.admin.id: c.agency_id, b1.id: agency_b, b2.id: agency_b}
    hosts = [c.member, c.admin, b1, b2, c.outsider]
    prices = {901: 7, 902: 13, 903: 50}
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.executemany("INSERT INTO gifts (id, name, price) VALUES ($1, $2, $3)",
                               [(gid, f"Gift {gid}", price) for gid, price in prices.items()])  # fmt: skip
        settings = {r["key"]: int(r["value"]) for r in await conn.fetch("SELECT key, value FROM economy_settings")}
    room = c.member.room
    for seat, host in enumerate(hosts):
        peer = await connect(client, host)
        await join(peer, room)
        assert (await peer.call("seat:take", {"roomId": room, "seatIndex": seat}))["success"]
    senders = [await new_user(client, f"Sender {i}") for i in range(3)]
    peers = []
    for sender in senders:
        grant = {"currency": "coins", "amount": 20000, "direction": "grant", "reason": "storm",
                 "idempotency_key": f"grant-{uuid.uuid4().hex}"}  # fmt: skip
        resp = await client.post(f"/api/v1/admin/wallets/{sender.id}/adjust", json=grant,
                                 headers=bearer(c.staff.token))  # fmt: skip
        assert resp.status == 200, await resp.text()
        peers.append(await connect(client, sender))
        await join(peers[-1], room)
    sends = []
    for peer in peers:
        for _ in range(25):
            payload: dict[str, Any] = {"roomId": room, "giftId": rng.choice(list(prices)),
                                       "quantity": rng.randint(1, 3),
                                       "idempotencyKey": f"storm-{uuid.uuid4().hex}"}  # fmt: skip
            if rng.random() < 0.5:
                payload["recipientId"] = rng.choice(hosts).id
            else:
                payload["recipientIds"] = [h.id for h in rng.sample(hosts, rng.randint(2, 4))]
            sends.append((peer, payload))
    acks = await asyncio.gather(*(peer.call("gift:send", payload, timeout=30) for peer, payload in sends))

    coins: dict[int, int] = defaultdict(int)
    commission: dict[int, int] = defaultdict(int)
    for (_peer, payload), ack in zip(sends, acks, strict=True):
        assert ack["success"], ack
        total = prices[payload["giftId"]] * payload["quantity"]
        for recipient in ack["acceptedRecipientIds"]:
            if recipient in agency_of:
                coins[recipient] += total
                commission[agency_of[recipient]] += money.share(total, settings["gift_agency_commission_bps"])
    assert set(commission) == {c.agency_id, agency_b}

    svc = client.app[SERVICES]
    for _ in range(100):  # until no outbox holds an entry (the app's own flusher runs too)
        await flush_all(svc, svc.wallets, "test")
        busy = sum([await svc.redis.xlen(svc.keys.outbox(s)) + (await svc.redis.xpending(svc.keys.outbox(s), GROUP))
                    ["pending"] for s in range(svc.keys.economy_shards)])  # fmt: skip
        if not busy:
            break
        await asyncio.sleep(0.05)
    async with db(client.app[CONFIG].database_url) as conn:

        async def sums(sql: str) -> dict[int, int]:
            return {int(r[0]): int(r[1]) for r in await conn.fetch(sql)}

        income = await sums(
            "SELECT agency_id, sum(commission) FROM agency_income_events WHERE kind = 'gift' GROUP BY 1"
        )
        ledger = await sums("""SELECT e.account_id, sum(e.amount) FROM ledger_entries e JOIN ledger_transactions t
                               USING (txn_id) WHERE e.account_type = 'agency' AND t.kind = 'gift' GROUP BY 1""")
        member_coins = await sums("SELECT user_id, sum(coins) FROM agency_income_events WHERE kind = 'gift' GROUP BY 1")
        assert await income_store.commission_drift(conn) == []
    assert income == ledger == dict(commission)
    assert member_coins == dict(coins) and c.outsider.id not in member_coins
    report = await reconcile_all(svc)
    assert report.ok, report.render()
    assert report.totals["coins"]["agency"] == sum(commission.values())
    # The members list shows the same month coins.
    page = (await (await client.get(f"/api/v1/agencies/{agency_b}/members",
                                    headers=bearer(owner_b.token))).json())["data"]  # fmt: skip
    assert {m["user_id"]: m["monthly_income"] for m in page["items"]} == {owner_b.id: 0, b1.id: coins[b1.id],
                                                                           b2.id: coins[b2.id]}  # fmt: skip
    # A commission the ledger never paid is drift that `flylive reconcile` reports.
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("""INSERT INTO agency_income_events (agency_id, user_id, kind, commission, source,
                                  happened_at) VALUES ($1, $2, 'gift', 5, 'forged', now())""",
                           agency_b, b1.id)  # fmt: skip
    drifted = await reconcile_all(svc)
    assert [p for p in drifted.problems if p.startswith(f"agency {agency_b} coins")], drifted.render()
