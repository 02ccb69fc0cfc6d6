"""Account deletion (issue 12 §8): the password confirms it; every session ends and every live
socket closes (on every process); the profile answers 404; logging in during the grace period
cancels it; then the purge anonymises the account by the registry's rules, keeps the ledger, and
`flylive reconcile` stays clean."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from engine.appkeys import SERVICES
from engine.economy.flusher import flush_all
from engine.economy.reconcile import reconcile
from engine.gdpr import actions
from tests.helpers import PASSWORD, bearer, db, join, new_user
from tests.sockets import Peer, first, url_of
from tests.test_gifts_basic import gift_room

Client = Any


async def delete_me(client: Client, token: str, password: str = PASSWORD) -> Any:
    return await client.delete("/api/v1/me", headers=bearer(token), json={"password": password})


async def v1_login(client: Client, phone: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"phone": phone, "password": password})


async def closed(peer: Peer) -> None:
    async with asyncio.timeout(5):
        while peer.sio.connected:  # noqa: ASYNC110  (the client library's disconnect sets no event we can wait on)
            await asyncio.sleep(0.02)


async def test_deletion_closes_sockets_hides_the_profile_and_a_login_cancels(client: Client, make_client: Any) -> None:
    user, friend = await new_user(client), await new_user(client)
    other = await make_client()  # a second engine process: its socket of the user closes too
    here, there = await Peer().connect(url_of(client), user.token), await Peer().connect(url_of(other), user.token)
    try:
        wrong = await delete_me(client, user.token, "Wrong-pass-9")
        assert wrong.status == 422
        assert (await wrong.json())["error"]["fields"] == {"password": ["The password is incorrect."]}
        empty = await client.delete("/api/v1/me", headers=bearer(user.token), json={})
        assert empty.status == 422 and "password" in (await empty.json())["error"]["fields"]
        assert (await client.delete("/api/v1/me", json={"password": PASSWORD})).status == 401
        assert here.sio.connected and there.sio.connected

        resp = await delete_me(client, user.token)
        assert resp.status == 200, await resp.text()
        when = dt.datetime.fromisoformat((await resp.json())["data"]["deletion_scheduled_for"])
        assert dt.timedelta(days=13, hours=23) < when - dt.datetime.now(dt.UTC) <= dt.timedelta(days=14)
        await closed(here)
        await closed(there)
        for peer in (here, there):
            assert (await first(peer, "auth:force_disconnect")).reason == "account_deleted"
            assert len(peer.events["auth:force_disconnect"]) == 1
    finally:
        await here.close()
        await there.close()
    assert (await client.get("/api/v1/me", headers=bearer(user.token))).status == 401
    assert (await client.get(f"/api/v1/users/{user.id}", headers=bearer(friend.token))).status == 404
    assert (await client.get(f"/api/user/{user.id}", headers=bearer(friend.token))).status == 404

    assert (await v1_login(client, user.phone, "Wrong-pass-9")).status == 422  # no cancel without the password
    assert (await client.get(f"/api/user/{user.id}", headers=bearer(friend.token))).status == 404
    back = await v1_login(client, user.phone)
    assert back.status == 200, await back.text()
    data = (await back.json())["data"]
    assert data["deletion_cancelled"] is True
    assert (await client.get(f"/api/user/{user.id}", headers=bearer(friend.token))).status == 200
    assert (await client.get("/api/v1/me", headers=bearer(data["access_token"]))).status == 200
    again = await client.post("/api/login", json={"phone": user.phone, "password": PASSWORD})
    assert again.status == 200 and "deletion_cancelled" not in await again.json()
    async with db(client.app[SERVICES].config.database_url or "") as conn:
        assert await conn.fetchval("SELECT state FROM account_deletions WHERE user_id = $1", user.id) == "cancelled"

    # The legacy login cancels too, and says so.
    assert (await delete_me(client, data["access_token"])).status == 200
    legacy = await client.post("/api/login", json={"phone": user.phone, "password": PASSWORD})
    assert legacy.status == 200 and (await legacy.json())["deletion_cancelled"] is True


async def test_purge_anonymises_keeps_the_ledger_and_reconciles(client: Client, config: Any) -> None:
    svc = client.app[SERVICES]
    async with gift_room(client, config, coins=50, key="purge-grant") as r:
        payload = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 2,
                   "idempotencyKey": "purge-send-01"}  # fmt: skip
        assert (await r.a.call("gift:send", payload))["success"] is True
    await flush_all(svc, svc.wallets, "test")
    me, host, sender = r.sender["token"], r.host["token"], r.sender_id
    third = await new_user(client, "Third")
    assert (await client.post(f"/api/v1/users/{r.host_id}/follow", headers=bearer(me))).status == 200
    assert (await client.post(f"/api/v1/users/{sender}/follow", headers=bearer(host))).status == 200
    assert (await client.post(f"/api/v1/users/{sender}/follow", headers=bearer(third.token))).status == 200
    assert (await client.post(f"/api/v1/users/{third.id}/block", headers=bearer(me))).status == 200
    profile = {"bio": "my secret life", "social_links": [{"kind": "instagram", "url": "https://instagram.com/me"}]}
    assert (await client.patch("/api/v1/me", headers=bearer(me), json=profile)).status == 200
    host_counts = (await (await client.get("/api/v1/me", headers=bearer(host))).json())["data"]
    assert (host_counts["followers_count"], host_counts["following_count"], host_counts["friends_count"]) == (1, 1, 1)
    async with db(config.database_url) as conn:
        legs_before = await conn.fetchval("SELECT count(*) FROM ledger_entries WHERE account_id = $1", sender)
        await conn.execute(
            "INSERT INTO user_consents (user_id, policy, version, source, accepted_at) "
            "VALUES ($1, 'terms', '2025-01', 'register', now() - interval '1 year')",
            sender,
        )
    assert legs_before > 0

    assert (await delete_me(client, me)).status == 200
    assert await actions.purge_one(svc) is None  # still in its grace period
    async with db(config.database_url) as conn:
        await conn.execute("UPDATE account_deletions SET purge_after = now() - interval '1 second'")
    assert (await v1_login(client, r.sender["phone"])).status == 422  # past the grace: no cancelling
    assert await actions.purge_one(svc) == sender
    assert await actions.purge_one(svc) is None
    assert svc.metrics.registry.get_sample_value("flylive_gdpr_jobs_total", {"job": "purge", "outcome": "done"}) == 1

    async with db(config.database_url) as conn:
        user = await conn.fetchrow("SELECT * FROM users WHERE id = $1", sender)
        assert (user["name"], user["phone"], user["email"], user["avatar_image"], user["bio"]) == (
            "Deleted user", None, None, None, None)  # fmt: skip
        assert user["social_links"] == "[]" and user["signature"] == f"deleted_{sender}" and user["password_hash"] == ""
        assert user["deleted_at"] is not None
        for sql in ("SELECT count(*) FROM user_followers WHERE follower_id = $1 OR following_id = $1",
                    "SELECT count(*) FROM user_blocks WHERE blocker_id = $1 OR blocked_id = $1",
                    "SELECT count(*) FROM notifications WHERE user_id = $1 OR actor_id = $1",
                    "SELECT count(*) FROM auth_sessions WHERE user_id = $1",
                    "SELECT count(*) FROM user_roles WHERE user_id = $1"):  # fmt: skip
            assert await conn.fetchval(sql, sender) == 0, sql
        consents = await conn.fetch("SELECT policy, version FROM user_consents WHERE user_id = $1", sender)
        assert {(c["policy"], c["version"]) for c in consents} == {("terms", "2026-01"), ("privacy", "2026-01")}
        assert await conn.fetchval("SELECT count(*) FROM ledger_entries WHERE account_id = $1", sender) == legs_before
        room = await conn.fetchrow("SELECT name, deleted_at FROM rooms WHERE user_id = $1", sender)
        assert room["name"].startswith("deleted_room_") and room["deleted_at"] is not None
        assert await conn.fetchval("SELECT state FROM account_deletions WHERE user_id = $1", sender) == "purged"
    # The others' follow counts lost the edges that went.
    host_counts = (await (await client.get("/api/v1/me", headers=bearer(host))).json())["data"]
    assert (host_counts["followers_count"], host_counts["following_count"], host_counts["friends_count"]) == (0, 0, 0)
    third_counts = (await (await client.get("/api/v1/me", headers=bearer(third.token))).json())["data"]
    assert third_counts["following_count"] == 0
    assert (await v1_login(client, r.sender["phone"])).status == 422
    report = await reconcile(svc)
    assert report.ok, report.render()


async def test_the_worker_purges_after_the_grace_period(make_client: Any) -> None:
    client = await make_client(account_deletion_grace_days=0, gdpr_sweep_seconds=0.05)
    user = await new_user(client)
    assert (await delete_me(client, user.token)).status == 200
    async with db(client.app[SERVICES].config.database_url or "") as conn, asyncio.timeout(5):
        state = "SELECT state FROM account_deletions WHERE user_id = $1"
        while await conn.fetchval(state, user.id) != "purged":  # noqa: ASYNC110  (the worker's change: no event here)
            await asyncio.sleep(0.05)
        assert await conn.fetchval("SELECT phone FROM users WHERE id = $1", user.id) is None


async def test_purge_takes_the_users_words_out_of_the_rooms_live_chat(
    client: Client, config: Any, connect: Any
) -> None:
    svc = client.app[SERVICES]
    leaving, host, stays = await new_user(client, "Leaving"), await new_user(client, "Host"), await new_user(client)
    gone, h = await connect(client, leaving), await connect(client, host)
    await join(h, host.room)
    await join(gone, host.room)
    for peer, text in ((gone, "my words"), (h, "the host's words"), (gone, "more of mine")):
        assert (await peer.call("chat:message", {"roomId": host.room, "content": text}))["success"]
    assert (await gone.call("room:leave", {"roomId": host.room}))["success"]
    async with db(config.database_url) as conn:  # the visit reaches the activity log off the hot path
        for _ in range(200):
            if await conn.fetchval("SELECT count(*) FROM user_activity WHERE user_id = $1 AND kind = 'room_visit'",
                                   leaving.id):  # fmt: skip
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the visit was never logged")
    assert (await delete_me(client, leaving.token)).status == 200
    async with db(config.database_url) as conn:
        await conn.execute("UPDATE account_deletions SET purge_after = now() - interval '1 second'")
    assert await actions.purge_one(svc) == leaving.id

    late = await join(await connect(client, stays), host.room)
    assert [m["content"] for m in late["recentMessages"]] == ["the host's words"]
    replayed = await join(h, host.room, lastSeq=0)  # the host's socket is still in: a replay from the start
    chats = [e["data"]["content"] for e in replayed.get("missedEvents", []) if e["event"] == "chat:message"]
    assert chats == ["the host's words"], replayed
