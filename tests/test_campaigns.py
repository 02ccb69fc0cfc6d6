"""Campaigns (engine/progression/campaigns*.py, sql/0031) against real PostgreSQL, Redis and sockets:
the window's boundaries and the gift filter as the ledger trigger counts them, a gift_count qualifier
paid once however often the watcher runs, 50 concurrent qualifiers (real socket gifts, then
concurrent watcher passes) against a budget for 17, a top_senders close paying ranks once, the
public reads, and the staff editor's permissions, validation and audit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest

from engine.appkeys import SERVICES
from engine.economy.actions import get_balances
from engine.progression import campaigns
from engine.progression import campaigns_store as store
from engine.progression.rewards import RewardItem, grant_reward
from tests.helpers import User, bearer, db, drain_ledger, join, new_user
from tests.test_badges import new_badge, owned_codes

ROSE, CAR = 911, 912  # prices 5 and 20
ADMIN = "/api/v1/admin/campaigns"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def body(**changes: Any) -> dict[str, Any]:
    """A valid campaign: gift_count 2 roses during the next hour, 30 coins each, budget 1000."""
    out: dict[str, Any] = {
        "code": f"c_{uuid.uuid4().hex[:10]}",
        "title": "Spring roses",
        "starts_at": (now() - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now() + dt.timedelta(hours=1)).isoformat(),
        "rule": {"kind": "gift_count", "count": 2, "gift_id": ROSE},
        "prizes": [{"items": [{"kind": "coins", "amount": 30}]}],
        "budget_coins": 1000,
        "state": "active",
    }
    return out | changes


async def create(client: Any, staff: User, **changes: Any) -> dict[str, Any]:
    resp = await client.post(ADMIN, json=body(**changes), headers=bearer(staff.token))
    assert resp.status == 201, await resp.text()
    created: dict[str, Any] = (await resp.json())["data"]
    return created


async def set_up(client: Any) -> tuple[User, User]:
    """The catalog's two gifts, and a staff member (admin: `catalog.manage`, `economy.grant`)."""
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES ($1, 'Rose', 5), ($2, 'Car', 20)", ROSE, CAR)
    staff = await new_user(client, "Staff", role="admin")
    host = await new_user(client, "Host")
    return staff, host


async def grant(client: Any, staff: User, user: User, coins: int) -> None:
    body = {"currency": "coins", "amount": coins, "direction": "grant", "reason": "test",
            "idempotency_key": f"cg-{uuid.uuid4().hex}"}  # fmt: skip
    resp = await client.post(f"/api/v1/admin/wallets/{user.id}/adjust", headers=bearer(staff.token), json=body)
    assert resp.status == 200, await resp.text()


async def seated_host(client: Any, connect: Any, host: User) -> Any:
    peer = await connect(client, host)
    await join(peer, host.room)
    assert (await peer.call("seat:take", {"roomId": host.room, "seatIndex": 0}))["success"]
    return peer


async def send(peer: Any, host: User, gift: int, quantity: int = 1) -> None:
    payload = {"roomId": host.room, "giftId": gift, "recipientId": host.id, "quantity": quantity,
               "idempotencyKey": uuid.uuid4().hex}  # fmt: skip
    ack = await peer.call("gift:send", payload, timeout=30)
    assert ack["success"] is True, ack


async def progress(svc: Any, campaign_id: int) -> dict[int, dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM campaign_progress WHERE campaign_id = $1", campaign_id)
    return {r["user_id"]: dict(r) for r in rows}


async def campaign_rewards(svc: Any, campaign_id: int) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM rewards WHERE source = 'campaign' "
                                "AND split_part(source_ref, ':', 1) = $1", str(campaign_id))  # fmt: skip
    return [dict(r) for r in rows]


async def all_granted(svc: Any, campaign_id: int) -> None:
    """Wait until every reward of the campaign has landed (its payer mints after its commit)."""
    async with asyncio.timeout(10):
        while any(r["granted_at"] is None for r in await campaign_rewards(svc, campaign_id)):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def spent(svc: Any, campaign_id: int) -> int:
    async with svc.pool.acquire() as conn:
        return int(await conn.fetchval("SELECT spent_coins FROM campaigns WHERE id = $1", campaign_id))


async def ledger_gift(conn: Any, sender: int, recipients: list[int], gift: int, at: dt.datetime,
                      quantity: int = 1) -> None:  # fmt: skip
    """A gift transaction as the flusher records it (engine/gifts/actions.py), at ledger time `at`."""
    metadata = {"room_id": 1, "recipients": recipients, "quantity": quantity, "price": 5 if gift == ROSE else 20,
                "key": uuid.uuid4().hex}  # fmt: skip
    await conn.execute(
        """INSERT INTO ledger_transactions (txn_id, kind, initiator_id, ref_type, ref_id, metadata, created_at)
           VALUES ($1, 'gift', $2, 'gift', $3, $4::jsonb, $5)""",
        uuid.uuid4(), sender, str(gift), json.dumps(metadata), at,
    )  # fmt: skip


async def test_the_window_counts_from_its_start_to_just_before_its_end(client: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    ann, bob = await new_user(client, "Ann"), await new_user(client, "Bob")
    starts = (now() + dt.timedelta(days=1)).replace(microsecond=0)  # in the future: no job closes it meanwhile
    ends = starts + dt.timedelta(hours=2)
    window = {"starts_at": starts.isoformat(), "ends_at": ends.isoformat()}
    roses = await create(client, staff, **window, rule={"kind": "gift_count", "count": 3, "gift_id": ROSE})
    coins = await create(client, staff, **window, rule={"kind": "top_senders", "top": 3},
                         prizes=[{"items": [{"kind": "coins", "amount": 10}]}])  # fmt: skip
    draft = await create(client, staff, **window, state="draft")
    tick = dt.timedelta(microseconds=1)
    async with db(svc.config.database_url) as conn:
        await ledger_gift(conn, ann.id, [host.id], ROSE, starts - tick)  # before: not counted
        await ledger_gift(conn, ann.id, [host.id], ROSE, starts)  # the first instant: counted
        await ledger_gift(conn, ann.id, [host.id, bob.id], ROSE, ends - tick, quantity=2)  # 2 × 2 recipients
        await ledger_gift(conn, ann.id, [host.id], ROSE, ends)  # the end is outside
        await ledger_gift(conn, ann.id, [host.id], CAR, starts + dt.timedelta(hours=1))  # not a rose
        await ledger_gift(conn, bob.id, [host.id], CAR, ends + dt.timedelta(hours=1))  # after: not counted
        await ledger_gift(conn, bob.id, [host.id], CAR, starts - dt.timedelta(hours=1))  # before: not counted
    by_rose = await progress(svc, roses["id"])
    assert set(by_rose) == {ann.id}
    assert (by_rose[ann.id]["gift_count"], by_rose[ann.id]["coins"]) == (5, 25)  # 1 + 2×2 roses of 5
    assert by_rose[ann.id]["qualified_at"] == ends - tick  # the third rose came with the last gift
    by_coins = await progress(svc, coins["id"])
    assert set(by_coins) == {ann.id} and (by_coins[ann.id]["gift_count"], by_coins[ann.id]["coins"]) == (6, 45)
    assert by_coins[ann.id]["qualified_at"] is None  # top_senders has no count to reach
    assert await progress(svc, draft["id"]) == {}  # a draft counts nothing


async def test_a_qualifier_is_paid_once_however_often_the_watcher_runs(client: Any, connect: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    ann, bob = await new_user(client, "Ann"), await new_user(client, "Bob")
    camp = await create(client, staff)
    badge = await new_badge(svc, {"kind": "event", "code": camp["code"]}, category="event")
    for user in (ann, bob):
        await grant(client, staff, user, 100)
    await seated_host(client, connect, host)
    a, b = await connect(client, ann), await connect(client, bob)
    for peer in (a, b):
        await join(peer, host.room)
    await send(a, host, ROSE)
    await send(a, host, CAR)  # not a rose: does not count
    await send(b, host, ROSE)
    await drain_ledger(svc)
    assert {u: p["qualified_at"] is not None for u, p in (await progress(svc, camp["id"])).items()} == {
        ann.id: False, bob.id: False}  # fmt: skip
    before = (await get_balances(svc, ann.id))["coins"]
    await send(a, host, ROSE)  # Ann's second rose: she qualifies
    await drain_ledger(svc)
    await asyncio.gather(*(campaigns.pay_qualifiers(svc) for _ in range(4)))
    await campaigns.watch(svc)
    await campaigns.pay_qualifiers(svc, camp["id"])
    await all_granted(svc, camp["id"])
    rewards = await campaign_rewards(svc, camp["id"])
    assert [(r["user_id"], r["source_ref"], r["state"]) for r in rewards] == [(ann.id, str(camp["id"]), "granted")]
    assert await spent(svc, camp["id"]) == 30
    assert (await get_balances(svc, ann.id))["coins"] == before - 5 + 30
    mine = (await progress(svc, camp["id"]))[ann.id]
    assert (mine["outcome"], mine["reward_id"]) == ("paid", rewards[0]["id"])
    assert badge["code"] in await owned_codes(svc, ann.id) and badge["code"] not in await owned_codes(svc, bob.id)
    # The public detail with `me`, and the results page.
    resp = await client.get(f"/api/v1/campaigns/{camp['id']}", headers=bearer(ann.token))
    detail = (await resp.json())["data"]
    assert resp.status == 200 and detail["spent_coins"] == 30 and detail["remaining_coins"] == 970
    assert detail["me"]["gift_count"] == 2 and detail["me"]["outcome"] == "paid"
    anonymous = await (await client.get(f"/api/v1/campaigns/{camp['id']}")).json()
    assert anonymous["data"]["me"] is None
    expired = await client.get(f"/api/v1/campaigns/{camp['id']}", headers=bearer("not-a-token"))
    assert expired.status == 401
    page = await (await client.get(f"/api/v1/campaigns/{camp['id']}/results?limit=1")).json()
    [first] = page["data"]["items"]
    assert (first["position"], first["user_id"], first["user"]["name"], first["outcome"]) == (1, ann.id, "Ann", "paid")
    assert first["reward"]["items"] == [{"kind": "coins", "amount": 30, "ref": 0, "days": 0}]
    rest = await client.get(f"/api/v1/campaigns/{camp['id']}/results?cursor={page['data']['next_cursor']}")
    [second] = (await rest.json())["data"]["items"]
    assert (second["position"], second["user_id"], second["outcome"], second["reward"]) == (2, bob.id, None, None)


async def test_fifty_concurrent_qualifiers_and_a_budget_for_seventeen(client: Any, connect: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    camp = await create(client, staff, rule={"kind": "gift_count", "count": 1},
                        prizes=[{"items": [{"kind": "coins", "amount": 10}]}], budget_coins=17 * 10)  # fmt: skip
    senders = await asyncio.gather(*(new_user(client, f"Sender {i}") for i in range(50)))
    await asyncio.gather(*(grant(client, staff, s, 50) for s in senders))
    await seated_host(client, connect, host)
    peers = [await connect(client, s) for s in senders]
    await asyncio.gather(*(join(p, host.room) for p in peers))
    await asyncio.gather(*(send(p, host, ROSE) for p in peers))  # 50 qualifying gifts at once
    await drain_ledger(svc)
    # Concurrent watcher passes (beside the app's own, which runs every 2 s).
    await asyncio.gather(*(campaigns.pay_qualifiers(svc) for _ in range(6)), campaigns.watch(svc))
    rows = await progress(svc, camp["id"])
    assert len(rows) == 50 and all(r["qualified_at"] is not None for r in rows.values())
    outcomes = sorted(r["outcome"] for r in rows.values())
    assert outcomes == ["budget_exhausted"] * 33 + ["paid"] * 17
    rewards = await campaign_rewards(svc, camp["id"])
    assert len(rewards) == 17 and {r["user_id"] for r in rewards} == {
        u for u, r in rows.items() if r["outcome"] == "paid"
    }
    assert await spent(svc, camp["id"]) == 170
    # Nothing more on further passes, and the coins landed once per paid sender.
    await asyncio.gather(*(campaigns.pay_qualifiers(svc) for _ in range(3)))
    assert len(await campaign_rewards(svc, camp["id"])) == 17 and await spent(svc, camp["id"]) == 170
    await all_granted(svc, camp["id"])  # (the app's own watcher may be minting the ones it decided)
    balances = [(await get_balances(svc, s.id))["coins"] for s in senders]
    assert sorted(balances) == [45] * 33 + [55] * 17
    sample = svc.metrics.registry.get_sample_value
    assert sample("flylive_campaign_rewards_total", {"kind": "gift_count", "outcome": "paid"}) == 17
    assert sample("flylive_campaign_rewards_total", {"kind": "gift_count", "outcome": "budget_exhausted"}) == 33
    # A raised budget serves the refused qualifiers again, in the order they qualified.
    waiting = sorted((r["qualified_at"], u) for u, r in rows.items() if r["outcome"] == "budget_exhausted")
    raised = await client.patch(f"{ADMIN}/{camp['id']}", json={"budget_coins": 200}, headers=bearer(staff.token))
    assert raised.status == 200
    await asyncio.gather(*(campaigns.pay_qualifiers(svc) for _ in range(3)))
    rows = await progress(svc, camp["id"])
    assert {u for u, r in rows.items() if r["outcome"] == "paid"} >= {u for _, u in waiting[:3]}
    assert sorted(r["outcome"] for r in rows.values()) == ["budget_exhausted"] * 30 + ["paid"] * 20
    assert len(await campaign_rewards(svc, camp["id"])) == 20 and await spent(svc, camp["id"]) == 200
    # The database refuses an overspend whatever the code does.
    async with db(svc.config.database_url) as conn:
        assert await store.reserve_txn(conn, camp["id"], 1) is None
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE campaigns SET spent_coins = budget_coins + 1 WHERE id = $1", camp["id"])


async def test_top_senders_are_paid_by_rank_at_the_close_once(client: Any, connect: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    people = [await new_user(client, name) for name in ("Ann", "Bob", "Cat", "Dan")]
    prizes = [{"rank_from": 1, "items": [{"kind": "coins", "amount": 100}]},
              {"rank_from": 2, "rank_to": 3, "items": [{"kind": "coins", "amount": 50}]}]  # fmt: skip
    camp = await create(client, staff, rule={"kind": "top_senders", "top": 3, "min_coins": 10}, prizes=prizes,
                        budget_coins=180)  # fmt: skip
    await seated_host(client, connect, host)
    amounts = {people[0].id: [CAR, CAR], people[1].id: [CAR], people[2].id: [ROSE, ROSE], people[3].id: [ROSE]}
    for person in people:
        await grant(client, staff, person, 100)
        peer = await connect(client, person)
        await join(peer, host.room)
        for gift in amounts[person.id]:
            await send(peer, host, gift)
    await drain_ledger(svc)
    assert await campaigns.close_due(svc) == []  # not ended yet
    async with db(svc.config.database_url) as conn:  # the window ends now; no grace
        await conn.execute("UPDATE campaigns SET ends_at = now() WHERE id = $1", camp["id"])
        await conn.execute("UPDATE economy_settings SET value = 0 WHERE key = 'campaign_close_grace_seconds'")
    closed = await asyncio.gather(*(campaigns.close_due(svc) for _ in range(3)), campaigns.watch(svc))
    assert sum(len(c) for c in closed[:3]) <= 1
    assert await campaigns.close_due(svc) == [] and not await campaigns.close(svc, camp["id"])
    rewards = sorted((r["source_ref"], r["user_id"]) for r in await campaign_rewards(svc, camp["id"]))
    # Ann 40 coins (#1, 100), Bob 20 (#2, 50), Cat 10 (#3: 50 more would pass the budget), Dan 5 < min_coins.
    assert rewards == [(f"{camp['id']}:1", people[0].id), (f"{camp['id']}:2", people[1].id)]
    assert await spent(svc, camp["id"]) == 150
    rows = await progress(svc, camp["id"])
    assert [(rows[p.id]["rank"], rows[p.id]["outcome"]) for p in people] == [
        (1, "paid"), (2, "paid"), (3, "budget_exhausted"), (None, None)]  # fmt: skip
    await all_granted(svc, camp["id"])
    assert (await get_balances(svc, people[0].id))["coins"] == 100 - 40 + 100
    page = (await (await client.get(f"/api/v1/campaigns/{camp['id']}/results")).json())["data"]
    assert page["campaign"]["state"] == "closed" and page["campaign"]["closed_at"] is not None
    assert [(i["position"], i["user_id"], i["coins"], i["rank"]) for i in page["items"]] == [
        (1, people[0].id, 40, 1), (2, people[1].id, 20, 2), (3, people[2].id, 10, 3),
        (4, people[3].id, 5, None)]  # fmt: skip
    # A closed campaign counts no more gifts and takes no edits.
    async with db(svc.config.database_url) as conn:
        await ledger_gift(conn, people[3].id, [host.id], CAR, now() - dt.timedelta(minutes=1))
    assert (await progress(svc, camp["id"]))[people[3].id]["coins"] == 5
    edit = await client.patch(f"{ADMIN}/{camp['id']}", json={"title": "Later"}, headers=bearer(staff.token))
    assert edit.status == 409 and (await edit.json())["error"]["code"] == "campaign_ended"


async def test_staff_only_validated_audited_and_unknown_ids(client: Any) -> None:
    svc = client.app[SERVICES]
    staff, user = await set_up(client)
    moderator = await new_user(client, "Mod", role="moderator")
    for who in (user, moderator):
        assert (await client.post(ADMIN, json=body(), headers=bearer(who.token))).status == 403
        assert (await client.get(ADMIN, headers=bearer(who.token))).status == 403
        assert (await client.patch(f"{ADMIN}/1", json={}, headers=bearer(who.token))).status == 403
    assert (await client.post(ADMIN, json=body())).status == 401
    bad_bodies = {
        "ends_at": body(ends_at=(now() - dt.timedelta(hours=2)).isoformat()),
        "prizes": body(prizes=[{"items": [{"kind": "coins", "amount": 1}]}] * 2),
        "prizes.1": body(rule={"kind": "top_senders", "top": 2},
                         prizes=[{"items": [{"kind": "coins", "amount": 5}]},
                                 {"rank_from": 2, "rank_to": 4, "items": [{"kind": "coins", "amount": 1}]}]),
        "prizes.0.items.0": body(prizes=[{"items": [{"kind": "frame", "ref": 987654, "days": 3}]}]),
        "rule": body(rule={"kind": "gift_count", "count": 0}),
        "budget_coins": body(budget_coins=-1),
        "starts_at": body(starts_at="2026-12-01T10:00:00"),  # no time zone
    }  # fmt: skip
    for field, bad in bad_bodies.items():
        resp = await client.post(ADMIN, json=bad, headers=bearer(staff.token))
        fields = (await resp.json())["error"].get("fields") or {}
        assert resp.status == 422 and any(k.startswith(field) for k in fields), (field, fields)
    draft = await create(client, staff, state="draft")
    taken = await client.post(ADMIN, json=body(code=draft["code"]), headers=bearer(staff.token))
    assert taken.status == 409 and (await taken.json())["error"]["code"] == "campaign_code_taken"
    url = f"{ADMIN}/{draft['id']}"
    # A draft is not public; edited freely; then activated.
    assert (await client.get(f"/api/v1/campaigns/{draft['id']}")).status == 404
    changed = await client.patch(url, json={"title": "Roses!", "rule": {"kind": "gift_count", "count": 5}},
                                 headers=bearer(staff.token))  # fmt: skip
    assert changed.status == 200 and (await changed.json())["data"]["rule"]["count"] == 5
    assert (await client.patch(url, json={"title": None}, headers=bearer(staff.token))).status == 422
    active = await client.patch(url, json={"state": "active"}, headers=bearer(staff.token))
    assert active.status == 200 and (await active.json())["data"]["state"] == "active"
    # Running: the rule is frozen, the budget may not go under what is spent, the end may move.
    frozen = await client.patch(url, json={"rule": {"kind": "gift_count", "count": 1}}, headers=bearer(staff.token))
    assert frozen.status == 409 and (await frozen.json())["error"]["code"] == "campaign_running"
    async with db(svc.config.database_url) as conn:
        await conn.execute("UPDATE campaigns SET spent_coins = 60 WHERE id = $1", draft["id"])
    low = await client.patch(url, json={"budget_coins": 50}, headers=bearer(staff.token))
    assert low.status == 422 and "budget_coins" in (await low.json())["error"]["fields"]
    later = (now() + dt.timedelta(days=2)).isoformat()
    moved = await client.patch(url, json={"ends_at": later, "budget_coins": 60}, headers=bearer(staff.token))
    assert moved.status == 200 and (await moved.json())["data"]["remaining_coins"] == 0
    back = await client.patch(url, json={"state": "draft"}, headers=bearer(staff.token))
    assert back.status == 409 and (await back.json())["error"]["code"] == "campaign_state"
    # Unknown ids.
    for resp in (await client.patch(f"{ADMIN}/99999999", json={"title": "x"}, headers=bearer(staff.token)),
                 await client.get("/api/v1/campaigns/99999999"), await client.get("/api/v1/campaigns/99999999/results"),
                 await client.get("/api/v1/campaigns/abc")):  # fmt: skip
        assert resp.status == 404
    # Lists: the public one shows active campaigns (not drafts, not cancelled), page by page.
    second = await create(client, staff, starts_at=(now() + dt.timedelta(hours=1)).isoformat(),
                          ends_at=(now() + dt.timedelta(hours=3)).isoformat())  # fmt: skip
    hidden = await create(client, staff, state="draft")
    cancelled = await client.patch(f"{ADMIN}/{hidden['id']}", json={"state": "cancelled"}, headers=bearer(staff.token))
    assert cancelled.status == 200
    first_page = (await (await client.get("/api/v1/campaigns?limit=1")).json())["data"]
    rest = (await (await client.get(f"/api/v1/campaigns?cursor={first_page['next_cursor']}")).json())["data"]
    assert [c["id"] for c in first_page["items"] + rest["items"]] == [draft["id"], second["id"]]
    assert rest["next_cursor"] is None
    staff_page = (await (await client.get(f"{ADMIN}?state=cancelled", headers=bearer(staff.token))).json())["data"]
    assert [c["id"] for c in staff_page["items"]] == [hidden["id"]] and staff_page["items"][0]["created_by"] == staff.id
    async with db(svc.config.database_url) as conn:
        audit = await conn.fetch("SELECT action, target_id FROM audit_log WHERE action LIKE 'campaign.%' "
                                 "AND actor_id = $1 ORDER BY id", staff.id)  # fmt: skip
    assert [a["action"] for a in audit].count("campaign.create") == 3
    assert ("campaign.update", str(draft["id"])) in [(a["action"], a["target_id"]) for a in audit]


async def test_a_gift_count_close_pays_the_last_qualifiers_and_badges_every_participant(client: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    ann, bob, cat = await new_user(client, "Ann"), await new_user(client, "Bob"), await new_user(client, "Cat")
    camp = await create(client, staff)
    badge = await new_badge(svc, {"kind": "event", "code": camp["code"]}, category="event")
    # Cat already holds this campaign's reward (as a crash between the reward and the outcome would leave it).
    granted = await grant_reward(svc, user_id=cat.id, source="campaign", source_ref=str(camp["id"]),
                                 items=[RewardItem(kind="coins", amount=30)])  # fmt: skip
    assert granted is not None
    async with db(svc.config.database_url) as conn:
        await conn.execute("UPDATE campaigns SET ends_at = now() WHERE id = $1", camp["id"])
        await conn.execute("UPDATE economy_settings SET value = 0 WHERE key = 'campaign_close_grace_seconds'")
        for user in (ann, cat):  # two roses: both qualify
            await ledger_gift(conn, user.id, [host.id], ROSE, now() - dt.timedelta(minutes=5), quantity=2)
        await ledger_gift(conn, bob.id, [host.id], ROSE, now() - dt.timedelta(minutes=5))  # one: takes part
    # Twice at once, and once more (the app's own watcher may be the one that closes it).
    runs = [*await asyncio.gather(campaigns.close(svc, camp["id"]), campaigns.close(svc, camp["id"])),
            await campaigns.close(svc, camp["id"])]  # fmt: skip
    assert runs.count(True) <= 1 and runs[-1] is False
    rows = await progress(svc, camp["id"])
    assert (rows[ann.id]["outcome"], rows[bob.id]["outcome"]) == ("paid", None)
    # The duplicate gave its reservation back: only Ann's prize is spent.
    assert (rows[cat.id]["outcome"], rows[cat.id]["reward_id"]) == ("duplicate", granted["id"])
    assert await spent(svc, camp["id"]) == 30
    assert len(await campaign_rewards(svc, camp["id"])) == 2
    for user in (ann, bob, cat):
        assert badge["code"] in await owned_codes(svc, user.id)
    async with svc.pool.acquire() as conn:
        closed = await store.get(conn, camp["id"])
    assert closed is not None and closed["state"] == "closed" and closed["closed_at"] is not None


async def test_a_cancelled_campaign_counts_and_pays_nothing_more(client: Any) -> None:
    svc = client.app[SERVICES]
    staff, host = await set_up(client)
    ann = await new_user(client, "Ann")
    camp = await create(client, staff)
    async with db(svc.config.database_url) as conn:
        await ledger_gift(conn, ann.id, [host.id], ROSE, now())
    resp = await client.patch(f"{ADMIN}/{camp['id']}", json={"state": "cancelled"}, headers=bearer(staff.token))
    assert resp.status == 200 and (await resp.json())["data"]["state"] == "cancelled"
    async with db(svc.config.database_url) as conn:
        await ledger_gift(conn, ann.id, [host.id], ROSE, now())  # would have been her second
    assert (await progress(svc, camp["id"]))[ann.id]["gift_count"] == 1
    assert await campaigns.pay_qualifiers(svc) == 0 and await campaign_rewards(svc, camp["id"]) == []
    public = await client.get(f"/api/v1/campaigns/{camp['id']}")
    assert public.status == 200 and (await public.json())["data"]["state"] == "cancelled"
    listed = (await (await client.get("/api/v1/campaigns")).json())["data"]["items"]
    assert camp["id"] not in [c["id"] for c in listed]
