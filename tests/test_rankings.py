"""Rankings (issue 14 §3): live boards fed by the ledger flush agree with the ledger exactly, a
re-delivered batch counts once, periods roll over at business-zone boundaries, and the period-end job
snapshots and pays once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import uuid
from collections import defaultdict
from typing import Any

from engine.appkeys import RANKINGS, SERVICES
from engine.economy import model as money
from engine.economy import store as economy_store
from engine.progression import rankings_store
from engine.progression.rankings import Rankings
from engine.progression.rankings_model import BOARDS, GLOBAL, PERIODS, closed_spans, span_of
from tests.helpers import bearer, db
from tests.test_gift_storm import PRICES, adjust, drain, party, storm

KARACHI = "Asia/Karachi"  # UTC+5, no daylight saving time


async def _board(client: Any, key: str) -> dict[int, int]:
    rows = await client.app[SERVICES].redis.zrange(key, 0, -1, withscores=True)
    return {int(member): int(score) for member, score in rows}


async def _gifts(client: Any) -> list[money.Txn]:
    """Every gift the ledger recorded, as the flusher saw them."""
    async with db(client.app[SERVICES].config.database_url) as conn:
        rows = await conn.fetch("SELECT txn_id, initiator_id, metadata, created_at FROM ledger_transactions "
                                "WHERE kind = 'gift'")  # fmt: skip
    import json

    return [money.Txn(txn_id=str(r["txn_id"]), kind="gift", legs=[], initiator_id=r["initiator_id"],
                      at_ms=int(r["created_at"].timestamp() * 1000), metadata=json.loads(r["metadata"]))
            for r in rows]  # fmt: skip


async def test_gift_storm_with_replays_boards_equal_the_ledger(client: Any, register: Any, config: Any) -> None:
    rng = random.Random(14_3)
    async with party(client, register, config, 6) as p:
        admin, ids = p.members[0], [m.id for m in p.members]
        async with db(config.database_url) as conn:  # half the users in the Emirates: a country board
            await conn.execute("UPDATE users SET country = 'PK'")
            await conn.execute("UPDATE users SET country = 'AE' WHERE id = ANY($1::bigint[])", ids[::2])
        for member in p.members:
            await adjust(client, admin, member, 2_000)
        sent_gifts = await storm(p, rng, 12, 2, "rank")
        wealth: dict[int, int] = defaultdict(int)
        charm: dict[int, int] = defaultdict(int)
        agency: dict[int, int] = defaultdict(int)
        for member, payload, ack in sent_gifts:
            if not ack["success"] or ack.get("replay"):
                continue
            each = PRICES[payload["giftId"]] * payload["quantity"]
            wealth[member.id] += each * len(ack["acceptedRecipientIds"])
            for recipient in ack["acceptedRecipientIds"]:
                charm[recipient] += each
                if recipient in p.agencies:
                    agency[p.agencies[recipient]] += each
        assert wealth and agency
        await drain(client)
        # A crash after the commit re-delivers batches: the observer sees every gift again.
        await client.app[RANKINGS].ledger_flushed(await _gifts(client))
        rankings: Rankings = client.app[RANKINGS]
        room_total = sum(wealth.values())
        for period in PERIODS:
            expect = {"wealth": dict(wealth), "charm": dict(charm), "room": {p.room_id: room_total},
                      "agency": dict(agency)}  # fmt: skip
            for board in BOARDS:
                assert await _board(client, rankings.board_key(board, period, None)) == expect[board], (board, period)
            ae = {u: s for u, s in wealth.items() if u in ids[::2]}
            assert await _board(client, rankings.board_key("wealth", period, "ae")) == ae
            pk = {u: s for u, s in charm.items() if u not in ids[::2]}
            assert await _board(client, rankings.board_key("charm", period, "PK")) == pk
        async with db(config.database_url) as conn:  # ... and the ledger's own sums say the same, everywhere
            for period in PERIODS:
                span = span_of(period, dt.datetime.now(dt.UTC), config.business_timezone)
                for board in BOARDS:
                    sums = await rankings_store.ledger_sums(conn, board, span.starts, span.ends)
                    live = await _board(client, rankings.board_key(board, period, None))
                    assert {m: s for m, s, _ in sums} == live, (board, period)

        top = max(wealth, key=lambda u: (wealth[u], -u))
        member = next(m for m in p.members if m.id == top)
        resp = await client.get("/api/v1/rankings/wealth?period=weekly&limit=3", headers=bearer(member.token))
        data = (await resp.json())["data"]
        assert resp.status == 200 and data["me"] == {"rank": 1, "id": top, "score": wealth[top]}
        assert data["entries"][0]["id"] == top and data["entries"][0]["name"]
        assert len(data["entries"]) == 3
        resp = await client.get("/api/v1/rankings/wealth?country=AE", headers=bearer(p.watcher.token))
        data = (await resp.json())["data"]
        assert data["me"] is None and {e["id"] for e in data["entries"]} <= set(ids[::2])

        resp = await client.get(f"/api/rooms/{p.room_id}/leaderboard?period=weekly", headers=bearer(admin.token))
        legacy = await resp.json()
        assert resp.status == 200 and legacy["total_users"] == len(wealth)
        assert {e["id"]: e["coins_spent"] for e in legacy["leaderboard"]} == dict(wealth)
        assert list(legacy["leaderboard"][0]) == ["id", "name", "avatar_url", "coins_spent", "wealth_badge"]


def _gift(sender: int, recipients: list[int], room: int, at: dt.datetime, price: int = 10,
          agency: list[list[int]] | None = None) -> money.Txn:  # fmt: skip
    meta: dict[str, object] = {"room_id": room, "recipients": recipients, "quantity": 1, "price": price}
    if agency:
        meta["agency_income"] = agency
    return money.Txn(txn_id=str(uuid.uuid4()), kind="gift", legs=[], initiator_id=sender,
                     at_ms=int(at.timestamp() * 1000), metadata=meta)  # fmt: skip


def _in_zone(svc: Any, tz: str) -> Rankings:
    return Rankings(dataclasses.replace(svc, config=dataclasses.replace(svc.config, business_timezone=tz)))


async def test_a_redelivered_batch_counts_once(client: Any) -> None:
    rankings: Rankings = client.app[RANKINGS]
    now = dt.datetime.now(dt.UTC)
    batch = [_gift(1, [2, 3], 7, now, agency=[[2, 40, 1, 2]]), _gift(2, [3], 7, now, price=5)]
    await rankings.ledger_flushed(batch)
    await rankings.ledger_flushed(batch)  # the same outbox entries, delivered again
    await rankings.ledger_flushed([batch[1], _gift(9, [3], 8, now)])  # overlapping with a new one
    for period in PERIODS:
        assert await _board(client, rankings.board_key("wealth", period, None)) == {1: 20, 2: 5, 9: 10}
        assert await _board(client, rankings.board_key("charm", period, None)) == {2: 10, 3: 25}
        assert await _board(client, rankings.board_key("room", period, None)) == {7: 25, 8: 10}
        assert await _board(client, rankings.board_key("agency", period, None)) == {40: 10}


def _next_first_on_a_tuesday(after: dt.date) -> dt.date:
    first = after.replace(day=1)
    while first <= after or first.isoweekday() != 2:
        first = (first + dt.timedelta(days=32)).replace(day=1)
    return first


async def test_period_rollover_at_utc_and_karachi_boundaries(client: Any) -> None:
    svc = client.app[SERVICES]
    first = _next_first_on_a_tuesday(dt.date.today() + dt.timedelta(days=3))
    for tz, offset in (("UTC", 0), (KARACHI, 5)):
        rankings = _in_zone(svc, tz)
        # The Sunday 23:59:59 local before a month that starts on a Tuesday, that Monday, then the Tuesday 00:00
        # local: day, ISO week and month change. In the future, so the live keys have not expired yet.
        at = dt.datetime.combine(first, dt.time(), dt.UTC) - dt.timedelta(hours=offset)
        before, monday, after = at - dt.timedelta(days=1, seconds=1), at - dt.timedelta(days=1), at
        await rankings.ledger_flushed([_gift(100 + offset, [2], 7, before), _gift(100 + offset, [2], 7, monday, 3),
                                       _gift(100 + offset, [2], 7, after, 1)])  # fmt: skip
        sender = 100 + offset

        async def score(
            period: Any, at: dt.datetime, rankings: Rankings = rankings, sender: int = sender
        ) -> int | None:
            key = rankings.board_key("wealth", period, None, now=at)
            value = await svc.redis.zscore(key, sender)
            return None if value is None else int(value)

        assert await score("daily", before) == 10 and await score("daily", monday) == 3
        assert await score("daily", after) == 1
        assert await score("weekly", before) == 10 and await score("weekly", monday) == 3 + 1  # Mon + Tue
        assert await score("monthly", before) == 10 + 3 and await score("monthly", after) == 1
        assert await score("all_time", after) == 14
        assert span_of("weekly", monday, tz).start == (first - dt.timedelta(days=1)).isoformat()
        assert span_of("daily", before, tz).start == (first - dt.timedelta(days=2)).isoformat()
        previous_month = (first - dt.timedelta(days=1)).replace(day=1)
        assert span_of("monthly", after - dt.timedelta(microseconds=1), tz).start == previous_month.isoformat()
    # In Karachi, 19:00 UTC is already the next business day.
    assert span_of("daily", dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.UTC), KARACHI).start == "2026-12-01"
    assert span_of("daily", dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.UTC), "UTC").start == "2026-11-30"


async def _record(client: Any, txns: list[money.Txn]) -> None:
    async with client.app[SERVICES].pool.acquire() as conn, conn.transaction():
        await economy_store.record_batch_txn(conn, [(txn, None) for txn in txns])


async def test_period_end_job_twice_snapshots_and_pays_once(client: Any, register: Any, config: Any) -> None:
    svc = client.app[SERVICES]
    tokens = [(await register(name=f"Ranked {i}"))["token"] for i in range(3)]
    users = [int((await (await client.get("/api/user", headers=bearer(t))).json())["id"]) for t in tokens]
    a, b, c = users
    rankings = _in_zone(svc, KARACHI)
    day = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)  # 17:00 in Karachi, Monday 2026-11-30
    late = dt.datetime(2026, 11, 30, 18, 59, tzinfo=dt.UTC)  # 23:59 in Karachi: still that day
    next_day = dt.datetime(2026, 11, 30, 19, 0, tzinfo=dt.UTC)  # 00:00 on Dec 1 in Karachi
    gifts = [_gift(a, [c], 1, day, 50), _gift(b, [c], 1, late, 70), _gift(a, [b], 1, next_day, 500)]
    await _record(client, gifts)
    await rankings.ledger_flushed(gifts)
    key = rankings.board_key("wealth", "daily", None, now=day)
    assert await _board(client, key) == {a: 50, b: 70}
    async with db(config.database_url) as conn:
        await conn.execute("UPDATE ranking_state SET started_at = '2026-11-01T00:00:00Z'")
        await conn.execute("INSERT INTO ranking_rewards (board, period, rank_from, rank_to, coins) VALUES "
                           "('wealth', 'daily', 1, 1, 300), ('wealth', 'daily', 2, 5, 100)")  # fmt: skip
    now = dt.datetime(2026, 12, 1, 19, 1, tzinfo=dt.UTC)  # Dec 2, 00:01 in Karachi: Dec 1 not yet past its grace
    first, second = await asyncio.gather(rankings.close_due(now), rankings.close_due(now))
    assert "wealth:daily:2026-11-30" in first + second
    assert "wealth:daily:2026-12-01" not in first + second  # ended a minute ago: within the grace
    assert not set(first) & set(second)  # two runs at once: each period closed by one of them
    assert await rankings.close_due(now) == []  # and a third finds nothing to do
    async with db(config.database_url) as conn:
        history = await conn.fetch("SELECT rank_position, user_id, score FROM ranking_history WHERE board = 'wealth' "
                                   "AND period = 'daily' AND period_start = '2026-11-30' ORDER BY 1")  # fmt: skip
        paid = await conn.fetch("SELECT user_id, source_ref, state FROM rewards WHERE source = 'ranking' ORDER BY 2")
        weekly = await conn.fetchval("SELECT count(*) FROM ranking_periods WHERE period = 'weekly'")
    assert [tuple(r) for r in history] == [(1, b, 70), (2, a, 50)]
    assert [tuple(r) for r in paid] == [(b, "wealth:daily:2026-11-30:1", "granted"),
                                        (a, "wealth:daily:2026-11-30:2", "granted")]  # fmt: skip
    for token, coins in ((tokens[1], 300), (tokens[0], 100)):  # paid through the ledger, once
        wallet = (await (await client.get("/api/v1/wallet", headers=bearer(token))).json())["data"]
        assert wallet["coins"] == coins
    assert weekly == 4 * 4  # Nov 2 – Nov 23 weeks of every board (Nov 30's week is still open)
    assert 0 < await svc.redis.ttl(key) <= 3600  # the period's live keys go, now that history has it

    resp = await client.get("/api/v1/rankings/wealth/history?period=daily&start=2026-11-30",
                            headers=bearer((await register(name="Reader"))["token"]))  # fmt: skip
    items = (await resp.json())["data"]["items"]
    assert resp.status == 200 and [(i["rank"], i["id"], i["score"]) for i in items] == [(1, b, 70), (2, a, 50)]


def test_closed_spans_cover_a_downtime_and_start_after_the_rankings_began() -> None:
    since = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    now = dt.datetime(2026, 12, 2, 0, 10, tzinfo=dt.UTC)
    days = [s.start for s in closed_spans("daily", now, since, dt.timedelta(minutes=2), "UTC")]
    assert days == ["2026-12-01", "2026-11-30", "2026-11-29", "2026-11-28", "2026-11-27"]
    months = [s.start for s in closed_spans("monthly", now, dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                                            dt.timedelta(0), KARACHI)]  # fmt: skip
    # January began in Karachi at 19:00 UTC on Dec 31, before the rankings did: never snapshotted.
    assert months[0] == "2026-11-01" and months[-1] == "2026-02-01" and len(months) == 10
    assert GLOBAL == "all"


async def test_rebuild_recovers_a_lost_redis_board(client: Any, register: Any) -> None:
    svc, rankings = client.app[SERVICES], client.app[RANKINGS]
    now = dt.datetime.now(dt.UTC)
    await _record(client, [_gift(5, [6], 9, now, 40), _gift(5, [7], 9, now, 2)])
    key = rankings.board_key("charm", "monthly", None)
    await svc.redis.delete(key)
    user = await register(name="Operator")
    resp = await client.post("/api/v1/admin/rankings/rebuild", headers=bearer(user["token"]))
    assert resp.status == 403 and await _board(client, key) == {}
    async with db(svc.config.database_url) as conn:
        staff = int((await (await client.get("/api/user", headers=bearer(user["token"]))).json())["id"])
        await conn.execute("INSERT INTO user_roles (user_id, role_id) SELECT $1, id FROM roles WHERE name = "
                           "'super_admin'", staff)  # fmt: skip
    resp = await client.post("/api/v1/admin/rankings/rebuild", headers=bearer(user["token"]))
    assert resp.status == 200 and (await resp.json())["data"]["members"]["charm"] >= 2
    assert await _board(client, key) == {6: 40, 7: 2}
    async with db(svc.config.database_url) as conn:
        assert await conn.fetchval("SELECT actor_id FROM audit_log WHERE action = 'rankings.rebuild'") == staff
    written = await rankings.rebuild()  # twice: the same board, nothing added
    assert written["charm"] >= 2 and await _board(client, key) == {6: 40, 7: 2}
