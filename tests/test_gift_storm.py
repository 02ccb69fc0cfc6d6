"""Many clients gifting each other at once through real sockets: every coin is accounted for.

The expected balances are computed here from the acks alone (successful, non-replayed sends), the
gift prices and the economy settings in PostgreSQL, with the split functions of the money model.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from engine.appkeys import SERVICES
from engine.economy import model as money
from engine.economy.flusher import GROUP, flush_all
from engine.economy.reconcile import reconcile
from engine.messages import decode_event
from tests.helpers import bearer, db, join
from tests.sockets import Peer, url_of

PRICES = {901: 7, 902: 13, 903: 150}


@dataclass
class Member:
    id: int
    token: str
    peer: Peer


@dataclass
class Party:
    room_id: int
    owner: int
    members: list[Member]  # seated, members[0] is a super_admin and owns the room
    watcher: Member  # in the room, not seated
    agencies: dict[int, int]
    settings: dict[str, int]


@asynccontextmanager
async def party(client: Any, register: Any, config: Any, seated: int) -> AsyncIterator[Party]:
    """`seated` users (the first owns the room) seated in one room, one more in it standing."""
    registered = await asyncio.gather(*(register(name=f"Gifter {i}") for i in range(seated + 1)))
    mes = [await (await client.get("/api/user", headers=bearer(r["token"]))).json() for r in registered]
    users = [Member(int(me["id"]), r["token"], Peer()) for me, r in zip(mes, registered, strict=True)]
    async with db(config.database_url) as conn:
        await conn.execute("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = "
                           "'super_admin'", users[0].id)  # fmt: skip
        await conn.executemany("INSERT INTO gifts (id, name, price) VALUES ($1, $2, $3)",
                               [(gid, f"Gift {gid}", price) for gid, price in PRICES.items()])  # fmt: skip
        members = [u.id for u in users[seated // 2 : seated // 2 + 2]]  # two agency members
        agency = await conn.fetchval("INSERT INTO agencies (name, owner_id) VALUES ('storm', $1) RETURNING id",
                                     users[1].id)  # fmt: skip
        await conn.executemany("INSERT INTO agency_members (agency_id, user_id) VALUES ($1, $2)",
                               [(agency, m) for m in members])  # fmt: skip
        split = {r["key"]: int(r["value"]) for r in await conn.fetch("SELECT key, value FROM economy_settings")}
    room_id = int(mes[0]["room"]["id"])
    try:
        for i, user in enumerate(users):
            await user.peer.connect(url_of(client), user.token)
            await join(user.peer, room_id)
            if i < seated:
                assert (await user.peer.call("seat:take", {"roomId": room_id, "seatIndex": i}))["success"]
        yield Party(room_id, users[0].id, users[:seated], users[seated], {m: int(agency) for m in members}, split)
        for user in users:
            for name, events in user.peer.events.items():
                for data in events:
                    decode_event(name, data)  # every event received matches its schema
    finally:
        for user in users:
            await user.peer.close()


async def adjust(client: Any, admin: Member, user: Member, amount: int) -> int:
    body = {"currency": "coins", "amount": amount, "direction": "grant", "reason": "storm",
            "idempotency_key": f"grant-{uuid.uuid4().hex}"}  # fmt: skip
    resp = await client.post(f"/api/v1/admin/wallets/{user.id}/adjust", headers=bearer(admin.token), json=body)
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["data"]["balance"])


def gift_legs(p: Party, sender: int, recipients: list[int], gift_id: int, quantity: int) -> list[money.Leg]:
    legs: list[money.Leg] = []
    total = PRICES[gift_id] * quantity
    for recipient in recipients:
        split = money.split_gift(total, p.settings, agency_member=recipient in p.agencies, has_room_owner=True)
        legs += money.gift_legs(sender, recipient, total, split, agency_id=p.agencies.get(recipient),
                                room_owner=p.owner)  # fmt: skip
    return money.merge_legs(legs)


async def drain(client: Any) -> None:
    """Flush until no outbox holds an entry, nor one a running flusher has taken but not finished."""
    svc = client.app[SERVICES]
    for _ in range(200):
        await flush_all(svc, svc.wallets, "test")
        busy = 0
        for shard in range(svc.keys.economy_shards):
            outbox = svc.keys.outbox(shard)
            busy += await svc.redis.xlen(outbox) + (await svc.redis.xpending(outbox, GROUP))["pending"]
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outboxes never drained")


async def storm(p: Party, rng: random.Random, per_member: int, max_recipients: int,
                prefix: str) -> list[tuple[Member, dict[str, Any], dict[str, Any]]]:  # fmt: skip
    """Every member sends `per_member` random gifts to 1..`max_recipients` others, about 30% of them
    twice (a replay: the same idempotency key), all at once in a shuffled order; (member, payload, ack)."""
    ids = [m.id for m in p.members]
    sends: list[tuple[Member, dict[str, Any]]] = []
    for member in p.members:
        others = [i for i in ids if i != member.id]
        for _ in range(per_member):
            payload = {"roomId": p.room_id, "giftId": rng.choice(list(PRICES)), "quantity": rng.randint(1, 3),
                       "idempotencyKey": f"{prefix}-{uuid.uuid4().hex}",
                       "recipientIds": rng.sample(others, rng.randint(1, max_recipients))}  # fmt: skip
            sends.append((member, payload))
            if rng.random() < 0.3:
                sends.append((member, dict(payload)))
    rng.shuffle(sends)
    acks = await asyncio.gather(*(m.peer.call("gift:send", payload, timeout=30) for m, payload in sends))
    return [(m, payload, ack) for (m, payload), ack in zip(sends, acks, strict=True)]


async def wallet(client: Any, user: Member) -> dict[str, int]:
    resp = await client.get("/api/v1/wallet", headers=bearer(user.token))
    assert resp.status == 200, await resp.text()
    data: dict[str, int] = (await resp.json())["data"]
    return data


async def test_gift_storm_every_coin_is_accounted_for(client: Any, register: Any, config: Any) -> None:
    rng = random.Random(20261125)
    async with party(client, register, config, 8) as p:
        admin, ids = p.members[0], [m.id for m in p.members]
        expected: dict[int, dict[str, int]] = {u.id: {"coins": 0, "diamonds": 0} for u in [*p.members, p.watcher]}
        for member in p.members:
            grant = rng.randint(100, 600)
            assert await adjust(client, admin, member, grant) == grant
            expected[member.id]["coins"] = grant
        sends: list[tuple[Member, dict[str, Any]]] = []
        for member in p.members:
            others = [i for i in ids if i != member.id]
            for n in range(15):
                gift_id, quantity = rng.choice(list(PRICES)), rng.randint(1, 4)
                if n == 0:  # always beyond anyone's funds
                    gift_id, quantity = 903, 9999
                payload: dict[str, Any] = {"roomId": p.room_id, "giftId": gift_id, "quantity": quantity,
                                           "idempotencyKey": f"storm-{uuid.uuid4().hex}"}  # fmt: skip
                if rng.random() < 0.6:
                    payload["recipientId"] = rng.choice(others)
                else:  # a list: the sender and the standing watcher are dropped silently
                    payload["recipientIds"] = [*rng.sample(others, rng.randint(2, 3)), member.id, p.watcher.id]
                sends.append((member, payload))
                if rng.random() < 0.2:
                    sends.append((member, dict(payload)))  # a retry with the same key
        rng.shuffle(sends)
        acks = await asyncio.gather(*(m.peer.call("gift:send", payload, timeout=30) for m, payload in sends))

        platform, agency_coins, outcomes = 0, defaultdict(int), Counter[str]()
        applied_keys: Counter[str] = Counter()
        broadcasts: Counter[int] = Counter()  # gift:received events each user should get
        for (member, payload), ack in zip(sends, acks, strict=True):
            if not ack["success"]:
                assert ack["error"] == "Insufficient funds" and ack["required"] > ack["available"] >= 0, ack
                outcomes["refused"] += 1
                continue
            assert ack["balance"] >= 0
            key = payload["idempotencyKey"]
            if ack.get("replay"):
                outcomes["replay"] += 1
                continue
            applied_keys[key] += 1
            outcomes["applied"] += 1
            recipients = ack["acceptedRecipientIds"]
            wanted = [payload["recipientId"]] if "recipientId" in payload else payload["recipientIds"][:-2]
            assert recipients == wanted, (payload, ack)
            for leg in gift_legs(p, member.id, recipients, payload["giftId"], payload["quantity"]):
                if leg.account_type == "user":
                    expected[leg.account_id][leg.currency] += leg.amount
                elif leg.account_type == "platform":
                    platform += leg.amount
                elif leg.account_type == "agency":
                    agency_coins[leg.account_id] += leg.amount
            for other in [*p.members, p.watcher]:
                broadcasts[other.id] += 0 if other.id == member.id else len(recipients) + 1
        replayed = {payload["idempotencyKey"] for (_m, payload), ack in zip(sends, acks, strict=True)
                    if ack["success"] and ack.get("replay")}  # fmt: skip
        assert all(n == 1 for n in applied_keys.values()) and replayed <= set(applied_keys)
        assert outcomes["refused"] >= 8 and outcomes["applied"] > 0 and outcomes["replay"] > 0, outcomes

        await drain(client)
        for user in [*p.members, p.watcher]:
            assert await wallet(client, user) == expected[user.id], user.id
            assert min(expected[user.id].values()) >= 0
            await user.peer.wait_for("gift:received", broadcasts[user.id], timeout=10)
        svc = client.app[SERVICES]
        report = await reconcile(svc)
        assert report.ok, report.render()
        coins = report.totals["coins"]
        grants = sum(balance["coins"] for balance in expected.values()) + platform + sum(agency_coins.values())
        assert coins.get("platform", 0) == platform and coins.get("agency", 0) == sum(agency_coins.values())
        assert coins["mint"] == -grants
        diamonds = sum(balance["diamonds"] for balance in expected.values())
        assert report.totals.get("diamonds", {}).get("user", 0) == diamonds
        for user in [*p.members, p.watcher]:  # replays are never broadcast
            assert len(user.peer.events["gift:received"]) == broadcasts[user.id]


async def test_gift_send_refusals_combos_and_events(client: Any, register: Any, config: Any) -> None:
    async with party(client, register, config, 3) as p:
        owner, a, b = p.members
        assert await adjust(client, owner, a, 100) == 100
        base = {"roomId": p.room_id, "giftId": 901, "quantity": 1}

        async def send(member: Member, **changes: Any) -> dict[str, Any]:
            ack: dict[str, Any] = await member.peer.call("gift:send", {**base, **changes})
            return ack

        assert (await send(a, giftId=999_999, recipientId=b.id))["error"] == "Gift not found"
        assert (await send(a, recipientId=a.id))["error"] == "Cannot send gift to yourself"
        assert (await send(a, recipientId=p.watcher.id))["error"] == "Recipient is not seated"
        assert (await send(a, recipientIds=[p.watcher.id, a.id]))["error"] == "No recipients seated"
        poor = await send(a, giftId=903, quantity=2, recipientId=b.id)
        assert poor["success"] is False and poor["error"] == "Insufficient funds"
        assert (poor["required"], poor["available"]) == (300, 100)
        assert await wallet(client, a) == {"coins": 100, "diamonds": 0}  # refusals charge nothing

        combos = []
        for quantity in (1, 2, 3):
            ack = await send(a, recipientIds=[b.id, owner.id], quantity=quantity,
                             idempotencyKey=f"combo-{uuid.uuid4().hex}")  # fmt: skip
            assert ack["success"] is True and ack["acceptedRecipientIds"] == [b.id, owner.id], ack
            combos.append(ack["combo"])
        assert [c["count"] for c in combos] == [1, 3, 6] and [c["sends"] for c in combos] == [1, 2, 3]
        assert len({c["comboId"] for c in combos}) == 1
        for watcher in (b.peer, p.watcher.peer, a.peer):  # the room sees each repeat, the sender too
            events = await watcher.wait_for("gift:combo", 2)
            assert [(e["count"], e["sends"], e["comboId"]) for e in events] == [
                (c["count"], c["sends"], c["comboId"]) for c in combos[1:]]  # fmt: skip
            assert all(e["senderId"] == a.id and e["recipientIds"] == [b.id, owner.id] for e in events)
        other = await send(a, recipientIds=[b.id], idempotencyKey=f"combo-{uuid.uuid4().hex}")
        assert other["combo"]["count"] == 1 and other["combo"]["comboId"] != combos[0]["comboId"]
        await drain(client)
        total = 7 * (1 + 2 + 3) * 2 + 7
        assert await wallet(client, a) == {"coins": 100 - total, "diamonds": 0}
        report = await reconcile(client.app[SERVICES])
        assert report.ok, report.render()
