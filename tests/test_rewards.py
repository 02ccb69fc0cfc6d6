"""The reward ledger (engine/progression/rewards*.py) against real PostgreSQL, Redis and sockets:
exactly once under concurrency, ledger sums, claims, the sweep, pushes and the daily login."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from aiohttp.test_utils import TestClient as Client

from engine.appkeys import SERVICES
from engine.economy.actions import get_balances
from engine.economy.reconcile import reconcile
from engine.progression import rewards
from engine.progression import rewards_store as store
from engine.progression.rewards_daily import grant_daily_login
from engine.progression.rewards_model import RewardItem, reward_txn_id
from tests.conftest import AppFactory
from tests.helpers import bearer, new_user
from tests.sockets import first

COINS = [RewardItem(kind="coins", amount=25)]


async def minted_for(svc: Any, user_id: int) -> int:
    async with svc.pool.acquire() as conn:
        return int(await conn.fetchval(
            """SELECT coalesce(sum(l.amount), 0) FROM ledger_entries l JOIN ledger_transactions t ON t.txn_id = l.txn_id
               WHERE t.kind = 'reward' AND l.account_type = 'user' AND l.account_id = $1""", user_id))  # fmt: skip


async def test_concurrent_grants_with_one_key_pay_once(client: Client) -> None:
    svc = client.app[SERVICES]
    user = await new_user(client)
    results = await asyncio.gather(*[
        rewards.grant_reward(svc, user_id=user.id, source="campaign", source_ref="spring", items=COINS)
        for _ in range(20)
    ])  # fmt: skip
    granted = [r for r in results if r is not None]
    assert len(granted) == 1 and granted[0]["state"] == "granted"
    assert (await get_balances(svc, user.id))["coins"] == 25
    report = await reconcile(svc)
    assert report.ok, report.problems
    assert await minted_for(svc, user.id) == 25


async def test_claim_race_pays_once_and_expired_is_refused(client: Client) -> None:
    svc = client.app[SERVICES]
    user, other = await new_user(client), await new_user(client)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    row = await rewards.grant_reward(svc, user_id=user.id, source="level", source_ref="wealth:5", items=COINS,
                                     claim_by=later)  # fmt: skip
    assert row is not None and row["state"] == "claimable"
    url = f"/api/v1/me/rewards/{row['id']}/claim"
    assert (await client.post(url, headers=bearer(other.token))).status == 404
    statuses = await asyncio.gather(*[client.post(url, headers=bearer(user.token)) for _ in range(10)])
    codes = sorted(r.status for r in statuses)
    assert codes == [200] + [409] * 9
    assert (await get_balances(svc, user.id))["coins"] == 25
    assert (await reconcile(svc)).ok
    assert await minted_for(svc, user.id) == 25
    # A claimable reward past its claim_by: refused with 410, and listed as expired.
    old = await rewards.grant_reward(svc, user_id=user.id, source="level", source_ref="wealth:6", items=COINS,
                                     claim_by=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))  # fmt: skip
    assert old is not None
    async with svc.pool.acquire() as conn:
        await conn.execute("UPDATE rewards SET claim_by = now() - interval '1 second' WHERE id = $1", old["id"])
    resp = await client.post(f"/api/v1/me/rewards/{old['id']}/claim", headers=bearer(user.token))
    assert resp.status == 410 and (await resp.json())["error"]["code"] == "reward_expired"
    listed = await (await client.get("/api/v1/me/rewards?limit=1", headers=bearer(user.token))).json()
    assert listed["data"]["items"][0]["state"] == "expired" and listed["data"]["next_cursor"]
    rest = await (await client.get(f"/api/v1/me/rewards?cursor={listed['data']['next_cursor']}",
                                   headers=bearer(user.token))).json()  # fmt: skip
    assert [r["state"] for r in rest["data"]["items"]] == ["claimed"]
    assert (await get_balances(svc, user.id))["coins"] == 25


async def test_sweep_completes_a_pending_reward_once(client: Client) -> None:
    svc = client.app[SERVICES]
    user = await new_user(client)
    async with svc.pool.acquire() as conn, conn.transaction():  # as if the process died after the commit
        row = await rewards.grant_reward_txn(conn, user_id=user.id, source="ranking", source_ref="daily:1",
                                             items=[RewardItem(kind="coins", amount=40)])  # fmt: skip
    assert row is not None and row["state"] == "pending"
    assert await rewards.sweep(svc) == 1
    assert (await get_balances(svc, user.id))["coins"] == 40
    async with svc.pool.acquire() as conn:  # a replay of the payment changes nothing
        await conn.execute("UPDATE rewards SET state = 'pending', granted_at = NULL WHERE id = $1", row["id"])
    assert await rewards.sweep(svc) == 1
    await rewards.pay_pending(svc, [row["id"]])
    assert (await get_balances(svc, user.id))["coins"] == 40
    assert (await reconcile(svc)).ok
    assert await minted_for(svc, user.id) == 40
    async with svc.pool.acquire() as conn:
        assert (await store.get(conn, row["id"]))["state"] == "granted"  # type: ignore[index]


async def test_reward_earned_and_balance_reach_the_socket(client: Client, connect: Any) -> None:
    svc = client.app[SERVICES]
    user = await new_user(client)
    peer = await connect(client, user)
    row = await rewards.grant_reward(svc, user_id=user.id, source="badge", source_ref="first_gift",
                                     items=[RewardItem(kind="coins", amount=7), RewardItem(kind="badge", ref=3)],
                                     note="First gift")  # fmt: skip
    assert row is not None
    await peer.wait_until(lambda: any(e["id"] == row["id"] for e in peer.events["reward.earned"]))
    earned = next(e for e in peer.events["reward.earned"] if e["id"] == row["id"])
    assert earned["state"] == "granted" and earned["items"][1] == {"kind": "badge", "amount": 0, "ref": 3, "days": 0}
    balance = await first(peer, "balance.updated")
    assert balance.coins == (await get_balances(svc, user.id))["coins"] == 7


async def test_frames_land_in_the_inventory_and_vip_through_the_port(client: Client) -> None:
    svc = client.app[SERVICES]
    user = await new_user(client)
    async with svc.pool.acquire() as conn:
        frame = await conn.fetchval("INSERT INTO mall_items (category, name, price) VALUES ('frame', $1, 100) "
                                    "RETURNING id", f"reward-{uuid.uuid4().hex[:8]}")  # fmt: skip
    row = await rewards.grant_reward(svc, user_id=user.id, source="level", source_ref="charm:2",
                                     items=[RewardItem(kind="frame", ref=frame, days=7)])  # fmt: skip
    assert row is not None and row["state"] == "granted"
    async with svc.pool.acquire() as conn:
        expires = await conn.fetchval("SELECT expires_at FROM user_items WHERE user_id = $1 AND item_id = $2",
                                      user.id, frame)  # fmt: skip
    assert expires > dt.datetime.now(dt.UTC) + dt.timedelta(days=6)
    # create_app plugs the VIP port in (engine/vip/rewards_port.py): the item gives the tier for its days.
    vip_row = await rewards.grant_reward(svc, user_id=user.id, source="vip_daily", source_ref="x",
                                         items=[RewardItem(kind="vip", ref=1, days=3)])  # fmt: skip
    assert vip_row is not None and vip_row["state"] == "granted"
    async with svc.pool.acquire() as conn:
        level, vip_expires = await conn.fetchrow("SELECT vip_level, vip_expires_at FROM users WHERE id = $1", user.id)
    assert level == 1 and dt.timedelta(days=2) < vip_expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=3)


async def test_daily_login_once_per_business_day_across_local_midnight(make_client: AppFactory) -> None:
    client = await make_client(business_timezone="Asia/Kolkata")  # UTC+05:30
    svc = client.app[SERVICES]
    user = await new_user(client)
    before_midnight = dt.datetime(2026, 3, 1, 18, 20, tzinfo=dt.UTC)  # 23:50 in Kolkata, 1 March
    assert (await grant_daily_login(svc, user.id, now=before_midnight)) is not None
    assert (await grant_daily_login(svc, user.id, now=before_midnight + dt.timedelta(minutes=5))) is None
    after_midnight = before_midnight + dt.timedelta(minutes=15)  # 00:05 on 2 March, still 1 March in UTC
    second = await grant_daily_login(svc, user.id, now=after_midnight)
    assert second is not None and second["source_ref"] == "2026-03-02"
    assert (await grant_daily_login(svc, user.id, now=after_midnight + dt.timedelta(hours=3))) is None
    async with svc.pool.acquire() as conn:
        refs = await conn.fetch("SELECT source_ref FROM rewards WHERE user_id = $1 AND source = 'daily_login' "
                                "AND source_ref LIKE '2026-03-%' ORDER BY source_ref", user.id)  # fmt: skip
    assert [r["source_ref"] for r in refs] == ["2026-03-01", "2026-03-02"]
    assert (await get_balances(svc, user.id))["coins"] >= 20


async def test_daily_login_route_pays_once_a_day(client: Client) -> None:
    user = await new_user(client)
    earned = await client.post("/api/v1/me/rewards/daily-login", headers=bearer(user.token))
    assert earned.status == 200, await earned.text()
    reward = (await earned.json())["data"]
    assert reward["source"] == "daily_login" and reward["items"] == [
        {"kind": "coins", "amount": 10, "ref": 0, "days": 0}
    ]
    again = await client.post("/api/v1/me/rewards/daily-login", headers=bearer(user.token))
    assert (await again.json())["data"] is None
    assert (await get_balances(client.app[SERVICES], user.id))["coins"] == 10


async def test_admin_grant_is_audited_once_per_key(client: Client) -> None:
    svc = client.app[SERVICES]
    staff, user = await new_user(client, role="admin"), await new_user(client)
    body = {"user_id": user.id, "items": [{"kind": "coins", "amount": 50}], "note": "apology",
            "idempotency_key": f"apology-{uuid.uuid4().hex[:8]}"}  # fmt: skip
    assert (await client.post("/api/v1/admin/rewards", json=body, headers=bearer(user.token))).status == 403
    first_grant = await client.post("/api/v1/admin/rewards", json=body, headers=bearer(staff.token))
    assert first_grant.status == 201, await first_grant.text()
    replay = await client.post("/api/v1/admin/rewards", json=body, headers=bearer(staff.token))
    assert replay.status == 200 and (await replay.json())["data"]["replay"] is True
    assert (await get_balances(svc, user.id))["coins"] == 50
    async with svc.pool.acquire() as conn:
        audits = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'reward.grant' AND target_id = $1",
                                     str(user.id))  # fmt: skip
    assert audits == 1
    assert reward_txn_id(user.id, "admin", body["idempotency_key"])
