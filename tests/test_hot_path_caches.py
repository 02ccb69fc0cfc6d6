"""The hot-path cache (engine/rooms/cache.py): what room:join, the rank checks and gift:send keep in
process must be forgotten when it changes — on this process, on another one sharing the database,
and when the change is plain SQL. Each change is made on process A (or in SQL) and the next event
goes to process B, which read the old value before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.appkeys import REALTIME, ROOMS, SERVICES
from tests.agency_setup import agency_share_probe
from tests.helpers import bearer, db, heard_by, join, new_user
from tests.sockets import Peer


async def two_processes(make_client: Any) -> tuple[Any, Any]:
    a, b = await make_client(), await make_client()
    assert a.app[REALTIME].instance_id != b.app[REALTIME].instance_id
    return a, b


async def test_a_ban_and_its_lifting_reach_the_next_join_on_another_process(make_client: Any, connect: Any) -> None:
    a, b = await two_processes(make_client)
    database_url = a.app[SERVICES].config.database_url
    owner, guest = await new_user(a, "Owner"), await new_user(a, "Guest")
    g = await connect(b, guest)
    await join(g, owner.room)  # B now holds the room, its (no) bans and the guest's profile
    assert (await g.call("room:leave", {"roomId": owner.room}))["success"]

    bans = f"/api/v1/rooms/{owner.room}/bans"
    async with heard_by(database_url, b.app):
        assert (await a.post(bans, json={"user_id": guest.id}, headers=bearer(owner.token))).status == 201
    refused = await join(g, owner.room, must_succeed=False)
    assert (refused["success"], refused["code"], refused["permanent"]) == (False, "ROOM_BLOCKED", True)

    async with heard_by(database_url, b.app):
        assert (await a.delete(f"{bans}/{guest.id}", headers=bearer(owner.token))).status == 200
    await join(g, owner.room)


async def test_an_admin_grant_and_removal_reach_the_next_event_on_another_process(
    make_client: Any, connect: Any
) -> None:
    a, b = await two_processes(make_client)
    database_url = a.app[SERVICES].config.database_url
    owner, mod, sitter = await new_user(a, "Owner"), await new_user(a, "Mod"), await new_user(a, "Sitter")
    peers = [await connect(b, user) for user in (owner, mod, sitter)]
    for peer in peers:
        await join(peer, owner.room)
    m, s = peers[1], peers[2]
    assert (await s.call("seat:take", {"roomId": owner.room, "seatIndex": 1}))["success"]
    mute = {"roomId": owner.room, "userId": sitter.id}
    assert (await m.call("seat:mute", mute))["code"] == "NOT_AUTHORIZED"  # B read Mod's standing

    admins = f"/api/v1/rooms/{owner.room}/admins"
    async with heard_by(database_url, b.app):
        assert (await a.post(admins, json={"user_id": mod.id}, headers=bearer(owner.token))).status == 200
    assert (await m.call("seat:mute", mute))["success"] is True

    async with heard_by(database_url, b.app):
        assert (await a.delete(f"{admins}/{mod.id}", headers=bearer(owner.token))).status == 200
    assert (await m.call("seat:unmute", mute))["code"] == "NOT_AUTHORIZED"


async def test_a_vip_level_changed_in_sql_reaches_the_next_event(make_client: Any, connect: Any) -> None:
    a, b = await two_processes(make_client)
    database_url = a.app[SERVICES].config.database_url
    owner, vip = await new_user(a, "Owner"), await new_user(a, "Vip")
    o, v = await connect(b, owner), await connect(b, vip)
    for peer in (o, v):
        await join(peer, owner.room)
    remove = {"roomId": owner.room, "userId": vip.id}
    take = {"roomId": owner.room, "seatIndex": 3}
    assert (await v.call("seat:take", take))["success"]
    assert (await o.call("seat:remove", remove))["success"] is True  # level 0: B has read it

    assert (await v.call("seat:take", take))["success"]
    async with heard_by(database_url, b.app), db(database_url) as conn:
        await conn.execute("UPDATE users SET vip_level = 5, vip_expires_at = now() + interval '1 day' WHERE id = $1",
                           vip.id)  # fmt: skip
    assert (await o.call("seat:remove", remove))["code"] == "VIP_PROTECTED"

    async with heard_by(database_url, b.app), db(database_url) as conn:
        await conn.execute("UPDATE users SET vip_level = 0, vip_expires_at = NULL WHERE id = $1", vip.id)
    assert (await o.call("seat:remove", remove))["success"] is True


async def test_an_agency_membership_change_reaches_the_next_gift(make_client: Any, connect: Any) -> None:
    a, b = await two_processes(make_client)
    sender, host = await new_user(a, "Sender", role="super_admin"), await new_user(a, "Host")
    database_url = a.app[SERVICES].config.database_url
    agency_share_of_next_gift = await agency_share_probe(a, b, connect, sender, host, "agency-1")

    assert await agency_share_of_next_gift() == []  # B has read: no agency
    async with heard_by(database_url, b.app), db(database_url) as conn:
        agency = await conn.fetchval("INSERT INTO agencies (name, owner_id) VALUES ('A', $1) RETURNING id", sender.id)
        await conn.execute("INSERT INTO agency_members (agency_id, user_id) VALUES ($1, $2)", agency, host.id)
    assert await agency_share_of_next_gift() == [agency]
    async with heard_by(database_url, b.app), db(database_url) as conn:
        await conn.execute("UPDATE agency_members SET left_at = now() WHERE user_id = $1", host.id)
    assert await agency_share_of_next_gift() == []


async def test_a_room_update_reaches_the_next_join_on_another_process(make_client: Any, connect: Any) -> None:
    a, b = await two_processes(make_client)
    database_url = a.app[SERVICES].config.database_url
    owner, guest = await new_user(a, "Owner"), await new_user(a, "Guest")
    g = await connect(b, guest)
    before = (await join(g, owner.room))["room"]["name"]
    assert (await g.call("room:leave", {"roomId": owner.room}))["success"]
    async with heard_by(database_url, b.app):
        renamed = await a.patch(f"/api/v1/rooms/{owner.room}", json={"name": "Renamed"}, headers=bearer(owner.token))
    assert renamed.status == 200, await renamed.text()
    assert before != "Renamed" and (await join(g, owner.room))["room"]["name"] == "Renamed"


async def test_a_load_overtaken_by_a_change_is_not_kept_and_misses_share_one_load(client: Any) -> None:
    cache = client.app[ROOMS].cache
    loads: list[int] = []

    async def load(_conn: Any) -> int:
        loads.append(len(loads) + 1)
        if len(loads) == 1:
            cache.invalidate("user:1")  # the row changed while it was being read
        await asyncio.sleep(0)
        return loads[-1]

    assert await cache.get(("probe", 1), ("user:1",), load) == 1
    assert await cache.get(("probe", 1), ("user:1",), load) == 2  # the first read was not kept
    assert await cache.get(("probe", 1), ("user:1",), load) == 2
    cache.invalidate("user:1")
    assert set(await asyncio.gather(*(cache.get(("probe", 1), ("user:1",), load) for _ in range(20)))) == {3}
    assert loads == [1, 2, 3]


async def test_without_its_listen_connection_the_cache_reads_postgresql(client: Any, connect: Any) -> None:
    cache = client.app[ROOMS].cache
    owner = await new_user(client, "Owner")
    o = await connect(client, owner)
    database_url = client.app[SERVICES].config.database_url
    first = await join(o, owner.room)

    async with db(database_url) as conn:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND application_name = 'flylive-listen'")  # fmt: skip
    await until(lambda: not cache.listening)  # the engine noticed the connection is gone
    async with db(database_url) as conn:
        # A change no notification announces: the cache must not answer from memory meanwhile.
        await conn.execute("ALTER TABLE rooms DISABLE TRIGGER rooms_cache_notify")
        await conn.execute("UPDATE rooms SET name = 'Unannounced' WHERE id = $1", owner.room)
        await conn.execute("ALTER TABLE rooms ENABLE TRIGGER rooms_cache_notify")
    assert first["room"]["name"] != "Unannounced"
    assert await rejoined_name(o, owner.room) == "Unannounced"
    await until(lambda: cache.listening)  # it reconnects by itself, and listens from an empty cache
    assert await rejoined_name(o, owner.room) == "Unannounced"
    resp = await client.patch(f"/api/v1/rooms/{owner.room}", json={"name": "Back"}, headers=bearer(owner.token))
    assert resp.status == 200, await resp.text()
    assert await rejoined_name(o, owner.room) == "Back"


async def rejoined_name(peer: Peer, room: int) -> str:
    assert (await peer.call("room:leave", {"roomId": room}))["success"]
    return str((await join(peer, room))["room"]["name"])


async def until(condition: Callable[[], bool], tries: int = 500) -> None:
    """Wait for a state the engine reaches by itself (bounded, so a broken engine fails the test)."""
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the engine never got there")


async def test_a_listen_connection_that_hears_nothing_counts_as_down(client: Any, connect: Any) -> None:
    """An open LISTEN connection that hears nothing (a pooler in transaction mode, a half-dead link)
    must not leave the cache answering from memory."""
    cache = client.app[ROOMS].cache
    cache.ping_seconds = 0.3
    owner = await new_user(client, "Owner")
    o = await connect(client, owner)
    await join(o, owner.room)
    await until(lambda: cache.listening)
    assert cache._conn is not None
    await cache._conn.execute("UNLISTEN *")  # still open, deaf from now on
    await until(lambda: not cache.listening)  # its own ping went unheard
    database_url = client.app[SERVICES].config.database_url
    async with db(database_url) as conn:
        await conn.execute("UPDATE rooms SET name = 'Heard anyway' WHERE id = $1", owner.room)
    assert await rejoined_name(o, owner.room) == "Heard anyway"
    await until(lambda: cache.listening)  # it connected afresh, hearing again
