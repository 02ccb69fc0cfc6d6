"""Levels against real PostgreSQL, Redis and sockets (engine/progression/levels.py, sql/0027): the
triggers at each threshold, the admin's ladder edit, what /me/levels and the profiles show, the
`user.progression` push and the room announcement."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import CONFIG, LEVELS
from engine.progression.levels import watch_levels
from engine.progression.levels_model import default_min_xp
from tests.helpers import User, bearer, db, join, new_user
from tests.sockets import first

SMALL = [{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 10}, {"level": 3, "min_xp": 30},
         {"level": 4, "min_xp": 60}, {"level": 5, "min_xp": 100}]  # fmt: skip


async def put_ladder(client: Any, staff: User, kind: str, levels: list[dict[str, Any]]) -> Any:
    return await client.put(f"/api/v1/admin/levels/{kind}", json={"levels": levels}, headers=bearer(staff.token))


async def set_xp(client: Any, user: User, *, wealth: int | None = None, charm: int | None = None,
                 room: int | None = None) -> None:  # fmt: skip
    """Move XP as the flusher does (an UPDATE of the XP columns): the triggers set the levels."""
    async with db(client.app[CONFIG].database_url) as conn:
        if wealth is not None or charm is not None:
            await conn.execute(
                "UPDATE users SET wealth_xp = coalesce($2, wealth_xp), charm_xp = coalesce($3, charm_xp) WHERE id = $1",
                user.id, wealth, charm,
            )  # fmt: skip
        if room is not None:
            await conn.execute("UPDATE rooms SET room_xp = $2 WHERE id = $1", user.room, room)


async def levels_of(client: Any, user: User) -> tuple[int, int, int]:
    async with db(client.app[CONFIG].database_url) as conn:
        row = await conn.fetchrow(
            "SELECT u.wealth_level, u.charm_level, r.room_level FROM users u JOIN rooms r ON r.user_id = u.id "
            "WHERE u.id = $1",
            user.id,
        )
    return row["wealth_level"], row["charm_level"], row["room_level"]


async def test_the_defaults_and_the_triggers_at_each_threshold(client: Any) -> None:
    user = await new_user(client)
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT type, min_xp FROM levels ORDER BY type, level")
    for kind in ("wealth", "charm", "room"):
        assert [r["min_xp"] for r in rows if r["type"] == kind] == default_min_xp()
    assert await levels_of(client, user) == (1, 1, 1)
    xp = default_min_xp()
    for level in (2, 3, 17, 50):
        for amount, expected in ((xp[level - 1] - 1, level - 1), (xp[level - 1], level), (xp[level - 1] + 1, level)):
            await set_xp(client, user, wealth=amount, charm=amount, room=amount)
            assert await levels_of(client, user) == (expected, expected, expected), (level, amount)
    async with db(client.app[CONFIG].database_url) as conn:
        changes = await conn.fetch("SELECT type, from_level, to_level, reason, room_id FROM level_changes "
                                   "WHERE user_id = $1 ORDER BY id", user.id)  # fmt: skip
        queued = await conn.fetchval("SELECT count(*) FROM level_changes_pending")
    wealth = [(c["from_level"], c["to_level"]) for c in changes if c["type"] == "wealth"]
    # min_xp - 1 of each next level steps down from the level before: every change is kept.
    assert wealth == [(1, 2), (2, 3), (3, 16), (16, 17), (17, 49), (49, 50)]
    assert all(c["reason"] == "xp" for c in changes)
    assert {c["room_id"] for c in changes if c["type"] == "room"} == {user.room}
    assert queued <= len(changes)  # the periodic watcher may have taken some already


async def test_the_admin_edits_a_ladder_and_every_level_follows(make_client: Any, connect: Any) -> None:
    a, b = await make_client(), await make_client()  # two engine processes on one database
    staff, user, other = await new_user(a, "Staff", role="admin"), await new_user(a, "Holder"), await new_user(a)
    await set_xp(a, user, wealth=40, charm=5)
    peer = await connect(a, user)
    assert (await b.get("/api/v1/levels?type=wealth")).status == 200  # b caches the default ladder

    assert (await put_ladder(a, other, "wealth", SMALL)).status == 403
    assert (await put_ladder(a, staff, "vip", SMALL)).status == 404
    bad = [{"level": 1, "min_xp": 1}, {"level": 2, "min_xp": 1}, {"level": 3, "min_xp": 0}]
    resp = await put_ladder(a, staff, "wealth", bad)
    assert resp.status == 422
    assert set((await resp.json())["error"]["fields"]) == {"levels.0.min_xp", "levels.1.min_xp", "levels.2.min_xp"}
    resp = await put_ladder(a, staff, "wealth", [{"level": 1, "min_xp": 0, "rewards": [{"kind": "coins"}]}])
    assert resp.status == 422 and "levels.0.rewards.0" in (await resp.json())["error"]["fields"]
    assert (await put_ladder(a, staff, "wealth", [])).status == 422
    no_frame = [{"level": 1, "min_xp": 0, "rewards": [{"kind": "frame", "ref": 987654, "days": 3}]}]
    resp = await put_ladder(a, staff, "wealth", no_frame)
    assert resp.status == 422 and set((await resp.json())["error"]["fields"]) == {"levels.0.rewards.0"}

    resp = await put_ladder(a, staff, "wealth", SMALL)
    assert resp.status == 200, await resp.text()
    body = (await resp.json())["data"]
    assert body["moved"] >= 1 and [s["max_xp"] for s in body["items"]] == [9, 29, 59, 99, None]
    assert await levels_of(a, user) == (3, 1, 1)  # 40 XP on the new ladder
    ladder = (await (await a.get("/api/v1/levels?type=wealth")).json())["data"]
    assert [s["min_xp"] for s in ladder["items"]] == [0, 10, 30, 60, 100]
    for _ in range(100):  # the other process forgets its copy when the NOTIFY arrives
        items = (await (await b.get("/api/v1/levels?type=wealth")).json())["data"]["items"]
        if len(items) == 5:
            break
        await asyncio.sleep(0.05)
    assert len(items) == 5

    await watch_levels(a.app[LEVELS])
    told = await first(peer, "user.progression")
    assert (told.type, told.level, told.previous_level, told.reached) == ("wealth", 3, 1, [2, 3])  # type: ignore[attr-defined]
    assert (told.next_level, told.next_level_xp, told.progress_bps) == (4, 60, 3333)  # type: ignore[attr-defined]

    # Raising the ladder lowers the level: told, kept in the history as the ladder's doing.
    higher = [{"level": 1, "min_xp": 0}, {"level": 2, "min_xp": 35}, {"level": 3, "min_xp": 50}]
    assert (await put_ladder(a, staff, "wealth", higher)).status == 200
    assert await levels_of(a, user) == (2, 1, 1)
    await watch_levels(a.app[LEVELS])
    fall = await first(peer, "user.progression", 1)
    assert (fall.level, fall.previous_level, fall.reached) == (2, 3, [])  # type: ignore[attr-defined]
    history = (await (await a.get("/api/v1/me/levels/history", headers=bearer(user.token))).json())["data"]
    assert [(c["from_level"], c["to_level"], c["reason"]) for c in history["items"]] == [(3, 2, "ladder"),
                                                                                         (1, 3, "ladder")]  # fmt: skip
    async with db(a.app[CONFIG].database_url) as conn:
        audits = await conn.fetch("SELECT target_id, details FROM audit_log WHERE action = 'levels.ladder' "
                                  "AND actor_id = $1 ORDER BY id", staff.id)  # fmt: skip
    assert [r["target_id"] for r in audits] == ["wealth", "wealth"]


async def test_my_levels_history_and_profiles_show_the_levels(client: Any, connect: Any) -> None:
    staff, user, viewer = await new_user(client, "Staff", role="admin"), await new_user(client), await new_user(client)
    for kind in ("wealth", "charm", "room"):
        assert (await put_ladder(client, staff, kind, SMALL)).status == 200
    for wealth in (12, 35, 70, 120):
        await set_xp(client, user, wealth=wealth)
    await set_xp(client, user, charm=45, room=15)
    mine = (await (await client.get("/api/v1/me/levels", headers=bearer(user.token))).json())["data"]
    assert mine["wealth"] == {"level": 5, "xp": "120.0000", "level_min_xp": 100, "next_level": None,
                              "next_level_xp": None, "xp_to_next": None, "progress_bps": 10000}  # fmt: skip
    assert (mine["charm"]["level"], mine["charm"]["next_level_xp"], mine["charm"]["xp_to_next"]) == (3, 60, "15.0000")
    assert (mine["room"]["room_id"], mine["room"]["level"], mine["room"]["progress_bps"]) == (user.room, 2, 2500)

    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(f"/api/v1/me/levels/history{query}", headers=bearer(user.token))).json()
        seen += [(c["type"], c["to_level"]) for c in page["data"]["items"]]
        if (cursor := page["data"]["next_cursor"]) is None:
            break
    assert seen == [("room", 2), ("charm", 3), ("wealth", 5), ("wealth", 4), ("wealth", 3), ("wealth", 2)]
    bad = await client.get("/api/v1/me/levels/history?cursor=nonsense", headers=bearer(user.token))
    assert bad.status == 422

    profile = (await (await client.get(f"/api/v1/users/{user.id}", headers=bearer(viewer.token))).json())["data"]
    assert (profile["wealth_level"], profile["charm_level"]) == (5, 3)
    room = (await (await client.get(f"/api/v1/rooms/{user.room}")).json())["data"]
    assert (room["room_level"], room["room_xp"]) == (2, 15)
    listed = await (await client.get("/api/rooms?limit=100")).json()
    assert {r["id"]: r["room_level"] for r in listed}[user.room] == 2
    # The join snapshot carries the members' levels.
    peer = await connect(client, user)
    await join(peer, viewer.room)
    ack = await join(await connect(client, viewer), viewer.room)
    assert [(p["id"], p["wealth_level"], p["charm_level"]) for p in ack["participants"]] == [(user.id, 5, 3)]


async def test_level_ups_are_pushed_and_announced_from_the_setting_on(client: Any, connect: Any) -> None:
    staff, climber, host = await new_user(client, "Staff", role="admin"), await new_user(client, "Climber"), \
        await new_user(client, "Host")  # fmt: skip
    for kind in ("wealth", "room"):
        assert (await put_ladder(client, staff, kind, SMALL)).status == 200
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE economy_settings SET value = 3 WHERE key = 'level_announce_min'")
    mine, room = await connect(client, climber), await connect(client, host)
    await join(room, host.room)
    await join(mine, host.room)
    lv = client.app[LEVELS]

    await set_xp(client, climber, wealth=12)  # level 2: below the setting
    await watch_levels(lv)
    await room.wait_until(lambda: any(e["profile"] == {"wealth_level": 2} for e in room.events["user:profile_updated"]))
    await set_xp(client, climber, wealth=65)  # level 4 at once: at or above it
    await watch_levels(lv)
    up = await first(room, "room:levelUp")
    assert (up.roomId, up.type, up.level, up.user.id, up.user.name) == (  # type: ignore[attr-defined]
        str(host.room),
        "wealth",
        4,
        climber.id,
        "Climber",
    )
    told = await mine.wait_for("user.progression", 2)
    assert [(t["level"], t["reached"]) for t in told] == [(2, [2]), (4, [3, 4])]
    assert len(room.events["room:levelUp"]) == 1  # level 2 was not announced (it came before level 4)
    assert "user.progression" not in room.events

    await set_xp(client, host, room=35)  # the host's room reaches level 3: announced in that room
    await watch_levels(lv)
    await room.wait_for("room:levelUp", 2)
    room_up = await first(room, "room:levelUp", 1)
    assert (room_up.type, room_up.level, room_up.user) == ("room", 3, None)  # type: ignore[attr-defined]
    to_host = await first(room, "user.progression")
    assert (to_host.type, to_host.room_id, to_host.level) == ("room", host.room, 3)  # type: ignore[attr-defined]
    metrics = client.app[LEVELS].svc.metrics
    assert metrics.level_ups.labels("wealth")._value.get() >= 3


async def test_room_xp_alone_does_not_make_the_processes_forget_the_room(client: Any) -> None:
    """Every flush adds room XP: only a new room level (or any other column) NOTIFYs the room's topic."""
    staff, owner = await new_user(client, "Staff", role="admin"), await new_user(client)
    assert (await put_ladder(client, staff, "room", SMALL)).status == 200
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with db(client.app[CONFIG].database_url) as listener:
        await listener.add_listener("flylive_cache", lambda *args: heard.put_nowait(args[3]))
        topic = f"room:{owner.room}"
        for xp, marker in ((5, "after-xp"), (12, "after-level")):
            await set_xp(client, owner, room=xp)  # 5: still level 1; 12: level 2
            async with db(client.app[CONFIG].database_url) as conn:
                await conn.execute("SELECT pg_notify('flylive_cache', $1)", marker)
            payloads = []
            while (payload := await asyncio.wait_for(heard.get(), 5)) != marker:
                payloads.append(payload)
            assert (topic in payloads) == (marker == "after-level"), payloads


async def test_xp_alone_does_not_make_the_processes_forget_the_user(client: Any) -> None:
    """Every flush adds wealth and charm XP (sql/0033): only a new level (or any other column) NOTIFYs the
    user's topic, so a gift storm does not reload each sender and recipient into every hot cache."""
    staff, user = await new_user(client, "Staff", role="admin"), await new_user(client)
    for kind in ("wealth", "charm"):
        assert (await put_ladder(client, staff, kind, SMALL)).status == 200
    heard: asyncio.Queue[str] = asyncio.Queue()
    async with db(client.app[CONFIG].database_url) as listener:
        await listener.add_listener("flylive_cache", lambda *args: heard.put_nowait(args[3]))
        topic = f"user:{user.id}"
        steps = (
            ({"wealth": 5, "charm": 3}, False),
            ({"wealth": 12}, True),
            ({"charm": 9}, False),
            ({"charm": 40}, True),
        )
        for index, (xp, notifies) in enumerate(steps):
            await set_xp(client, user, **xp)
            marker = f"after-step-{index}"
            async with db(client.app[CONFIG].database_url) as conn:
                await conn.execute("SELECT pg_notify('flylive_cache', $1)", marker)
            payloads = []
            while (payload := await asyncio.wait_for(heard.get(), 5)) != marker:
                payloads.append(payload)
            assert (topic in payloads) == notifies, (xp, payloads)
        async with db(client.app[CONFIG].database_url) as conn:
            await conn.execute("UPDATE users SET name = 'Renamed' WHERE id = $1", user.id)
            await conn.execute("SELECT pg_notify('flylive_cache', 'after-rename')")
        payloads = []
        while (payload := await asyncio.wait_for(heard.get(), 5)) != "after-rename":
            payloads.append(payload)
        assert topic in payloads
