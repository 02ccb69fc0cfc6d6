"""Gift statistics (issue 14 §5, story 6.4) from what really happens: gifts sent through real sockets
between three users, flushed into the ledger by the real flusher, then every figure of
`GET /api/v1/me/gifts/stats` checked against the gifts and the ledger's own legs; blocked users
shown hidden; and the period boundaries in a non-UTC business zone, with ledger rows backdated to
either side of local midnight (and of the month's and the week's first day)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
import zoneinfo
from typing import Any

from engine.appkeys import SERVICES
from engine.economy.flusher import flush_all
from tests.helpers import User, bearer, db, join, new_user
from tests.social_setup import block

ROSE, CAR = 901, 902


async def grant(client: Any, staff: User, user: User, coins: int, key: str) -> None:
    body = {"currency": "coins", "amount": coins, "direction": "grant", "reason": "test", "idempotency_key": key}
    resp = await client.post(f"/api/v1/admin/wallets/{user.id}/adjust", headers=bearer(staff.token), json=body)
    assert resp.status == 200, await resp.text()


async def stats(client: Any, user: User, query: str = "") -> dict[str, Any]:
    resp = await client.get(f"/api/v1/me/gifts/stats{query}", headers=bearer(user.token))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = (await resp.json())["data"]
    return body


async def flushed(client: Any, senders: list[int], expected: int) -> None:
    """Drain the outboxes, then wait for the transactions the app's own flusher may hold uncommitted."""
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    async with db(svc.config.database_url) as conn, asyncio.timeout(10):
        while await conn.fetchval("SELECT count(*) FROM ledger_transactions WHERE kind = 'gift' "  # noqa: ASYNC110
                                  "AND initiator_id = ANY($1::bigint[])", senders) < expected:  # fmt: skip
            await asyncio.sleep(0.02)


async def ledger_debits(client: Any, user_id: int) -> int:
    """The coins the ledger took from the user for gifts: the figure the stats' `sent` must equal."""
    async with db(client.app[SERVICES].config.database_url) as conn:
        return -int(await conn.fetchval(
            """SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t USING (txn_id)
               WHERE t.kind = 'gift' AND e.account_type = 'user' AND e.account_id = $1 AND e.amount < 0""",
            user_id,
        ))  # fmt: skip


def people(entries: list[dict[str, Any]]) -> list[tuple[int | None, int, int]]:
    return [(e["user"]["id"] if e["user"] else None, e["count"], e["coins"]) for e in entries]


def gifts(side: dict[str, Any]) -> list[tuple[int, str, str | None, int, int]]:
    return [(g["gift_id"], g["name"], g["icon"], g["count"], g["coins"]) for g in side["gifts"]]


async def test_every_figure_equals_what_real_gifts_through_sockets_made(client: Any, connect: Any) -> None:
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price, static_src) VALUES ($1, 'Rose', 5, 'rose.png'), "
                           "($2, 'Car', 20, 'car.png')", ROSE, CAR)  # fmt: skip
    ann = await new_user(client, "Ann", role="admin")  # staff: grants coins
    host, cat = await new_user(client, "Host"), await new_user(client, "Cat")
    await grant(client, ann, ann, 200, "gs-grant-ann")
    await grant(client, ann, cat, 50, "gs-grant-cat")
    h, c, a = await connect(client, host), await connect(client, cat), await connect(client, ann)
    for peer, seat in ((h, 0), (c, 1), (a, None)):
        await join(peer, host.room)
        if seat is not None:
            assert (await peer.call("seat:take", {"roomId": host.room, "seatIndex": seat}))["success"]
    sends = [
        (a, {"giftId": ROSE, "recipientId": host.id, "quantity": 3, "idempotencyKey": "gs-send-1"}),
        (a, {"giftId": ROSE, "recipientId": host.id, "quantity": 3, "idempotencyKey": "gs-send-1"}),  # a replay
        (a, {"giftId": CAR, "recipientIds": [host.id, cat.id], "idempotencyKey": "gs-send-2"}),
        (c, {"giftId": ROSE, "recipientId": host.id, "quantity": 2, "idempotencyKey": "gs-send-3"}),
    ]
    for peer, payload in sends:
        ack = await peer.call("gift:send", {"roomId": host.room, **payload})
        assert ack["success"] is True, ack
    await flushed(client, [ann.id, cat.id], 3)

    mine = await stats(client, ann)
    assert mine["period"] == "day" and mine["tz"] == "UTC" and mine["from"] == mine["to"]
    assert (mine["sent"]["count"], mine["sent"]["coins"]) == (5, 55) and await ledger_debits(client, ann.id) == 55
    assert gifts(mine["sent"]) == [(CAR, "Car", "car.png", 2, 40), (ROSE, "Rose", "rose.png", 3, 15)]
    assert people(mine["top_recipients"]) == [(host.id, 4, 35), (cat.id, 1, 20)]
    assert mine["top_recipients"][0]["user"] == {"id": host.id, "name": "Host", "avatar_image": None}
    assert mine["received"] == {"count": 0, "coins": 0, "gifts": []} and mine["top_gifters"] == []
    assert mine["trend"] == [{"date": mine["to"], "sent_coins": 55, "received_coins": 0}]

    theirs = await stats(client, host)
    assert (theirs["received"]["count"], theirs["received"]["coins"]) == (6, 45)
    assert gifts(theirs["received"]) == [(ROSE, "Rose", "rose.png", 5, 25), (CAR, "Car", "car.png", 1, 20)]
    assert people(theirs["top_gifters"]) == [(ann.id, 4, 35), (cat.id, 2, 10)]
    assert theirs["trend"] == [{"date": theirs["to"], "sent_coins": 0, "received_coins": 45}]

    cats = await stats(client, cat, "?period=all")
    assert (cats["sent"]["coins"], cats["received"]["coins"]) == (10, 20) == (await ledger_debits(client, cat.id), 20)
    assert people(cats["top_recipients"]) == [(host.id, 2, 10)] and people(cats["top_gifters"]) == [(ann.id, 1, 20)]
    assert len(cats["trend"]) == 30 and cats["trend"][-1] == {"date": cats["to"], "sent_coins": 10,
                                                              "received_coins": 20}  # fmt: skip
    assert cats["from"] is None and all(d["sent_coins"] == 0 for d in cats["trend"][:-1])
    for period in ("week", "month", "all"):  # everything happened today
        assert people((await stats(client, host, f"?period={period}"))["top_gifters"]) == people(theirs["top_gifters"])

    # Lists are capped; the totals are not.
    capped = await stats(client, host, "?limit=1")
    assert people(capped["top_gifters"]) == [(ann.id, 4, 35)] and len(capped["received"]["gifts"]) == 1
    assert capped["received"]["coins"] == 45

    # Through a block (either way) the coins still count, but who gave them is not shown.
    await block(client, cat, host)
    hidden = await stats(client, host)
    assert people(hidden["top_gifters"]) == [(ann.id, 4, 35), (None, 2, 10)] and hidden["top_gifters"][1]["hidden"]
    assert people((await stats(client, cat))["top_recipients"]) == [(None, 2, 10)]


async def test_bad_queries_are_named(client: Any) -> None:
    user = await new_user(client)
    for query, field in (("?period=year", "period"), ("?limit=51", "limit"), ("?limit=0", "limit"),
                         ("?tz=Mars/Olympus", "tz")):  # fmt: skip
        resp = await client.get(f"/api/v1/me/gifts/stats{query}", headers=bearer(user.token))
        assert resp.status == 422, query
        assert field in (await resp.json())["error"]["fields"]
    assert (await client.get("/api/v1/me/gifts/stats")).status == 401


async def backdated_gift(conn: Any, sender: int, recipient: int, at: dt.datetime, price: int) -> None:
    """A gift transaction as the flusher records it (engine/gifts/actions.py: _build_txn), sent at `at`."""
    metadata = {"room_id": 1, "recipients": [recipient], "quantity": 1, "price": price, "key": uuid.uuid4().hex}
    await conn.execute(
        """INSERT INTO ledger_transactions (txn_id, kind, initiator_id, ref_type, ref_id, metadata, created_at)
           VALUES ($1, 'gift', $2, 'gift', $3, $4::jsonb, $5)""",
        uuid.uuid4(), sender, str(ROSE), json.dumps(metadata), at,
    )  # fmt: skip


async def test_periods_are_cut_at_business_midnights_not_utc_ones(make_client: Any) -> None:
    zone = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+05:30: its midnight is in the middle of a UTC day
    client = await make_client(business_timezone="Asia/Kolkata")
    sender, recipient = await new_user(client, "Sender"), await new_user(client, "Recipient")
    today = dt.datetime.now(zone).date()
    midnight = dt.datetime(today.year, today.month, today.day, tzinfo=zone)
    month_first = dt.datetime(today.year, today.month, 1, tzinfo=zone)
    minute = dt.timedelta(minutes=1)
    at = {  # price: when (both sides of a local midnight are 10 minutes apart, in one UTC day)
        1: midnight + 5 * minute,
        2: midnight - 5 * minute,
        4: month_first + 5 * minute,
        8: month_first - 5 * minute,
        16: midnight - dt.timedelta(days=40),  # in `all`, not in its 30-day trend
    }
    async with db(client.app[SERVICES].config.database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES ($1, 'Rose', 1)", ROSE)
        for price, when in at.items():
            await backdated_gift(conn, sender.id, recipient.id, when, price)

    def coins_between(first: dt.date) -> int:
        start = dt.datetime(first.year, first.month, first.day, tzinfo=zone)
        return sum(price for price, when in at.items() if start <= when)

    monday = today - dt.timedelta(days=today.weekday())
    for period, first in (("day", today), ("week", monday), ("month", today.replace(day=1))):
        got = await stats(client, sender, f"?period={period}")
        assert got["from"] == first.isoformat() and got["sent"]["coins"] == coins_between(first), period
        assert sum(d["sent_coins"] for d in got["trend"]) == coins_between(first)
        assert got["trend"][0]["date"] == first.isoformat() and got["trend"][-1]["date"] == today.isoformat()
    everything = await stats(client, recipient, "?period=all")
    assert everything["received"]["coins"] == 31

    def per_day(tz: dt.tzinfo, days: int = 30) -> dict[str, int]:
        """Coins per local day of the last `days` (the `all` trend), from the rows' instants."""
        last = dt.datetime.now(tz).date()
        totals: dict[str, int] = {}
        for price, when in at.items():
            if (day := when.astimezone(tz).date()) > last - dt.timedelta(days=days):
                totals[day.isoformat()] = totals.get(day.isoformat(), 0) + price
        return totals

    def trend_of(body: dict[str, Any]) -> dict[str, int]:
        return {d["date"]: d["received_coins"] for d in body["trend"] if d["received_coins"]}

    kolkata = per_day(zone)
    assert trend_of(everything) == kolkata
    assert kolkata[today.isoformat()] % 2 == 1 and kolkata[(today - dt.timedelta(days=1)).isoformat()] % 4 >= 2
    # The same rows in UTC (`tz`): both sides of Kolkata's midnight fall on one UTC day.
    utc = await stats(client, recipient, "?period=all&tz=UTC")
    assert utc["tz"] == "UTC" and trend_of(utc) == per_day(dt.UTC) != kolkata
    assert per_day(dt.UTC)[(midnight - 5 * minute).astimezone(dt.UTC).date().isoformat()] % 4 == 3
