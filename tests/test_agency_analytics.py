"""Agency analytics and leaderboards (issue 13 §4): who may read each route, the 422s, the per-day
figures against memberships and income at chosen instants (a non-UTC business day boundary beside a
UTC one over the same data), a real gift showing in today's row, the CSV documents parsed back equal
to the JSON (names with commas, quotes and line breaks quoted), Member Active Days pages, member
comparison with the valid-time cap, and both leaderboards' order, ties and pages."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

from engine.agency import analytics, leaderboard
from engine.agency.analytics_model import DAY_COLUMNS, MEMBER_COLUMNS
from engine.appkeys import CONFIG
from tests.agency_setup import add_member, agency_share_probe, apply, cast, new_agency
from tests.helpers import User, bearer, db, new_user

RANGE = "from=2026-11-09&to=2026-11-12"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def member_span(conn: Any, agency_id: int, user: User, joined: str, left: str | None = None) -> None:
    """A membership with chosen instants (the routes would stamp now())."""
    await conn.execute(
        """INSERT INTO agency_members (agency_id, user_id, role, joined_at, left_at, left_reason)
           VALUES ($1, $2, 'member', $3, $4, $5)""",
        agency_id, user.id, at(joined), at(left) if left else None, "left" if left else None,
    )  # fmt: skip


async def earn(conn: Any, agency_id: int, user: User, when: str, *, coins: int = 0, mic_ms: int = 0) -> None:
    """An income row at a chosen instant. These rows are what the sql/0020 triggers write from a
    gift's ledger transaction or a room visit (test_real_gift_shows_in_todays_row goes through a
    real gift); writing them directly is how a test puts income on a day in the past."""
    await conn.execute(
        """INSERT INTO agency_income_events (agency_id, user_id, kind, coins, mic_ms, source, happened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        agency_id, user.id, "gift" if coins else "mic", coins, mic_ms, uuid.uuid4().hex, at(when),
    )  # fmt: skip


async def get(client: Any, user: User, path: str) -> Any:
    return await client.get(path, headers=bearer(user.token))


async def data(client: Any, user: User, path: str) -> Any:
    resp = await get(client, user, path)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["data"]


class History:
    """Three members of the cast's agency over 9–12 November 2026 (business days in Asia/Kolkata,
    UTC+5:30); every instant named in UTC, with the Kolkata day it falls on."""

    def __init__(self, u1: User, u2: User, u3: User) -> None:
        self.u1, self.u2, self.u3 = u1, u2, u3


async def history(client: Any, agency_id: int) -> History:
    h = History(*[await new_user(client, name) for name in ("Uma", "Ved", "Wes")])
    async with db(client.app[CONFIG].database_url) as conn:
        await member_span(conn, agency_id, h.u1, "2026-11-08T10:00Z")  # 8 Nov, still a member
        await member_span(conn, agency_id, h.u2, "2026-11-10T18:40Z", "2026-11-12T05:00Z")  # 11 Nov 00:10 .. 12 Nov
        await member_span(conn, agency_id, h.u3, "2026-11-09T03:00Z", "2026-11-09T18:45Z")  # 9 Nov .. 10 Nov 00:15
        await earn(conn, agency_id, h.u1, "2026-11-09T10:00Z", coins=100)  # 9 Nov
        await earn(conn, agency_id, h.u3, "2026-11-09T12:00Z", mic_ms=1_800_000)  # 9 Nov
        await earn(conn, agency_id, h.u1, "2026-11-10T19:00Z", coins=50)  # 11 Nov 00:30 (10 Nov in UTC)
        await earn(conn, agency_id, h.u2, "2026-11-11T06:00Z", coins=300)  # 11 Nov
        await earn(conn, agency_id, h.u2, "2026-11-11T08:00Z", mic_ms=3_600_000)  # 11 Nov
        await earn(conn, agency_id, h.u1, "2026-11-12T04:00Z", mic_ms=25_200_000)  # 12 Nov: 7 h, 5 h valid
        await earn(conn, agency_id, h.u1, "2026-11-12T19:00Z", coins=1000)  # 13 Nov 00:30 (12 Nov in UTC)
    return h


def columns(days: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(d[n] for n in names) for d in days]


async def test_every_route_answers_by_role(client: Any) -> None:
    c = await cast(client)
    base = f"/api/v1/agencies/{c.agency_id}"
    compare = f"{base}/analytics/compare?user_ids={c.member.id},{c.admin.id}"
    analytics_routes = [f"{base}/analytics", f"{base}/analytics.csv", f"{base}/analytics/active-days",
                        f"{base}/analytics/members.csv", compare]  # fmt: skip
    readers = {"owner", "admin", "staff"}
    for name, user in c.everyone().items():
        for path in analytics_routes:
            assert (await get(client, user, path)).status == (200 if name in readers else 403), (name, path)
        board = await get(client, user, f"{base}/leaderboard")
        assert board.status == (403 if name == "outsider" else 200), name
        everyone = await get(client, user, "/api/v1/agencies/leaderboard")  # not read as /agencies/{id}
        assert everyone.status == 200 and "month" in (await everyone.json())["data"], name
    assert (await client.get(f"{base}/analytics")).status == 401
    # An unknown agency, and a pending one to anyone but its owner and staff: 404.
    pending = (await apply(client, c.outsider))["id"]
    for agency_id, user, status in ((10**9, c.staff, 404), (pending, c.member, 404), (pending, c.outsider, 200),
                                    (pending, c.staff, 200)):  # fmt: skip
        for rest in ("analytics", "analytics.csv", "analytics/active-days", "analytics/members.csv", "leaderboard"):
            resp = await get(client, user, f"/api/v1/agencies/{agency_id}/{rest}")
            assert resp.status == status, (agency_id, rest, await resp.text())


async def test_bad_input_is_422_with_fields(client: Any) -> None:
    c = await cast(client)
    base = f"/api/v1/agencies/{c.agency_id}"
    ids = f"{c.member.id},{c.admin.id}"
    cases = [
        ("analytics?from=2026-11-10&to=2026-11-09", "from"),
        ("analytics?from=2025-01-01&to=2026-01-02", "to"),  # 367 days
        ("analytics?from=2026-13-01", "from"),
        ("analytics.csv?to=yesterday", "to"),
        ("analytics/members.csv?from=2026-11-10&to=2026-11-09", "from"),
        ("analytics/active-days?cursor=bogus", "cursor"),
        (f"analytics/compare?user_ids={c.member.id}", "user_ids"),
        (f"analytics/compare?user_ids={c.member.id},{c.member.id}", "user_ids"),  # one distinct member
        ("analytics/compare?user_ids=" + ",".join(str(n) for n in range(1, 12)), "user_ids"),
        ("analytics/compare?user_ids=1,x", "user_ids"),
        ("analytics/compare", "user_ids"),
        (f"analytics/compare?user_ids={ids}&from=2026-12-01&to=2026-11-01", "from"),
        ("leaderboard?month=2026-13", "month"),
        ("leaderboard?cursor=bogus", "cursor"),
    ]
    for rest, field in cases:
        resp = await get(client, c.owner, f"{base}/{rest}")
        assert resp.status == 422, (rest, await resp.text())
        assert field in (await resp.json())["error"]["fields"], rest
    for rest, field in (("?month=26-11", "month"), ("?limit=0", "limit")):
        resp = await get(client, c.outsider, f"/api/v1/agencies/leaderboard{rest}")
        assert resp.status == 422 and field in (await resp.json())["error"]["fields"], rest
    # 366 days is the most; an id of someone who was no member in the range is 404 (a foreign id).
    assert (await get(client, c.owner, f"{base}/analytics?from=2025-01-01&to=2026-01-01")).status == 200
    foreign = await get(client, c.owner, f"{base}/analytics/compare?user_ids={c.member.id},{c.outsider.id}")
    assert foreign.status == 404


async def test_daily_figures_follow_business_days(make_client: Any) -> None:
    kolkata = await make_client(business_timezone="Asia/Kolkata")
    utc = await make_client()  # the same database, read in UTC days
    c = await cast(kolkata)
    h = await history(kolkata, c.agency_id)
    path = f"/api/v1/agencies/{c.agency_id}/analytics?{RANGE}"
    got = await data(kolkata, c.owner, path)
    assert (got["from"], got["to"], got["timezone"]) == ("2026-11-09", "2026-11-12", "Asia/Kolkata")
    names = ("date", "members", "new_members", "left_members", "coins", "mic_seconds", "active_members")
    assert columns(got["days"], *names) == [
        ("2026-11-09", 2, 1, 0, 100, 1800, 2),  # u1, and u3 who joined (and leaves at 00:15 the next day)
        ("2026-11-10", 1, 0, 1, 0, 0, 0),
        ("2026-11-11", 2, 1, 0, 350, 3600, 2),  # u2 joined at 00:10; u1's 50 coins came at 00:30
        ("2026-11-12", 1, 0, 1, 0, 25200, 1),  # u1's 1000 coins at 00:30 on the 13th are outside
    ]
    assert got["totals"] == {"members_at_start": 1, "members_at_end": 1, "new_members": 2, "left_members": 2,
                             "coins": 450, "mic_seconds": 30600, "active_members": 3}  # fmt: skip
    assert [(m["user_id"], m["name"], m["coins"]) for m in got["top_members"]] == [(h.u2.id, "Ved", 300),
                                                                                  (h.u1.id, "Uma", 150)]  # fmt: skip
    # The same rows in UTC days: u3 joined and left on the 9th, u2 joined on the 10th, and the coins move.
    got = await data(utc, c.owner, path)
    assert columns(got["days"], "date", "members", "new_members", "left_members", "coins") == [
        ("2026-11-09", 1, 1, 1, 100), ("2026-11-10", 2, 1, 0, 50), ("2026-11-11", 2, 0, 0, 300),
        ("2026-11-12", 1, 0, 1, 1000),
    ]  # fmt: skip
    # Each day's count is the previous one plus its joins less its leaves, over any range.
    wide = await data(kolkata, c.owner, f"/api/v1/agencies/{c.agency_id}/analytics?from=2026-11-01&to=2026-12-31")
    count = wide["totals"]["members_at_start"]
    for day in wide["days"]:
        count += day["new_members"] - day["left_members"]
        assert day["members"] == count, day
    assert len(wide["days"]) == 61 and count == 1 + 4  # u1 and the cast (joined today), as the members list


async def test_real_gift_shows_in_todays_row(client: Any, connect: Any) -> None:
    c = await cast(client)
    sender = await new_user(client, "Sender", role="admin")
    gift = await agency_share_probe(client, client, connect, sender, c.member, "analytics-gift")
    assert await gift() == [c.agency_id]
    got = await data(client, c.owner, f"/api/v1/agencies/{c.agency_id}/analytics")  # the last 30 days
    today = dt.datetime.now(dt.UTC).date()
    assert len(got["days"]) == 30 and got["to"] == today.isoformat()
    assert got["days"][-1] == {"date": today.isoformat(), "members": 4, "new_members": 4, "left_members": 0,
                               "coins": 10, "mic_seconds": 0, "active_members": 1}  # fmt: skip
    assert [(m["user_id"], m["coins"]) for m in got["top_members"]] == [(c.member.id, 10)]
    board = await data(client, c.outsider, "/api/v1/agencies/leaderboard")
    assert board["month"] == today.strftime("%Y-%m")
    assert [(i["rank"], i["agency_id"], i["coins"]) for i in board["items"]] == [(1, c.agency_id, 10)]


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv_equals_json_and_quotes_names(make_client: Any, monkeypatch: Any) -> None:
    client = await make_client(business_timezone="Asia/Kolkata")
    c = await cast(client)
    h = await history(client, c.agency_id)
    awkward = 'Doe, "The Rock"\nJr.'
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE users SET name = $2 WHERE id = $1", h.u2.id, awkward)
    base = f"/api/v1/agencies/{c.agency_id}"
    resp = await get(client, c.admin, f"{base}/analytics.csv?{RANGE}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="agency-{c.agency_id}-analytics-2026-11-09-2026-11-12.csv"'
    )
    rows = parse_csv(await resp.text())
    days = (await data(client, c.admin, f"{base}/analytics?{RANGE}"))["days"]
    assert rows[0] == list(DAY_COLUMNS)
    assert rows[1:] == [[str(d[k]) for k in DAY_COLUMNS] for d in days]

    # Member rows, read in batches of two while written (the batch is a tuning constant).
    monkeypatch.setattr(analytics, "CSV_BATCH", 2)
    resp = await get(client, c.staff, f"{base}/analytics/members.csv?{RANGE}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = await resp.text()
    assert '"Doe, ""The Rock""\nJr."' in text  # quoted, inner quotes doubled, the line break kept
    rows = parse_csv(text)
    assert rows[0] == list(MEMBER_COLUMNS)
    items = (await data(client, c.staff, f"{base}/analytics/active-days?{RANGE}"))["items"]
    assert rows[1:] == [["" if i[k] is None else str(i[k]) for k in MEMBER_COLUMNS] for i in items]
    assert [r[1] for r in rows[1:]] == ["Uma", awkward, "Wes"]


async def test_active_days_and_comparison(make_client: Any) -> None:
    client = await make_client(business_timezone="Asia/Kolkata")
    c = await cast(client)
    h = await history(client, c.agency_id)
    base = f"/api/v1/agencies/{c.agency_id}/analytics"
    first = await data(client, c.owner, f"{base}/active-days?{RANGE}&limit=2")
    rest = await data(client, c.owner, f"{base}/active-days?{RANGE}&limit=2&cursor={first['next_cursor']}")
    assert rest["next_cursor"] is None
    rows = [(i["user_id"], i["role"], i["active_days"], i["coins"], i["mic_seconds"], i["valid_seconds"])
            for i in first["items"] + rest["items"]]  # fmt: skip
    # Everyone who was a member in the range (not the cast, who joined today): most active first, then by id.
    assert rows == [(h.u1.id, "member", 3, 150, 25200, 18000), (h.u2.id, None, 1, 300, 3600, 3600),
                    (h.u3.id, None, 1, 0, 1800, 1800)]  # fmt: skip

    got = await data(client, c.admin, f"{base}/compare?user_ids={h.u2.id},{h.u1.id}&{RANGE}")
    assert got["dates"] == ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"]
    assert [(m["user_id"], m["name"], m["coins"], m["mic_seconds"], m["valid_seconds"], m["active_days"],
             m["daily_coins"]) for m in got["members"]] == [
        (h.u2.id, "Ved", 300, 3600, 3600, 1, [0, 0, 300, 0]),
        (h.u1.id, "Uma", 150, 25200, 18000, 3, [100, 0, 50, 0]),
    ]  # fmt: skip
    # The cap per day is the admin setting.
    resp = await client.patch("/api/v1/admin/economy/settings", headers=bearer(c.staff.token),
                              json={"values": {"agency_valid_seconds_per_day": 3600}})  # fmt: skip
    assert resp.status == 200, await resp.text()
    got = await data(client, c.admin, f"{base}/compare?user_ids={h.u1.id},{h.u3.id}&{RANGE}")
    assert [(m["valid_seconds"], m["active_days"]) for m in got["members"]] == [(3600, 3), (1800, 1)]
    # u2 left on the 12th: a member of that period, not of a later one.
    later = await get(client, c.admin, f"{base}/compare?user_ids={h.u1.id},{h.u2.id}&from=2026-11-20&to=2026-11-21")
    assert later.status == 404


async def test_leaderboards_rank_by_coins_ties_by_id(make_client: Any) -> None:
    kolkata = await make_client(business_timezone="Asia/Kolkata")
    utc = await make_client()
    c = await cast(kolkata)
    owners = [await new_user(kolkata, f"Owner {n}") for n in range(4)]
    first, second, third = [await new_agency(kolkata, o, c.staff) for o in owners[:3]]
    pending = (await apply(kolkata, owners[3]))["id"]
    closed_owner = await new_user(kolkata, "Closer")
    closed = await new_agency(kolkata, closed_owner, c.staff)
    assert (await kolkata.post(f"/api/v1/agencies/{closed}/close", json={},
                               headers=bearer(closed_owner.token))).status == 200  # fmt: skip
    hosts = [await new_user(kolkata, f"Host {n}") for n in range(3)]
    for host, agency_id in zip(hosts, (first, second, third), strict=True):
        await add_member(kolkata, agency_id, host)
    async with db(kolkata.app[CONFIG].database_url) as conn:
        await earn(conn, first, hosts[0], "2026-11-05T10:00Z", coins=500)
        await earn(conn, second, hosts[1], "2026-11-06T10:00Z", coins=500)
        await earn(conn, second, hosts[1], "2026-11-30T19:00Z", coins=1000)  # 1 Dec 00:30 in Kolkata
        await earn(conn, third, hosts[2], "2026-11-07T10:00Z", coins=800)
        await earn(conn, third, hosts[2], "2026-11-08T10:00Z", mic_ms=3_600_000)  # mic time is no coins
        await earn(conn, pending, owners[3], "2026-11-07T10:00Z", coins=10_000)  # not approved: not ranked
        await earn(conn, closed, closed_owner, "2026-11-07T10:00Z", coins=9_000)  # closed: not ranked
        # Within the cast's agency: the moderator first, then the admin and the member, tied, by id.
        for user, coins in ((c.member, 200), (c.admin, 200), (c.moderator, 500)):
            await earn(conn, c.agency_id, user, "2026-11-10T10:00Z", coins=coins)

    def ranks(page: dict[str, Any], key: str) -> list[tuple[int, int, int]]:
        return [(i["rank"], i[key], i["coins"]) for i in page["items"]]

    url = "/api/v1/agencies/leaderboard?month=2026-11&limit=2"
    page = await data(kolkata, c.outsider, url)
    assert page["month"] == "2026-11" and ranks(page, "agency_id") == [(1, c.agency_id, 900), (2, third, 800)]
    more = await data(kolkata, c.outsider, f"{url}&cursor={page['next_cursor']}")
    assert ranks(more, "agency_id") == [(3, first, 500), (4, second, 500)] and more["next_cursor"] is None
    # In UTC days the 1,000 coins fall in November.
    assert ranks(await data(utc, c.outsider, "/api/v1/agencies/leaderboard?month=2026-11"), "agency_id") == [
        (1, second, 1500), (2, c.agency_id, 900), (3, third, 800), (4, first, 500)]  # fmt: skip
    assert (await data(kolkata, c.outsider, "/api/v1/agencies/leaderboard?month=2026-10"))["items"] == []

    members = await data(kolkata, c.member, f"/api/v1/agencies/{c.agency_id}/leaderboard?month=2026-11&limit=2")
    low, high = sorted((c.admin.id, c.member.id))
    assert ranks(members, "user_id") == [(1, c.moderator.id, 500), (2, low, 200)]
    assert members["items"][0]["name"] == "Moderator"
    more = await data(kolkata, c.staff, f"/api/v1/agencies/{c.agency_id}/leaderboard?month=2026-11&limit=2"
                                        f"&cursor={members['next_cursor']}")  # fmt: skip
    assert ranks(more, "user_id") == [(3, high, 200)]

    # The data functions the rankings issue reuses, on an open connection.
    async with db(kolkata.app[CONFIG].database_url) as conn:
        direct = await leaderboard.agency_ranking(conn, dt.date(2026, 11, 1), 10, tz="Asia/Kolkata")
        assert ranks(direct, "agency_id")[1:] == [(2, third, 800), (3, first, 500), (4, second, 500)]
        direct = await leaderboard.member_ranking(conn, c.agency_id, dt.date(2026, 11, 1), 10, tz="UTC")
        assert ranks(direct, "user_id") == [(1, c.moderator.id, 500), (2, low, 200), (3, high, 200)]
