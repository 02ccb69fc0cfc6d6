"""The activity log (issue 12 §7) from what really happens: room visits through real room:join /
room:leave / disconnects / a dead process's reaping (with their duration and time on mic), gifts
through a real gift:send and the ledger flusher, follows and unfollows through the REST API; the
stats computed from them; and the worker losing nothing when it dies mid-stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from engine.activity import store as activity_store
from engine.activity import worker
from engine.appkeys import REALTIME, ROOMS, SERVICES
from engine.economy.flusher import flush_all
from engine.rooms import janitor
from tests.helpers import User, bearer, db, join, new_user
from tests.social_setup import block, follow, unfollow
from tests.test_gifts_basic import gift_room

# Each test drives the worker itself: the background one waits an hour after its first (empty) pass.
QUIET = {"activity_flush_interval_seconds": 3600.0}


async def visits_of(database_url: str, user_id: int) -> list[dict[str, Any]]:
    async with db(database_url) as conn:
        rows = await conn.fetch(
            "SELECT room_id, duration_ms, mic_ms, source FROM user_activity WHERE user_id = $1 AND kind = 'room_visit'"
            " ORDER BY id",
            user_id,
        )
    return [dict(r) for r in rows]


async def stream_length(client: Any, user_id: int) -> int:
    svc = client.app[SERVICES]
    return await activity_store.backlog(svc.redis, svc.keys.activity(svc.keys.shard_of(user_id)))


async def feed(client: Any, viewer: Any, user_id: int, query: str = "") -> Any:
    resp = await client.get(f"/api/v1/users/{user_id}/activity{query}", headers=bearer(viewer.token))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def stats(client: Any, viewer: Any, user_id: int) -> Any:
    resp = await client.get(f"/api/v1/users/{user_id}/stats", headers=bearer(viewer.token))
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


async def test_a_visit_through_join_and_leave_has_its_duration_and_time_on_mic(make_client: Any, connect: Any,
                                                                              config: Any) -> None:  # fmt: skip
    client = await make_client(**QUIET)
    host, guest = await new_user(client, "Host"), await new_user(client, "Guest")
    g = await connect(client, guest)
    started = time.monotonic()
    await join(g, host.room)
    await asyncio.sleep(0.2)
    assert (await g.call("seat:take", {"roomId": host.room, "seatIndex": 2}))["success"]
    seated = time.monotonic()
    await asyncio.sleep(0.4)
    assert (await g.call("seat:take", {"roomId": host.room, "seatIndex": 4}))["success"]  # a move keeps counting
    await asyncio.sleep(0.3)
    assert (await g.call("seat:leave", {"roomId": host.room}))["success"]
    on_mic = time.monotonic() - seated
    await asyncio.sleep(0.2)
    assert (await g.call("room:leave", {"roomId": host.room}))["success"]
    stayed = time.monotonic() - started
    # Written off the hot path: the leave appended the visit to the stream; nothing is in PostgreSQL yet.
    assert await stream_length(client, guest.id) == 1
    assert await visits_of(config.database_url, guest.id) == []
    svc = client.app[SERVICES]
    assert await worker.drain_all(svc, "test") == 1
    assert await stream_length(client, guest.id) == 0
    [visit] = await visits_of(config.database_url, guest.id)
    assert visit["room_id"] == host.room
    assert 1000 * (stayed - 0.2) <= visit["duration_ms"] <= 1000 * stayed + 20
    assert 1000 * (on_mic - 0.2) <= visit["mic_ms"] <= 1000 * (on_mic + 0.2)
    [item] = (await feed(client, guest, guest.id))["items"]
    assert item["kind"] == "room_visit" and item["room_id"] == str(host.room)
    assert (item["duration_seconds"], item["mic_seconds"]) == (visit["duration_ms"] // 1000, visit["mic_ms"] // 1000)
    assert item["user"] is None and item["coins"] is None
    # A second socket of the same user neither starts nor ends a visit of its own.
    g2 = await connect(client, guest)
    await join(g, host.room)
    await join(g2, host.room)
    await g2.call("room:leave", {"roomId": host.room})
    assert await stream_length(client, guest.id) == 0
    await g.call("room:leave", {"roomId": host.room})
    assert await worker.drain_all(svc, "test") == 1
    assert len(await visits_of(config.database_url, guest.id)) == 2
    written = svc.metrics.registry.get_sample_value("flylive_activity_visits_written_total", {"outcome": "written"})
    assert written == 2


async def test_a_dying_socket_and_a_closed_room_end_their_visits(make_client: Any, connect: Any, config: Any) -> None:
    client = await make_client(**QUIET, seat_grace_ms=60_000)
    host, guest, other = await new_user(client, "Host"), await new_user(client, "Guest"), await new_user(client)
    g, h = await connect(client, guest), await connect(client, host)
    await join(h, host.room)
    await join(g, host.room)
    assert (await g.call("seat:take", {"roomId": host.room, "seatIndex": 1}))["success"]
    await asyncio.sleep(0.3)
    await g.close()  # the socket dies: its seat is held for the grace, its time on mic stops
    await h.wait_for("room:userLeft")
    await asyncio.sleep(0.3)
    svc = client.app[SERVICES]
    await worker.drain_all(svc, "test")
    [visit] = await visits_of(config.database_url, guest.id)
    assert 250 <= visit["mic_ms"] <= visit["duration_ms"] < 3000
    # Back within the grace: the held seat is theirs again and counts from the reclaim.
    g = await connect(client, guest)
    assert (await join(g, host.room))["reclaimedSeat"] == 1
    o = await connect(client, other)
    await join(o, host.room)
    await asyncio.sleep(0.2)
    close = await h.call("room:close", {"roomId": host.room})
    assert close["success"], close
    await worker.drain_all(svc, "test")
    closed = (await visits_of(config.database_url, guest.id))[1]
    assert 150 <= closed["mic_ms"] <= closed["duration_ms"] < 3000
    assert len(await visits_of(config.database_url, other.id)) == 1
    assert len(await visits_of(config.database_url, host.id)) == 1


async def test_a_dead_process_s_visits_end_when_a_survivor_reaps_it(make_client: Any, connect: Any,
                                                                    config: Any) -> None:  # fmt: skip
    a, b = await make_client(**QUIET), await make_client(**QUIET)
    host, ghost = await new_user(a, "Host"), await new_user(b, "Ghost")
    gp = await connect(b, ghost)
    await join(gp, host.room)
    assert (await gp.call("seat:take", {"roomId": host.room, "seatIndex": 3}))["success"]
    await asyncio.sleep(0.3)
    rt_b = b.app[REALTIME]
    for job in rt_b.background:  # B goes silent without a clean stop
        await job.stop()
    assert await janitor.reap_instance(a.app[ROOMS], rt_b.instance_id) == 1
    await worker.drain_all(a.app[SERVICES], "survivor")
    [visit] = await visits_of(config.database_url, ghost.id)
    assert visit["room_id"] == host.room and 250 <= visit["mic_ms"] <= visit["duration_ms"]


async def test_gifts_sent_and_received_come_from_the_ledger(client: Any, config: Any) -> None:
    async with gift_room(client, config, coins=100, key="act-grant-1") as r:
        send = {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id, "quantity": 3,
                "idempotencyKey": "act-send-1"}  # fmt: skip
        assert (await r.a.call("gift:send", send))["success"]
        assert (await r.a.call("gift:send", send))["replay"] is True  # a retry is no second gift
        assert (await r.a.call("gift:send", {**send, "quantity": 1, "idempotencyKey": "act-send-2"}))["success"]
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    await flush_all(svc, svc.wallets, "test")
    sender, host = User(r.sender["token"], r.sender_id, 0, ""), User(r.host["token"], r.host_id, 0, "")
    sent = (await feed(client, sender, r.sender_id, "?kind=gift_sent"))["items"]
    assert [(i["coins"], i["quantity"], i["user"]["id"], i["room_id"], i["gift_id"]) for i in sent] == [
        (7, 1, r.host_id, str(r.room_id), "900"), (21, 3, r.host_id, str(r.room_id), "900")]  # fmt: skip
    received = (await feed(client, host, r.host_id, "?kind=gift_received"))["items"]
    assert [(i["coins"], i["user"]["id"]) for i in received] == [(7, r.sender_id), (21, r.sender_id)]
    mine = await stats(client, sender, r.sender_id)
    assert (mine["gifts_sent"], mine["gifts_sent_coins"], mine["gifts_received_coins"]) == (2, 28, 0)
    theirs = await stats(client, sender, r.host_id)
    assert (theirs["gifts_received"], theirs["gifts_received_coins"], theirs["gifts_sent_coins"]) == (2, 28, 0)


async def test_follows_are_logged_and_make_the_followers_trend(client: Any) -> None:
    star, fan, fan2, other = [await new_user(client, n) for n in ("Star", "Fan", "Fan2", "Other")]
    await follow(client, fan, star)
    await unfollow(client, fan, star)
    await follow(client, fan, star)
    await follow(client, fan2, star)
    await follow(client, star, fan2)
    await follow(client, other, star)
    await block(client, star, other)  # removes other's follow: a loss in the trend
    items = (await feed(client, fan, fan.id))["items"]
    assert [(i["kind"], i["user"]["id"]) for i in items] == [("follow", star.id), ("follow", star.id)]  # no unfollow
    trend = (await stats(client, fan, star.id))["followers_trend"]
    assert len(trend) == 8 and [w["gained"] for w in trend[:-1]] == [0] * 7
    assert trend[-1] == {**trend[-1], "gained": 4, "lost": 2, "net": 2, "followers": 2}
    assert all(w["followers"] == 0 for w in trend[:-1])
    assert (await client.get(f"/api/v1/users/{star.id}", headers=bearer(fan.token))).status == 200
    assert (await feed(client, star, star.id, "?kind=follow"))["items"][0]["user"]["id"] == fan2.id


async def test_stats_count_rooms_visits_and_minutes_on_mic(make_client: Any, connect: Any, config: Any) -> None:
    client = await make_client(**QUIET)
    a, b, guest = await new_user(client, "A"), await new_user(client, "B"), await new_user(client, "Guest")
    g = await connect(client, guest)
    for room in (a.room, b.room, a.room):
        await join(g, room)  # joining another room leaves the one before
    assert (await g.call("seat:take", {"roomId": a.room, "seatIndex": 0}))["success"]
    await asyncio.sleep(0.3)
    await g.call("room:leave", {"roomId": a.room})
    await worker.drain_all(client.app[SERVICES], "test")
    visits = await visits_of(config.database_url, guest.id)
    assert [v["room_id"] for v in visits] == [a.room, b.room, a.room]
    async with db(config.database_url) as conn:  # a long visit, as the worker would have written it
        await conn.execute(
            """INSERT INTO user_activity (user_id, kind, room_id, duration_ms, mic_ms, source, happened_at)
               VALUES ($1, 'room_visit', $2, 3600000, 1500000, 'test:long', now())""",
            guest.id, b.room,
        )  # fmt: skip
    mine = await stats(client, guest, guest.id)
    mic = sum(v["mic_ms"] for v in visits) + 1_500_000
    assert (mine["room_visits"], mine["rooms_visited"]) == (4, 2)
    assert (mine["minutes_on_mic"], mine["seconds_on_mic"]) == (mic // 60_000, mic // 1000) == (25, mic // 1000)
    assert mine["minutes_in_rooms"] == (sum(v["duration_ms"] for v in visits) + 3_600_000) // 60_000


async def test_nothing_is_lost_when_the_worker_dies_mid_stream(make_client: Any, connect: Any, config: Any) -> None:
    client = await make_client(**QUIET)
    host = await new_user(client, "Host")
    guests = [await new_user(client, f"G{n}") for n in range(4)]
    peers = [await connect(client, guest) for guest in guests]
    for peer in peers:
        await join(peer, host.room)
    for peer in peers:
        await peer.call("room:leave", {"roomId": host.room})
    svc = client.app[SERVICES]
    streams = {svc.keys.activity(svc.keys.shard_of(g.id)) for g in guests}
    # A worker reads its batches and dies before committing: the entries stay pending, unacknowledged.
    for stream in streams:
        taken = await activity_store.read_entries(svc.redis, stream, worker.GROUP, "dead", 100, 30_000)
        assert taken
    assert await worker.drain_all(svc, "alive") == 0  # not yet idle long enough to be taken over
    for g in guests:
        assert await visits_of(config.database_url, g.id) == []
    # Another worker commits a batch and dies before acknowledging it: written twice, counted once.
    stream = next(iter(streams))
    entries = await activity_store.read_entries(svc.redis, stream, worker.GROUP, "dead2", 100, 0)
    async with svc.pool.acquire() as conn, conn.transaction():
        await activity_store.insert_visits_txn(conn, [visit for _id, visit in entries if visit is not None])
    assert await worker.drain_all(svc, "alive", claim_idle_ms=0) == 4
    for g in guests:
        assert len(await visits_of(config.database_url, g.id)) == 1
        assert await stream_length(client, g.id) == 0
    # A stopped process leaves its visits in the stream; a worker elsewhere drains them when it runs.
    await join(peers[0], host.room)
    await peers[0].call("room:leave", {"roomId": host.room})
    assert await stream_length(client, guests[0].id) == 1
    await make_client(activity_flush_interval_seconds=0.05)
    for _ in range(200):
        if len(await visits_of(config.database_url, guests[0].id)) == 2:
            break
        await asyncio.sleep(0.02)
    assert len(await visits_of(config.database_url, guests[0].id)) == 2


async def test_the_ledger_trigger_splits_gifts_per_recipient_and_never_stops_a_flush(client: Any, config: Any) -> None:
    sender, r1, r2 = [await new_user(client, n) for n in ("Sender", "R1", "R2")]
    gift = """INSERT INTO ledger_transactions (txn_id, kind, initiator_id, ref_type, ref_id, metadata, created_at)
              VALUES ($1, 'gift', $2, 'gift', '5', $3::text::jsonb, now()) ON CONFLICT (txn_id) DO NOTHING"""
    meta = f'{{"room_id": {sender.room}, "recipients": [{r1.id}, {r2.id}, 999999999], "quantity": 2, "price": 10}}'
    async with db(config.database_url) as conn:
        for _ in range(2):  # a transaction flushed again adds nothing
            await conn.execute(gift, "00000000-0000-0000-0000-000000000001", sender.id, meta)
        for n, bad in enumerate(('{"recipients": "x", "quantity": 1, "price": 1}', '{"recipients": [1]}',
                                 f'{{"recipients": ["{r1.id}"], "quantity": -1, "price": 3}}'), start=2):  # fmt: skip
            await conn.execute(gift, f"00000000-0000-0000-0000-00000000000{n}", sender.id, bad)
        rows = await conn.fetch("SELECT user_id, kind, other_user_id, coins, room_id FROM user_activity ORDER BY id")
    assert sorted(tuple(r) for r in rows) == sorted([
        (sender.id, "gift_sent", r1.id, 20, sender.room), (sender.id, "gift_sent", r2.id, 20, sender.room),
        (r1.id, "gift_received", sender.id, 20, sender.room), (r2.id, "gift_received", sender.id, 20, sender.room),
    ])  # fmt: skip
