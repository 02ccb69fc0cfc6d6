"""Recognition against real PostgreSQL, Redis and sockets (engine/progression/recognition.py,
sql/0032): level-ups, rare badges and top ranking finishes announced in the user's rooms and to their
followers, each once; the sweep delivering what a crash left; the ranking period-end job awarding its
badges; the staff's ranking reward tables; the legacy room leaderboard's `wealth_badge`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

from engine.appkeys import LEVELS, RANKINGS, SERVICES
from engine.economy import model as money
from engine.economy import store as economy_store
from engine.progression import badges, badges_store, recognition
from engine.progression.levels import watch_levels
from engine.progression.ranking_rewards_model import Tier, tier_problems
from engine.progression.recognition_model import level_candidate, settings_of
from tests.helpers import User, bearer, db, join, new_user
from tests.sockets import first
from tests.test_levels import SMALL, put_ladder, set_xp


async def follow(client: Any, fan: User, star: User) -> None:
    resp = await client.post(f"/api/v1/users/{star.id}/follow", headers=bearer(fan.token))
    assert resp.status == 200, await resp.text()


async def setting(client: Any, key: str, value: int) -> None:
    async with db(client.app[SERVICES].config.database_url) as conn:
        assert await conn.execute("UPDATE economy_settings SET value = $2 WHERE key = $1", key, value) == "UPDATE 1"


async def recognitions_of(client: Any, user: User) -> list[dict[str, Any]]:
    async with db(client.app[SERVICES].config.database_url) as conn:
        rows = await conn.fetch("SELECT id, kind, ref, payload, announced_at FROM recognitions WHERE user_id = $1 "
                                "ORDER BY id", user.id)  # fmt: skip
    return [{**r, "payload": json.loads(r["payload"])} for r in rows]


async def recognition_notices(client: Any, fan: User) -> list[dict[str, Any]]:
    resp = await client.get("/api/v1/me/notifications?limit=100", headers=bearer(fan.token))
    assert resp.status == 200, await resp.text()
    return [n for n in (await resp.json())["data"]["items"] if n["kind"] == "recognition"]


async def delivered(client: Any, user: User, count: int) -> list[dict[str, Any]]:
    """The user's recognitions once `count` of them are announced (a source or the sweep)."""
    for _ in range(100):
        rows = await recognitions_of(client, user)
        if sum(r["announced_at"] is not None for r in rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"recognitions not delivered: {rows}")


async def sweep(client: Any) -> int:
    """One pass of the app's sweep, now (besides the background one)."""
    deliverer = recognition.deliverer(client.app[SERVICES])
    assert deliverer is not None
    return await recognition.sweep(deliverer)


def test_which_rises_are_recognised() -> None:
    assert level_candidate("wealth", 1, 9, 10, 10) is not None
    assert level_candidate("charm", 1, 3, 12, 10) is not None
    assert level_candidate("wealth", 1, 8, 9, 10) is None  # below the setting
    assert level_candidate("wealth", 1, 12, 11, 10) is None  # a fall
    assert level_candidate("room", 1, 9, 10, 10) is None  # a room's level is the room's
    assert settings_of({}).followers_max == 10_000 and settings_of({"recognition_level_min": 4}).level_min == 4
    assert tier_problems([Tier(3, 5, 1), Tier(1, 2, 1), Tier(6, 6, 1)]) == {}
    overlaps = tier_problems([Tier(1, 10, 1), Tier(2, 3, 1), Tier(4, 4, 1)])
    assert set(overlaps) == {"tiers.1.rank_from", "tiers.2.rank_from"}


async def test_a_level_up_at_the_threshold_is_announced_in_the_room_and_to_followers(client: Any, connect: Any) -> None:
    staff, climber, host = await new_user(client, "Staff", role="admin"), await new_user(client, "Climber"), \
        await new_user(client, "Host")  # fmt: skip
    fan, stranger = await new_user(client, "Fan"), await new_user(client, "Stranger")
    assert (await put_ladder(client, staff, "wealth", SMALL)).status == 200
    await setting(client, "recognition_level_min", 4)
    await follow(client, fan, climber)
    room, mine, fan_socket = await connect(client, host), await connect(client, climber), await connect(client, fan)
    await join(room, host.room)
    await join(mine, host.room)

    await set_xp(client, climber, wealth=35)  # level 3: below the setting
    await watch_levels(client.app[LEVELS])
    await mine.wait_until(lambda: any(e["level"] == 3 for e in mine.events["user.progression"]))
    await sweep(client)
    assert await recognitions_of(client, climber) == [] and "room:recognition" not in room.events
    assert await recognition_notices(client, fan) == []

    await set_xp(client, climber, wealth=65)  # level 4: at the setting
    await watch_levels(client.app[LEVELS])
    got: Any = await first(room, "room:recognition")
    assert (got.roomId, got.userId, got.kind, got.user.name) == (str(host.room), climber.id, "level", "Climber")
    assert (got.level.type, got.level.level, got.badge, got.ranking) == ("wealth", 4, None, None)
    assert got.text == "Climber reached wealth level 4."
    await fan_socket.wait_until(lambda: any(n["kind"] == "recognition" for n in fan_socket.events["notification:new"]))
    notices = await recognition_notices(client, fan)
    assert [(n["actor"]["id"], n["data"]["kind"], n["data"]["level"]) for n in notices] == [(climber.id, "level", 4)]
    assert await recognition_notices(client, stranger) == []  # not a follower
    assert [(r["kind"], r["ref"]) for r in await delivered(client, climber, 1)] == [("level", "wealth:4")]

    # Once: a later pass, a ladder re-edit or the sweep delivers nothing again.
    await sweep(client)
    await asyncio.sleep(0.2)
    assert len(room.events["room:recognition"]) == 1 and len(await recognition_notices(client, fan)) == 1
    # The rises are in the activity log (level_up), each level once.
    resp = await client.get(f"/api/v1/users/{climber.id}/activity?kind=level_up", headers=bearer(climber.token))
    items = (await resp.json())["data"]["items"]
    assert resp.status == 200 and [(i["level_type"], i["level"]) for i in items] == [("wealth", 4), ("wealth", 3)]


async def rare_and_common(svc: Any, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    made = []
    for rarity in ("rare", "common"):
        name = f"t_{uuid.uuid4().hex[:12]}"
        async with svc.pool.acquire() as conn:
            made.append(await badges_store.insert(conn, {
                "code": name, "name": f"{rarity} one", "description": "", "category": "event", "rarity": rarity,
                "icon_url": "", "rule": {"kind": "event", "code": code}, "is_active": True, "sort": 0}))  # fmt: skip
    return made[0], made[1]


async def test_a_rare_badge_is_announced_a_common_one_is_not(client: Any, connect: Any) -> None:
    svc = client.app[SERVICES]
    star, fan = await new_user(client, "Star"), await new_user(client, "Fan")
    await follow(client, fan, star)
    rare, _common = await rare_and_common(svc, "gala_2026")
    observer = await connect(client, star)
    await join(observer, star.room)
    assert len(await badges.award_for_event(svc, "gala_2026", [star.id])) == 2
    got: Any = await first(observer, "room:recognition")
    assert (got.kind, got.badge.id, got.badge.rarity, got.userId) == ("badge", rare["id"], "rare", star.id)
    assert got.text == "Star earned the rare badge rare one."
    rows = await delivered(client, star, 1)
    assert [(r["kind"], r["ref"]) for r in rows] == [("badge", str(rare["id"]))]  # the common one: none
    notices = await recognition_notices(client, fan)
    assert [n["data"]["id"] for n in notices] == [rare["id"]]
    await asyncio.sleep(0.2)
    assert len(observer.events["room:recognition"]) == 1


async def test_the_sweep_delivers_what_a_crash_left(client: Any, connect: Any) -> None:
    """A recognition committed by its source but never delivered (the process died after the commit)."""
    star, fan = await new_user(client, "Star"), await new_user(client, "Fan")
    await follow(client, fan, star)
    observer = await connect(client, star)
    await join(observer, star.room)
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("""INSERT INTO recognitions (user_id, kind, ref, payload) VALUES
                              ($1, 'level', 'charm:12', '{"type": "charm", "level": 12}')""", star.id)  # fmt: skip
    got: Any = await first(observer, "room:recognition")  # the background sweep, within seconds
    assert (got.kind, got.level.type, got.level.level) == ("level", "charm", 12)
    assert len(await recognition_notices(client, fan)) == 1
    assert (await delivered(client, star, 1))[0]["announced_at"] is not None


async def test_followers_are_told_in_chunks_up_to_the_cap(client: Any, monkeypatch: Any) -> None:
    star = await new_user(client, "Star")
    fans = [await new_user(client, f"Fan {i}") for i in range(6)]
    for fan in fans:
        await follow(client, fan, star)
    muted = fans[1]  # switched the kind off: skipped, and still counts against the cap (it was read)
    resp = await client.patch("/api/v1/me/notification-preferences", json={"recognition": False},
                              headers=bearer(muted.token))  # fmt: skip
    assert resp.status == 200 and (await resp.json())["data"]["recognition"] is False
    await setting(client, "recognition_followers_max", 4)
    monkeypatch.setattr(recognition, "FOLLOWER_CHUNK", 3)  # pages of 3: 3, then the cap's last 1
    candidate = level_candidate("charm", star.id, 9, 11, 10)
    assert candidate is not None
    async with client.app[SERVICES].pool.acquire() as conn, conn.transaction():
        ids = await recognition.record_txn(conn, [candidate])
    assert len(ids) == 1
    await recognition.deliver(client.app[SERVICES], ids)
    await delivered(client, star, 1)  # by this call, or by the background sweep if it came first
    told = [len(await recognition_notices(client, fan)) for fan in fans]
    assert told == [1, 0, 1, 1, 0, 0]  # the four oldest follows, less the one who switched it off
    assert (await recognition_notices(client, fans[0]))[0]["text"] == "Star reached charm level 11."


def _gift(sender: int, recipients: list[int], room: int, at: dt.datetime, price: int) -> money.Txn:
    meta: dict[str, object] = {"room_id": room, "recipients": recipients, "quantity": 1, "price": price}
    return money.Txn(txn_id=str(uuid.uuid4()), kind="gift", legs=[], initiator_id=sender,
                     at_ms=int(at.timestamp() * 1000), metadata=meta)  # fmt: skip


async def test_a_ranking_period_close_recognises_the_top_and_awards_its_badge_once(client: Any, connect: Any) -> None:
    svc, rankings = client.app[SERVICES], client.app[RANKINGS]
    staff, fan, star = await new_user(client, "Staff", role="admin"), await new_user(client, "Fan"), \
        await new_user(client, "Star")  # fmt: skip
    senders = [await new_user(client, f"Sender {i}") for i in range(1, 5)]
    await follow(client, fan, senders[0])
    observer = await connect(client, star)
    await join(observer, star.room)
    await join(await connect(client, senders[0]), star.room)
    body = {"tiers": [{"rank_from": 1, "rank_to": 1, "coins": 300}, {"rank_from": 2, "rank_to": 3, "coins": 50}]}
    resp = await client.put("/api/v1/admin/rankings/rewards/wealth/daily", json=body, headers=bearer(staff.token))
    assert resp.status == 200, await resp.text()

    day = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    gifts = [_gift(s.id, [star.id], star.room, day, price) for s, price in zip(senders, (40, 30, 20, 10), strict=True)]
    async with svc.pool.acquire() as conn, conn.transaction():
        await economy_store.record_batch_txn(conn, [(txn, None) for txn in gifts])
        await conn.execute("UPDATE ranking_state SET started_at = '2026-11-30T00:00:00Z'")
    now = dt.datetime(2026, 12, 2, 0, 10, tzinfo=dt.UTC)
    first_run, second_run = await asyncio.gather(rankings.close_due(now), rankings.close_due(now))
    assert "wealth:daily:2026-12-01" in first_run + second_run and not set(first_run) & set(second_run)
    assert await rankings.close_due(now) == []  # a third run: nothing

    for rank, sender in enumerate(senders, start=1):
        rows = [r for r in await recognitions_of(client, sender) if r["kind"] == "ranking"]
        expected = [("wealth:daily:2026-12-01", rank)] if rank <= 3 else []
        assert [(r["ref"], r["payload"]["rank"]) for r in rows if r["ref"].startswith("wealth:")] == expected
    # The charm board's winner and the room board's (the room's owner) are recognised too.
    refs = {r["ref"] for r in await recognitions_of(client, star) if r["kind"] == "ranking"}
    assert {"charm:daily:2026-12-01", "room:daily:2026-12-01"} <= refs
    async with svc.pool.acquire() as conn:
        owners = await conn.fetch(
            """SELECT u.user_id, u.source FROM user_badges u JOIN badges b ON b.id = u.badge_id
               WHERE b.code = 'wealth_daily_top3' ORDER BY u.user_id""")  # fmt: skip
        paid = await conn.fetch("SELECT user_id, source_ref FROM rewards WHERE source = 'ranking' ORDER BY 2")
    assert [(r["user_id"], r["source"]) for r in owners] == [(s.id, "ranking:wealth:daily:2026-12-01")
                                                              for s in senders[:3]]  # fmt: skip
    assert [r["user_id"] for r in paid] == [s.id for s in senders[:3]]  # the staff's table, once

    # The winner's room hears of the finish and of the epic badge it brought (each once).
    await observer.wait_until(lambda: {(e["userId"], e["kind"]) for e in observer.events["room:recognition"]}
                              >= {(senders[0].id, "ranking"), (senders[0].id, "badge")})  # fmt: skip
    heard = observer.events["room:recognition"]
    finish = next(e for e in heard if e["userId"] == senders[0].id and e["kind"] == "ranking")
    assert finish["ranking"] == {"board": "wealth", "period": "daily", "start": "2026-12-01", "rank": 1, "score": 40}
    await delivered(client, senders[0], 2)
    notices = await recognition_notices(client, fan)
    assert sorted(n["data"]["kind"] for n in notices) == ["badge", "ranking"]
    await asyncio.sleep(0.2)
    mine = [(e["userId"], e["kind"]) for e in observer.events["room:recognition"] if e["userId"] == senders[0].id]
    assert sorted(mine) == [(senders[0].id, "badge"), (senders[0].id, "ranking")]


async def test_staff_edit_the_ranking_reward_tables(client: Any) -> None:
    staff, user = await new_user(client, "Staff", role="admin"), await new_user(client)
    url = "/api/v1/admin/rankings/rewards"
    good = {"tiers": [{"rank_from": 2, "rank_to": 10, "coins": 100}, {"rank_from": 1, "rank_to": 1, "coins": 500}]}
    assert (await client.put(f"{url}/wealth/daily", json=good, headers=bearer(user.token))).status == 403
    assert (await client.get(url, headers=bearer(user.token))).status == 403
    assert (await client.put(f"{url}/vip/daily", json=good, headers=bearer(staff.token))).status == 404
    assert (await client.put(f"{url}/wealth/all_time", json=good, headers=bearer(staff.token))).status == 404
    bad_bodies = [
        ({"tiers": [{"rank_from": 5, "rank_to": 2, "coins": 1}]}, {"tiers.0.rank_to"}),
        ({"tiers": [{"rank_from": 1, "rank_to": 10, "coins": 1}, {"rank_from": 3, "rank_to": 4, "coins": 1},
                    {"rank_from": 9, "rank_to": 12, "coins": 1}]}, {"tiers.1.rank_from", "tiers.2.rank_from"}),
        ({"tiers": [{"rank_from": 1, "rank_to": 1}]}, {"tiers"}),  # "The tiers.0.coins field is required."
        ({}, {"tiers"}),
        ({"tiers": [{"rank_from": 0, "rank_to": 1, "coins": 5}]}, {"tiers"}),
    ]  # fmt: skip
    for body, fields in bad_bodies:
        resp = await client.put(f"{url}/wealth/daily", json=body, headers=bearer(staff.token))
        assert resp.status == 422, body
        problems = (await resp.json())["error"]["fields"]
        assert set(problems) == fields, body
    assert problems["tiers"] == ["The tiers.0.rank_from field must be at least 1."]

    resp = await client.put(f"{url}/wealth/daily", json=good, headers=bearer(staff.token))
    assert resp.status == 200, await resp.text()
    table = (await resp.json())["data"]
    assert [(t["rank_from"], t["rank_to"], t["coins"]) for t in table["tiers"]] == [(1, 1, 500), (2, 10, 100)]
    charm = {"tiers": [{"rank_from": 1, "rank_to": 3, "coins": 70}]}
    assert (await client.put(f"{url}/charm/weekly", json=charm, headers=bearer(staff.token))).status == 200
    again = {"tiers": [{"rank_from": 1, "rank_to": 2, "coins": 400}]}  # replaces the whole wealth daily table
    assert (await client.put(f"{url}/wealth/daily", json=again, headers=bearer(staff.token))).status == 200

    seen, cursor = [], None
    while True:
        page = await (await client.get(f"{url}?limit=1" + (f"&cursor={cursor}" if cursor else ""),
                                       headers=bearer(staff.token))).json()  # fmt: skip
        seen += [(t["board"], t["period"], t["rank_from"], t["rank_to"], t["coins"]) for t in page["data"]["items"]]
        if (cursor := page["data"]["next_cursor"]) is None:
            break
    assert seen == [("charm", "weekly", 1, 3, 70), ("wealth", "daily", 1, 2, 400)]
    only = (await (await client.get(f"{url}?board=wealth", headers=bearer(staff.token))).json())["data"]["items"]
    assert [t["coins"] for t in only] == [400]
    async with db(client.app[SERVICES].config.database_url) as conn:
        audits = await conn.fetch("SELECT target_id, details FROM audit_log WHERE action = 'rankings.rewards' "
                                  "AND actor_id = $1 ORDER BY id", staff.id)  # fmt: skip
        stored = await conn.fetch("SELECT rank_from, coins FROM ranking_rewards WHERE board = 'wealth'")
    assert [a["target_id"] for a in audits] == ["wealth:daily", "charm:weekly", "wealth:daily"]
    assert [(r["rank_from"], r["coins"]) for r in stored] == [(1, 400)]


async def test_the_legacy_room_leaderboard_shows_the_wealth_level(client: Any) -> None:
    host, sender, viewer = await new_user(client, "Host"), await new_user(client, "Sender"), await new_user(client)
    await set_xp(client, sender, wealth=20_001)  # level 3 on the default ladder
    await client.app[RANKINGS].ledger_flushed([_gift(sender.id, [host.id], host.room, dt.datetime.now(dt.UTC), 25)])
    resp = await client.get(f"/api/rooms/{host.room}/leaderboard?period=daily", headers=bearer(viewer.token))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    (entry,) = body["leaderboard"]
    assert (entry["id"], entry["name"], entry["coins_spent"], entry["wealth_badge"]) == (sender.id, "Sender", 25, "3")
    assert body["total_users"] == 1
