"""VIP end to end (docs/vip.md): purchase, renewal and upgrade through REST with the ledger's
figures, the downgrade refusal, replays, refusals and races, gifts heard on a real socket, staff
tier edits, the sweep of interrupted purchases and the expiry job on live sockets."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from engine.appkeys import SERVICES, VIP
from engine.economy.flusher import flush_all
from engine.economy.reconcile import reconcile
from engine.vip import actions, store
from engine.vip.model import MONTH_SECONDS
from engine.vip.rewards_port import VipRewards
from tests.helpers import bearer, db, grant_role, heard_by, join, new_user
from tests.sockets import first
from tests.vip_setup import buy, fund, set_vip, standing

MONTH = dt.timedelta(seconds=MONTH_SECONDS)


async def ledger_burns(client: Any, user_id: int) -> list[int]:
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    async with db(svc.config.database_url) as conn:
        rows = await conn.fetch(
            """SELECT e.amount FROM ledger_transactions t JOIN ledger_entries e USING (txn_id)
               WHERE t.kind = 'vip_purchase' AND t.initiator_id = $1 AND e.account_type = 'burn'
               ORDER BY t.created_at""",
            user_id,
        )  # fmt: skip
    return [int(r["amount"]) for r in rows]


async def coins(client: Any, token: str) -> int:
    return int((await (await client.get("/api/v1/wallet", headers=bearer(token))).json())["data"]["coins"])


async def test_purchase_renew_and_upgrade_with_the_ledger(client: Any) -> None:
    user = await new_user(client)
    await fund(client, user.id, 70_000)
    first_buy = await buy(client, user.token, 1, 1, "vip-buy-0001")
    assert (first_buy["level"], first_buy["mode"], first_buy["price_coins"]) == (1, "new", 3_000)
    started = dt.datetime.fromisoformat(first_buy["expires_at"])

    renewed = await buy(client, user.token, 1, 1, "vip-buy-0002")
    assert renewed["mode"] == "renew" and dt.datetime.fromisoformat(renewed["expires_at"]) == started + MONTH

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    upgraded = await buy(client, user.token, 4, 1, "vip-buy-0003")
    after = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert (upgraded["level"], upgraded["mode"], upgraded["price_coins"]) == (4, "upgrade", 60_000)
    # At the (whole) second t of the upgrade: t + a month + the VIP1 time left × 3,000 / 60,000, rounded down.
    old_expiry, new_expiry = started + MONTH, dt.datetime.fromisoformat(upgraded["expires_at"])
    seconds = [before + dt.timedelta(seconds=s) for s in range(int((after - before).total_seconds()) + 1)]
    candidates = {t + MONTH + dt.timedelta(seconds=int((old_expiry - t).total_seconds()) * 3_000 // 60_000)
                  for t in seconds}  # fmt: skip
    assert new_expiry in candidates
    assert await standing(client, user.id) == (4, new_expiry)
    mine = (await (await client.get("/api/v1/me/vip", headers=bearer(user.token))).json())["data"]
    assert mine["level"] == 4 and mine["name"] == "VIP4" and mine["privileges"]["anti_mute"] is True

    assert await coins(client, user.token) == 70_000 - 66_000
    assert await ledger_burns(client, user.id) == [3_000, 3_000, 60_000]
    report = await reconcile(client.app[SERVICES])
    assert report.ok, report.render()


async def test_a_lower_tier_while_a_higher_is_in_force_is_409_and_costs_nothing(client: Any) -> None:
    user = await new_user(client)
    await fund(client, user.id, 100_000)
    await buy(client, user.token, 3, 1, "vip-down-0001")
    refused = await buy(client, user.token, 2, 1, "vip-down-0002", status=409)
    assert refused["code"] == "vip_downgrade"
    assert await coins(client, user.token) == 100_000 - 24_000
    assert (await standing(client, user.id))[0] == 3


async def test_replay_insufficient_funds_and_a_retry_after_topping_up(client: Any) -> None:
    user = await new_user(client)
    await fund(client, user.id, 10_000)
    bought = await buy(client, user.token, 2, 1, "vip-replay-01")
    again = await buy(client, user.token, 2, 1, "vip-replay-01")
    assert again["replay"] is True and again["id"] == bought["id"] and again["expires_at"] == bought["expires_at"]
    poor = await buy(client, user.token, 2, 1, "vip-replay-02", status=409)
    assert poor["code"] == "insufficient_funds"
    assert await coins(client, user.token) == 1_000
    other_body = await buy(client, user.token, 3, 1, "vip-replay-01", status=409)  # a key is one request
    assert other_body["code"] == "idempotency_key_reused"
    await fund(client, user.id, 8_000)
    retried = await buy(client, user.token, 2, 1, "vip-replay-02")  # the refused row is tried again
    assert retried["mode"] == "renew" and await coins(client, user.token) == 0
    assert await ledger_burns(client, user.id) == [9_000, 9_000]


async def test_concurrent_purchases_never_double_debit(client: Any) -> None:
    user = await new_user(client)
    await fund(client, user.id, 7 * 3_000)
    keys = [f"vip-race-{n:04d}" for n in range(10)] + ["vip-race-0000", "vip-race-0001"]  # two retried twins

    async def attempt(key: str) -> int:
        resp = await client.post("/api/v1/vip/purchase", headers=bearer(user.token),
                                 json={"tier": 1, "months": 1, "idempotency_key": key})  # fmt: skip
        return resp.status

    statuses = await asyncio.gather(*(attempt(k) for k in keys))
    assert all(s in (200, 409) for s in statuses)
    async with db(client.app[SERVICES].config.database_url) as conn:
        rows = await conn.fetch("SELECT * FROM vip_purchases WHERE buyer_id = $1 ORDER BY expires_after", user.id)
    applied = [r for r in rows if r["status"] == "applied"]
    assert len(rows) == 10 and len(applied) == 7  # one row per key; funds for seven
    assert [r["mode"] for r in applied] == ["new"] + ["renew"] * 6
    assert await standing(client, user.id) == (1, applied[0]["expires_after"] + 6 * MONTH)
    assert await coins(client, user.token) == 0
    assert await ledger_burns(client, user.id) == [3_000] * 7
    report = await reconcile(client.app[SERVICES])
    assert report.ok, report.render()


async def test_a_gift_is_paid_by_the_giver_and_heard_by_the_recipient(client: Any, connect: Any) -> None:
    giver, recipient, stranger = (
        await new_user(client, "Giver"),
        await new_user(client, "Lucky"),
        await new_user(client),
    )
    await fund(client, giver.id, 30_000)
    peer = await connect(client, recipient)
    body = {"user_id": recipient.id, "tier": 3, "months": 1, "idempotency_key": "vip-gift-0001"}
    resp = await client.post("/api/v1/vip/gift", headers=bearer(giver.token), json=body)
    assert resp.status == 200, await resp.text()
    gifted = await first(peer, "vip.gifted")
    assert (gifted.from_user_id, gifted.from_name, gifted.tier, gifted.level) == (giver.id, "Giver", 3, 3)  # type: ignore[attr-defined]
    updated = await first(peer, "vip.updated")
    assert (updated.level, updated.reason, updated.name) == (3, "gift", "VIP3")  # type: ignore[attr-defined]
    notice = (await peer.wait_for("notification:new"))[0]
    assert notice["kind"] == "gift" and notice["target_type"] == "vip_purchase"
    assert await coins(client, giver.token) == 6_000 and (await standing(client, recipient.id))[0] == 3
    assert (await standing(client, giver.id))[0] == 0

    # Unknown, blocked (either way) and oneself.
    unknown = await client.post("/api/v1/vip/gift", headers=bearer(giver.token),
                                json={**body, "user_id": 10**12, "idempotency_key": "vip-gift-0002"})  # fmt: skip
    assert unknown.status == 404
    block = await client.post(f"/api/v1/users/{giver.id}/block", headers=bearer(stranger.token))
    assert block.status in (200, 201), await block.text()
    blocked = await client.post("/api/v1/vip/gift", headers=bearer(giver.token),
                                json={**body, "user_id": stranger.id, "idempotency_key": "vip-gift-0003"})  # fmt: skip
    assert blocked.status == 404
    myself = await client.post("/api/v1/vip/gift", headers=bearer(giver.token),
                               json={**body, "user_id": giver.id, "idempotency_key": "vip-gift-0004"})  # fmt: skip
    assert myself.status == 422
    assert await coins(client, giver.token) == 6_000


async def test_staff_edit_a_tier_audited_and_the_next_purchase_pays_it(client: Any) -> None:
    staff, user = await new_user(client, role="admin"), await new_user(client)
    tier = {"name": "VIP1", "price_coins": 1_234, "is_active": True,
            "privileges": {"badge": "vip1-new", "gift_xp_multiplier_bps": 10_000}}  # fmt: skip
    assert (await client.put("/api/v1/admin/vip/tiers/1", headers=bearer(user.token), json=tier)).status == 403
    assert (await client.put("/api/v1/admin/vip/tiers/8", headers=bearer(staff.token), json=tier)).status == 404
    resp = await client.put("/api/v1/admin/vip/tiers/1", headers=bearer(staff.token), json=tier)
    assert resp.status == 200, await resp.text()
    listed = (await (await client.get("/api/v1/vip/tiers")).json())["data"]
    assert listed[0]["price_coins"] == 1_234 and listed[0]["privileges"]["badge"] == "vip1-new"
    async with db(client.app[SERVICES].config.database_url) as conn:
        audit = await conn.fetchrow("SELECT actor_id, details FROM audit_log WHERE action = 'vip.tier.update'")
    assert audit["actor_id"] == staff.id and json.loads(audit["details"])["before"]["price_coins"] == 3_000
    await fund(client, user.id, 2_468)
    assert (await buy(client, user.token, 1, 2, "vip-edit-0001"))["price_coins"] == 2_468
    assert await coins(client, user.token) == 0


async def test_the_sweep_finishes_purchases_a_crash_left_pending(client: Any) -> None:
    vip, svc = client.app[VIP], client.app[SERVICES]
    debited, undebited = await new_user(client), await new_user(client)
    for user in (debited, undebited):
        await fund(client, user.id, 3_000)
    rows = []
    async with svc.pool.acquire() as conn:
        for user in (debited, undebited):
            rows.append(await store.insert_purchase_txn(conn, kind="purchase", buyer_id=user.id, recipient_id=user.id,
                                                        tier=1, months=1, seconds=MONTH_SECONDS, price=3_000,
                                                        key="vip-crash-01"))  # fmt: skip
    assert (await actions._debit(vip, rows[0])).ok  # the first request died after its debit, the second before it
    assert await actions.sweep_pending(vip, grace_seconds=0) == 2
    for user in (debited, undebited):
        assert (await standing(client, user.id))[0] == 1
        assert await coins(client, user.token) == 0
        assert await ledger_burns(client, user.id) == [3_000]
    assert await actions.sweep_pending(vip, grace_seconds=0) == 0


async def test_the_expiry_job_tells_the_holder_and_the_privilege_goes_on_live_sockets(
    client: Any, connect: Any
) -> None:
    owner, holder = await new_user(client, "Owner"), await new_user(client, "Holder")
    o, h = await connect(client, owner), await connect(client, holder)
    for peer in (o, h):
        await join(peer, owner.room)
    assert (await h.call("seat:take", {"roomId": owner.room, "seatIndex": 2}))["success"]
    await set_vip(client, holder.id, 4)
    mute = {"roomId": owner.room, "userId": holder.id}
    assert (await o.call("seat:mute", mute))["code"] == "VIP_PROTECTED"

    await set_vip(client, holder.id, 4, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert await actions.expire_due(client.app[VIP]) == 1
    assert await actions.expire_due(client.app[VIP]) == 0  # told once
    updated = await first(h, "vip.updated")
    assert (updated.level, updated.reason, updated.expires_at) == (0, "expired", None)  # type: ignore[attr-defined]
    profile = await first(o, "user:profile_updated")
    assert profile.user_id == holder.id and profile.profile["vip_level"] == 0  # type: ignore[attr-defined]
    assert await standing(client, holder.id) == (0, None)
    assert (await o.call("seat:mute", mute))["success"] is True


async def test_a_level_past_its_expiry_protects_nobody_before_the_job_ran(client: Any, connect: Any) -> None:
    owner, holder = await new_user(client, "Owner"), await new_user(client, "Holder")
    o, h = await connect(client, owner), await connect(client, holder)
    for peer in (o, h):
        await join(peer, owner.room)
    assert (await h.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
    await set_vip(client, holder.id, 5, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert (await o.call("seat:remove", {"roomId": owner.room, "userId": holder.id}))["success"] is True
    assert (await standing(client, holder.id))[0] == 5  # the job has not cleared it: the rule did


async def test_moderators_may_not_edit_tiers(client: Any) -> None:
    staff = await new_user(client)
    await grant_role(client.app[SERVICES].config.database_url, staff.id, "moderator")  # no catalog.manage
    tier = {"name": "VIP2", "price_coins": 9_000, "privileges": {}}
    assert (await client.put("/api/v1/admin/vip/tiers/2", headers=bearer(staff.token), json=tier)).status == 403


async def test_my_purchases_are_paged_newest_first(client: Any) -> None:
    user = await new_user(client)
    await fund(client, user.id, 9_000)
    for n in range(3):
        await buy(client, user.token, 1, 1, f"vip-page-{n:04d}")
    auth = bearer(user.token)
    first_page = (await (await client.get("/api/v1/me/vip/purchases?limit=2", headers=auth)).json())["data"]
    assert [p["mode"] for p in first_page["items"]] == ["renew", "renew"] and first_page["next_cursor"]
    rest = await client.get(f"/api/v1/me/vip/purchases?limit=2&cursor={first_page['next_cursor']}", headers=auth)
    last = (await rest.json())["data"]
    assert [p["mode"] for p in last["items"]] == ["new"] and last["next_cursor"] is None


async def test_a_tier_edit_reaches_the_next_seat_action(client: Any, connect: Any) -> None:
    staff, owner, holder = await new_user(client, role="admin"), await new_user(client), await new_user(client)
    o, h = await connect(client, owner), await connect(client, holder)
    for peer in (o, h):
        await join(peer, owner.room)
    assert (await h.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
    await set_vip(client, holder.id, 2)
    mute = {"roomId": owner.room, "userId": holder.id}
    assert (await o.call("seat:mute", mute))["success"] is True  # VIP2 has no anti-mute
    assert (await o.call("seat:unmute", mute))["success"] is True
    tier = {"name": "VIP2", "price_coins": 9_000, "privileges": {"anti_mute": True}}
    async with heard_by(client.app[SERVICES].config.database_url, client.app):
        assert (await client.put("/api/v1/admin/vip/tiers/2", headers=bearer(staff.token), json=tier)).status == 200
    assert (await o.call("seat:mute", mute))["code"] == "VIP_PROTECTED"


async def test_a_reward_grants_days_once_in_its_own_transaction(client: Any, connect: Any) -> None:
    vip, svc = client.app[VIP], client.app[SERVICES]
    user = await new_user(client)
    peer = await connect(client, user)
    port = VipRewards(vip)
    for _attempt in range(2):  # the reward ledger grants once per reward; a replay gives nothing more
        async with svc.pool.acquire() as conn, conn.transaction():
            await port.grant_days(conn, user.id, 2, 7, "reward:41")
    level, expires = await standing(client, user.id)
    assert level == 2 and expires is not None
    assert dt.timedelta(days=7) - dt.timedelta(seconds=5) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    assert await actions.tell_untold(vip) == 1 and await actions.tell_untold(vip) == 0
    updated = await first(peer, "vip.updated")
    assert (updated.level, updated.reason) == (2, "reward")  # type: ignore[attr-defined]
