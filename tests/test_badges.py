"""Badges (engine/progression/badges*.py) against real PostgreSQL, Redis and sockets: every rule kind
at its boundary, awarded once under concurrent checks, `badge.earned` on a real socket, equipping,
equipped badges in the room snapshot, `room:userJoined` and the profile, the hot cache forgetting,
a reward's badge item, and the staff catalog editor."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

from aiohttp.test_utils import TestClient as Client

from engine.appkeys import CONFIG, ROOMS, SERVICES
from engine.messages import decode_event
from engine.progression import badges
from engine.progression import badges_store as store
from engine.progression.rewards import RewardItem, grant_reward
from tests.helpers import bearer, heard_by, join, new_user


async def new_badge(svc: Any, rule: dict[str, Any], *, category: str = "achievement") -> dict[str, Any]:
    code = f"t_{uuid.uuid4().hex[:12]}"
    async with svc.pool.acquire() as conn:
        row = await store.insert(conn, {"code": code, "name": code, "description": "", "category": category,
                                        "rarity": "rare", "icon_url": f"https://cdn.example/{code}.png",
                                        "rule": rule, "is_active": True, "sort": 0})  # fmt: skip
    assert row is not None
    return row


async def owned_codes(svc: Any, user_id: int) -> set[str]:
    async with svc.pool.acquire() as conn:
        return {r["code"] for r in await store.owned(conn, user_id)}


async def gifts(svc: Any, user_id: int, other_id: int, direction: str, quantity: int) -> None:
    """Gift figures as the gift ledger's trigger (sql/0029) writes them."""
    async with svc.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO gift_stats (user_id, slot, direction, other_id, gift_id, quantity, coins)
               VALUES ($1, date_bin('15 minutes', now(), timestamptz '2000-01-01'), $2, $3, 1, $4, $4)
               ON CONFLICT (user_id, slot, direction, other_id, gift_id)
               DO UPDATE SET quantity = gift_stats.quantity + EXCLUDED.quantity""",
            user_id, direction, other_id, quantity,
        )  # fmt: skip


async def active_on(svc: Any, user_id: int, days: range) -> None:
    async with svc.pool.acquire() as conn:
        for d in days:
            await conn.execute(
                "INSERT INTO user_activity (user_id, kind, source, happened_at) VALUES ($1, 'room_visit', $2, $3)",
                user_id, uuid.uuid4().hex, dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=d),
            )  # fmt: skip


async def test_every_figure_rule_at_its_boundary(client: Client) -> None:
    svc = client.app[SERVICES]
    user, other = await new_user(client), await new_user(client)
    first = await new_badge(svc, {"kind": "first_gift_sent"})
    sent = await new_badge(svc, {"kind": "gifts_sent", "count": 5})
    received = await new_badge(svc, {"kind": "gifts_received", "count": 3})
    followers = await new_badge(svc, {"kind": "followers", "count": 2})
    vip = await new_badge(svc, {"kind": "vip_tier", "level": 3})
    days = await new_badge(svc, {"kind": "days_active", "days": 4})
    await badges.check_users(svc, [user.id])
    assert not {first["code"], sent["code"]} & await owned_codes(svc, user.id)
    # N - 1 of each: only the first gift is met.
    await gifts(svc, user.id, other.id, "sent", 4)
    await gifts(svc, user.id, other.id, "received", 2)
    async with svc.pool.acquire() as conn:
        await conn.execute("INSERT INTO user_follow_counts (user_id, followers_count) VALUES ($1, 1) "
                           "ON CONFLICT (user_id) DO UPDATE SET followers_count = 1", user.id)  # fmt: skip
        await conn.execute(
            "UPDATE users SET vip_level = 2, vip_expires_at = now() + interval '30 days' WHERE id = $1", user.id
        )
        reasons = {r["reason"] for r in await conn.fetch("SELECT reason FROM badge_checks WHERE user_id = $1",
                                                         user.id)}  # fmt: skip
    await active_on(svc, user.id, range(3))
    # The triggers queued the user (unless a process's watcher drained it already: then it awarded).
    assert reasons <= {"gifts", "followers", "vip", "activity"}
    await badges.check_users(svc, [user.id])
    mine = await owned_codes(svc, user.id)
    assert first["code"] in mine
    assert not {sent["code"], received["code"], followers["code"], vip["code"], days["code"]} & mine
    # N of each: all met.
    await gifts(svc, user.id, other.id, "sent", 1)
    await gifts(svc, user.id, other.id, "received", 1)
    async with svc.pool.acquire() as conn:
        await conn.execute("UPDATE user_follow_counts SET followers_count = 2 WHERE user_id = $1", user.id)
        await conn.execute(
            "UPDATE users SET vip_level = 3, vip_expires_at = now() + interval '30 days' WHERE id = $1", user.id
        )
    await active_on(svc, user.id, range(2, 4))  # one day again, one new
    await badges.check_users(svc, [user.id])
    mine = await owned_codes(svc, user.id)
    assert {first["code"], sent["code"], received["code"], followers["code"], vip["code"], days["code"]} <= mine


async def test_ranking_and_event_badges_at_their_boundary_once(client: Client) -> None:
    svc = client.app[SERVICES]
    u1, u3, u4 = await new_user(client), await new_user(client), await new_user(client)
    top3 = await new_badge(svc, {"kind": "ranking_top", "board": "wealth", "period": "daily", "top": 3})
    other_board = await new_badge(svc, {"kind": "ranking_top", "board": "charm", "period": "daily", "top": 3})
    event = await new_badge(svc, {"kind": "event", "code": "spring_2026"}, category="event")
    finish = [(u1.id, 1), (u3.id, 3), (u4.id, 4)]
    first_run = await badges.award_for_ranking(svc, "wealth", "daily", "2026-12-01", finish)
    again = await badges.award_for_ranking(svc, "wealth", "daily", "2026-12-01", finish)
    assert first_run and again == []  # (the seeded wealth_daily_top3 is awarded beside the test's badge)
    assert top3["code"] in await owned_codes(svc, u1.id) and top3["code"] in await owned_codes(svc, u3.id)
    assert top3["code"] not in await owned_codes(svc, u4.id)
    assert other_board["code"] not in await owned_codes(svc, u1.id)
    assert len(await badges.award_for_event(svc, "spring_2026", [u4.id, u4.id])) == 1
    assert await badges.award_for_event(svc, "other_event", [u1.id]) == []
    assert event["code"] in await owned_codes(svc, u4.id) and event["code"] not in await owned_codes(svc, u1.id)


async def test_awarded_once_under_concurrent_checks(client: Client) -> None:
    svc = client.app[SERVICES]
    user, other = await new_user(client), await new_user(client)
    badge = await new_badge(svc, {"kind": "gifts_sent", "count": 1})
    await gifts(svc, user.id, other.id, "sent", 1)
    results = await asyncio.gather(*[badges.check_users(svc, [user.id]) for _ in range(10)],
                                   badges.watch(svc))  # fmt: skip
    awarded = [i for r in results[:-1] for i in r]
    assert len(awarded) == len(set(awarded))  # (the seeded first_gift is met too)
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT id FROM user_badges WHERE user_id = $1 AND badge_id = $2", user.id, badge["id"])
        notices = await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND target_type = 'badge' "
                                      "AND target_id = $2", user.id, str(badge["id"]))  # fmt: skip
    assert len(rows) == 1 and notices == 1


async def test_badge_earned_reaches_a_real_socket(client: Client, connect: Any) -> None:
    svc = client.app[SERVICES]
    user, other = await new_user(client), await new_user(client)
    badge = await new_badge(svc, {"kind": "gifts_received", "count": 2})
    peer = await connect(client, user)
    await gifts(svc, user.id, other.id, "received", 2)  # queued by the trigger; a watcher (this or the
    await badges.watch(svc)  # background one) awards and announces it
    await peer.wait_until(lambda: any(e["badge"]["id"] == badge["id"] for e in peer.events["badge.earned"]))
    earned = next(e for e in peer.events["badge.earned"] if e["badge"]["id"] == badge["id"])
    decoded: Any = decode_event("badge.earned", earned)
    assert decoded.badge.code == badge["code"] and decoded.source == "rule"
    assert [e["badge"]["id"] for e in peer.events["badge.earned"]].count(badge["id"]) == 1
    listed = await (await client.get("/api/v1/me/notifications", headers=bearer(user.token))).json()
    assert any(n.get("target_id") == str(badge["id"]) for n in listed["data"]["items"])


async def test_equip_validation_order_and_blocks(client: Client) -> None:
    svc = client.app[SERVICES]
    user, stranger = await new_user(client), await new_user(client)
    owned = [await new_badge(svc, {"kind": "event", "code": "equip_test"}) for _ in range(4)]
    not_mine = await new_badge(svc, {"kind": "manual"})
    await badges.award_for_event(svc, "equip_test", [user.id])
    url, auth = "/api/v1/me/badges/equipped", bearer(user.token)
    resp = await client.put(url, json={"badge_ids": [owned[0]["id"], not_mine["id"]]}, headers=auth)
    body = await resp.json()
    assert resp.status == 422 and f"Badge {not_mine['id']} is not yours." in body["error"]["fields"]["badge_ids"]
    resp = await client.put(url, json={"badge_ids": [b["id"] for b in owned]}, headers=auth)
    assert resp.status == 422 and "badges_equipped_max" in (await resp.json())["error"]["fields"]["badge_ids"][0]
    order = [owned[2]["id"], owned[0]["id"], owned[3]["id"]]
    resp = await client.put(url, json={"badge_ids": order}, headers=auth)
    assert resp.status == 200
    listed = await (await client.get(f"/api/v1/users/{user.id}/badges", headers=bearer(stranger.token))).json()
    worn = [b["id"] for b in listed["data"]["items"] if b["equipped"]]
    assert worn == order and [b["position"] for b in listed["data"]["items"][:3]] == [0, 1, 2]
    assert not next(b for b in listed["data"]["items"] if b["id"] == owned[1]["id"])["equipped"]
    profile = await (await client.get(f"/api/v1/users/{user.id}", headers=bearer(stranger.token))).json()
    assert [b["badge_id"] for b in profile["data"]["equipped_badges"]] == order
    assert (await client.post(f"/api/v1/users/{stranger.id}/block", headers=auth)).status in (200, 201)
    hidden = await client.get(f"/api/v1/users/{user.id}/badges", headers=bearer(stranger.token))
    assert hidden.status == 404


async def test_equipped_badges_in_the_join_snapshot_user_joined_and_the_cache(client: Client, connect: Any) -> None:
    svc = client.app[SERVICES]
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    worn = [await new_badge(svc, {"kind": "event", "code": "join_test"}) for _ in range(2)]
    await badges.award_for_event(svc, "join_test", [owner.id, guest.id])
    cache = client.app[ROOMS].cache
    assert json.loads((await cache.user(guest.id)).profile_json)["equipped_badges"] == []  # type: ignore[union-attr]
    async with heard_by(client.app[CONFIG].database_url, client.app):
        for u, ids in ((owner, [worn[1]["id"]]), (guest, [worn[0]["id"], worn[1]["id"]])):
            resp = await client.put("/api/v1/me/badges/equipped", json={"badge_ids": ids}, headers=bearer(u.token))
            assert resp.status == 200
    # The cache forgot the guest: its next load has what they wear now.
    profile = json.loads((await cache.user(guest.id)).profile_json)  # type: ignore[union-attr]
    assert [b["badge_id"] for b in profile["equipped_badges"]] == [worn[0]["id"], worn[1]["id"]]
    a, b = await connect(client, owner), await connect(client, guest)
    await join(a, owner.room)
    ack = await join(b, owner.room)
    host = next(p for p in ack["participants"] if p["id"] == owner.id)
    assert [(x["slot_position"], x["badge_id"]) for x in host["equipped_badges"]] == [(0, worn[1]["id"])]
    joined = (await a.wait_for("room:userJoined"))[0]
    badges_seen = joined["user"]["equipped_badges"]
    assert [x["badge_id"] for x in badges_seen] == [worn[0]["id"], worn[1]["id"]]
    assert badges_seen[0]["image_url"] == worn[0]["icon_url"]


async def test_a_reward_with_a_badge_item_awards_it_once(client: Client, connect: Any) -> None:
    svc = client.app[SERVICES]
    user = await new_user(client)
    badge = await new_badge(svc, {"kind": "manual"})
    peer = await connect(client, user)
    row = await grant_reward(svc, user_id=user.id, source="campaign", source_ref="badge-test",
                             items=[RewardItem(kind="badge", ref=badge["id"])])  # fmt: skip
    assert row is not None and row["state"] == "granted"
    again = await grant_reward(svc, user_id=user.id, source="campaign", source_ref="badge-test",
                               items=[RewardItem(kind="badge", ref=badge["id"])])  # fmt: skip
    assert again is None
    async with svc.pool.acquire() as conn:
        sources = await conn.fetch("SELECT source FROM user_badges WHERE user_id = $1 AND badge_id = $2",
                                   user.id, badge["id"])  # fmt: skip
    assert [r["source"] for r in sources] == [f"reward:{row['id']}"]
    await badges.watch(svc)  # the reward's award is announced by the watcher (this one or the background one)
    await peer.wait_until(lambda: any(e["badge"]["id"] == badge["id"] for e in peer.events["badge.earned"]))


async def test_staff_catalog_crud_is_audited_and_needs_the_permission(client: Client) -> None:
    user = await new_user(client)
    moderator = await new_user(client, role="moderator")
    staff = await new_user(client, role="admin")
    body = {
        "code": f"s_{uuid.uuid4().hex[:8]}",
        "name": "Big Spender",
        "category": "achievement",
        "rarity": "epic",
        "rule": {"kind": "gifts_sent", "count": 50},
        "icon_url": "https://cdn.example/b.png",
    }
    for who in (user, moderator):
        assert (await client.post("/api/v1/admin/badges", json=body, headers=bearer(who.token))).status == 403
    bad = await client.post("/api/v1/admin/badges", json={**body, "rule": {"kind": "gifts_sent", "count": 0}},
                            headers=bearer(staff.token))  # fmt: skip
    assert bad.status == 422 and "rule" in json.dumps((await bad.json())["error"]["fields"])
    unknown = await client.post("/api/v1/admin/badges", json={**body, "rule": {"kind": "levitate"}},
                                headers=bearer(staff.token))  # fmt: skip
    assert unknown.status == 422
    created = await client.post("/api/v1/admin/badges", json=body, headers=bearer(staff.token))
    assert created.status == 201
    badge = (await created.json())["data"]
    assert (await client.post("/api/v1/admin/badges", json=body, headers=bearer(staff.token))).status == 409
    url = f"/api/v1/admin/badges/{badge['id']}"
    assert (await client.put(url, json={"rarity": "rare"}, headers=bearer(moderator.token))).status == 403
    changed = await client.put(url, json={"rarity": "legendary", "rule": {"kind": "followers", "count": 9}},
                               headers=bearer(staff.token))  # fmt: skip
    assert changed.status == 200
    data = (await changed.json())["data"]
    assert data["rarity"] == "legendary" and data["rule"] == {"kind": "followers", "count": 9}
    assert data["name"] == "Big Spender"
    assert (await client.put("/api/v1/admin/badges/999999", json={}, headers=bearer(staff.token))).status == 404
    catalog = await (
        await client.get("/api/v1/badges?category=achievement&limit=100", headers=bearer(user.token))
    ).json()
    assert badge["id"] in [b["id"] for b in catalog["data"]["items"]]
    async with client.app[SERVICES].pool.acquire() as conn:
        audit = await conn.fetch("SELECT action, details FROM audit_log WHERE target_type = 'badge' AND target_id = $1 "
                                 "ORDER BY id", str(badge["id"]))  # fmt: skip
    assert [r["action"] for r in audit] == ["badge.create", "badge.update"]
    assert audit[1]["details"]["before"]["rarity"] == "epic" and audit[1]["details"]["after"]["rarity"] == "legendary"
