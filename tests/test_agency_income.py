"""A member's agency income (docs/agency.md "Member income, targets and salary exchange"): My Income
with its daily table and valid-hours cap in a non-UTC business time zone, the salary exchange
(insufficient surplus, replay, a crash between its two steps), the admin's targets and agency
shares, and the monthly income in the members list."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from typing import Any

from engine.agency import income
from engine.agency.income_model import month_bounds, month_of, month_text, next_month
from engine.agency.member_income_model import ExchangeBody, exchange_txn_id
from engine.appkeys import AGENCIES, CONFIG, SERVICES
from engine.cli import reconcile_all
from engine.economy import model as money
from engine.economy import store as economy_store
from engine.economy.flusher import flush_all
from tests.agency_setup import agency_share_probe, cast
from tests.helpers import bearer, db, new_user

DUBAI = "Asia/Dubai"  # UTC+4 all year: a business day starts at 20:00 UTC the evening before


def last_month(tz: str = "UTC") -> dt.date:
    current = month_of(dt.datetime.now(dt.UTC), tz)
    return dt.date(current.year - (current.month == 1), (current.month - 2) % 12 + 1, 1)


async def give_salary(client: Any, user_id: int, agency_id: int, cents: int, month: dt.date | None = None) -> None:
    """A member's USD surplus, as a settlement pays it (an `agency_settlement` txn; last month's unless
    `month` says)."""
    legs = [money.Leg("mint", 0, "usd_cents", -cents), money.Leg("user", user_id, "usd_cents", cents)]
    txn = money.make_txn("agency_settlement", legs, ref_type="agency_month", ref_id=month_text(month or last_month()),
                         metadata={"agency_id": agency_id, "user_id": user_id, "reward_usd_cents": cents})  # fmt: skip
    async with db(client.app[CONFIG].database_url) as conn, conn.transaction():
        assert await economy_store.apply_held_txn(conn, txn) == "ok"


async def mic(client: Any, user_id: int, at: dt.datetime, mic_ms: int, source: str) -> None:
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute(
            """INSERT INTO user_activity (user_id, kind, room_id, duration_ms, mic_ms, source, happened_at)
               VALUES ($1, 'room_visit', 1, $2, $2, $3, $4)""",
            user_id, mic_ms, source, at,
        )  # fmt: skip


async def backdate_memberships(client: Any, agency_id: int, days: int = 70) -> None:
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE agency_members SET joined_at = now() - make_interval(days => $2) "
                           "WHERE agency_id = $1", agency_id, days)  # fmt: skip


async def get(client: Any, url: str, user: Any) -> tuple[int, Any]:
    resp = await client.get(url, headers=bearer(user.token))
    body = await resp.json()
    return resp.status, body.get("data", body)


async def send(client: Any, method: str, url: str, user: Any, body: Any) -> tuple[int, Any]:
    resp = await client.request(method, url, json=body, headers=bearer(user.token))
    payload = await resp.json()
    return resp.status, payload.get("data", payload)


def this_month(tz: str) -> dt.date:
    return month_of(dt.datetime.now(dt.UTC), tz)


async def test_my_income_days_valid_hours_and_month_bounds_in_the_business_zone(make_client: Any, connect: Any) -> None:
    client = await make_client(business_timezone=DUBAI)
    c = await cast(client)
    await backdate_memberships(client, c.agency_id)
    current = this_month(DUBAI)
    start, _ = month_bounds(current, DUBAI)
    previous = last_month(DUBAI)
    assert next_month(previous) == current
    # 19:00 UTC the evening before: the previous month both in UTC and Dubai. 21:00 UTC: the 1st in
    # Dubai (previous month in UTC). A day later, a second day; the 7 h day is capped at 5 h.
    await mic(client, c.member.id, start - dt.timedelta(hours=1), 3_600_000, "v-before")
    await mic(client, c.member.id, start + dt.timedelta(hours=1), 7 * 3_600_000, "v-day1")
    await mic(client, c.member.id, start + dt.timedelta(days=1, hours=1), 2 * 3_600_000 + 500, "v-day2")
    sender = await new_user(client, "Sender", role="admin")
    probe = await agency_share_probe(client, client, connect, sender, c.member, "income-daily")
    assert await probe() == [c.agency_id]  # 10 coins today

    url = "/api/v1/me/income"
    status, mine = await get(client, url, c.member)
    assert status == 200, mine
    assert mine["month"] == month_text(current) and mine["agency"]["id"] == c.agency_id
    today = dt.datetime.now(dt.UTC).astimezone(zoneinfo.ZoneInfo(DUBAI)).date()
    first, second = current.isoformat(), (current + dt.timedelta(days=1)).isoformat()
    days = {d["date"]: d for d in mine["days"]}
    assert days[first]["mic_seconds"] == 7 * 3600 and days[first]["valid_seconds"] == 5 * 3600
    assert days[first]["valid_hours"] == 5.0 and days[first]["duration_hours"] == 7.0
    assert days[second]["mic_seconds"] == 2 * 3600 and days[second]["valid_seconds"] == 2 * 3600
    assert days[today.isoformat()]["coins"] == 10
    assert mine["coins"] == 10 and mine["valid_seconds"] == 7 * 3600 and mine["mic_seconds"] == 9 * 3600
    assert mine["monthly_total_salary_usd_cents"] == 0 and mine["next_target"]["coins"] == 10000
    assert [t["coins"] for t in mine["targets"]] == [10000, 20000, 30000]
    assert mine["targets"][0] == {"id": mine["targets"][0]["id"], "coins": 10000, "reward_usd_cents": 1000,
                                  "valid_hours": 0, "reached": False, "progress_coins": 10,
                                  "remaining_coins": 9990}  # fmt: skip

    status, before = await get(client, f"{url}?month={month_text(previous)}", c.member)
    assert status == 200 and [d["date"] for d in before["days"]] == [(start - dt.timedelta(hours=1)).astimezone(
        zoneinfo.ZoneInfo(DUBAI)).date().isoformat()]  # fmt: skip
    assert before["coins"] == 0 and before["valid_seconds"] == 3600

    for bad in ("2026-13", "26-01", "abc", month_text(next_month(current))):
        status, body = await get(client, f"{url}?month={bad}", c.member)
        assert status == 422 and "month" in body["error"]["fields"], (bad, body)


async def test_income_permissions_and_the_members_list(client: Any, connect: Any) -> None:
    c = await cast(client)
    for name, user in c.everyone().items():
        status, body = await get(client, "/api/v1/me/income", user)
        expected = 403 if name in ("outsider", "staff") else 200
        assert status == expected, (name, body)
        if status == 403:
            assert body["error"]["code"] == "not_in_agency"
    sender = await new_user(client, "Sender", role="admin")
    probe = await agency_share_probe(client, client, connect, sender, c.member, "income-list")
    await probe()
    await probe()
    status, page = await get(client, f"/api/v1/agencies/{c.agency_id}/members", c.owner)
    assert status == 200
    income_of = {m["user_id"]: m["monthly_income"] for m in page["items"]}
    assert income_of == {c.member.id: 20, c.moderator.id: 0, c.admin.id: 0, c.owner.id: 0}
    status, changed = await send(client, "PATCH", f"/api/v1/agencies/{c.agency_id}/members/{c.member.id}", c.owner,
                                 {"role": "moderator"})  # fmt: skip
    assert status == 200 and changed["monthly_income"] == 20

    # A former member still reads the months they were in; a user in no agency ever is refused.
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE agency_members SET left_at = now(), left_reason = 'left' WHERE user_id = $1",
                           c.member.id)  # fmt: skip
    status, former = await get(client, "/api/v1/me/income", c.member)
    assert status == 200 and former["coins"] == 20 and former["agency"]["id"] == c.agency_id


async def test_salary_exchange_surplus_replay_and_refusals(client: Any) -> None:
    c = await cast(client)
    await give_salary(client, c.member.id, c.agency_id, 500)
    url = "/api/v1/me/income/exchange"
    status, done = await send(client, "POST", url, c.member, {"usd_cents": 300, "idempotency_key": "exchange-0001"})
    assert status == 200, done
    assert (done["usd_cents"], done["coins"], done["status"], done["replay"]) == (300, 300, "credited", False)
    assert done["surplus_salary_usd_cents"] == 200 and done["balances"]["coins"] == 300
    status, again = await send(client, "POST", url, c.member, {"usd_cents": 300, "idempotency_key": "exchange-0001"})
    assert status == 200 and again["replay"] is True and again["exchange_id"] == done["exchange_id"]
    assert again["balances"]["coins"] == 300 and again["surplus_salary_usd_cents"] == 200
    status, short = await send(client, "POST", url, c.member, {"usd_cents": 201, "idempotency_key": "exchange-0002"})
    assert status == 409 and short["error"]["message"] == "Insufficient surplus salary available.", short

    status, mine = await get(client, "/api/v1/me/income", c.member)
    assert mine["surplus_salary_usd_cents"] == 200 and mine["exchanged_usd_cents"] == 300
    assert mine["settled"] is False  # the salary was for another month
    # The app's settlement job closes last month's run at its start (nobody had income then): that
    # month is settled, and its salary was paid.
    async with db(client.app[CONFIG].database_url) as conn:
        last = last_month()
        for _ in range(500):
            if await conn.fetchval("SELECT state = 'closed' FROM agency_settlement_runs WHERE month = $1", last):
                break
            await asyncio.sleep(0.01)
    status, nov = await get(client, f"/api/v1/me/income?month={month_text(last_month())}", c.member)
    assert status == 200 and nov["paid_usd_cents"] == 500 and nov["settled"] is True
    # A leaver's settlement pays the month so far; the month is not settled until its run closes
    # (or reaches the member: their month_end row).
    this_month = month_of(dt.datetime.now(dt.UTC), "UTC")
    await give_salary(client, c.member.id, c.agency_id, 100, this_month)
    status, mine = await get(client, "/api/v1/me/income", c.member)
    assert status == 200 and mine["paid_usd_cents"] == 100 and mine["settled"] is False

    for name, user in c.everyone().items():  # members without a surplus: 409; others: not theirs
        if name == "member":
            continue
        status, body = await send(client, "POST", url, user, {"usd_cents": 100, "idempotency_key": f"try-{name}-1"})
        assert status == (403 if name in ("outsider", "staff") else 409), (name, body)
    for bad in ({"usd_cents": 0, "idempotency_key": "exchange-0003"}, {"usd_cents": 10},
                {"usd_cents": 10, "idempotency_key": "short"},
                {"usd_cents": "10", "idempotency_key": "exchange-04"}):  # fmt: skip
        status, body = await send(client, "POST", url, c.member, bad)
        assert status == 422, (bad, body)
    staff = c.staff
    assert (await send(client, "PATCH", "/api/v1/admin/economy/settings", staff,
                       {"values": {"salary_coins_per_usd": 50}}))[0] == 200  # fmt: skip
    status, body = await send(client, "POST", url, c.member, {"usd_cents": 1, "idempotency_key": "exchange-0005"})
    assert status == 422 and "usd_cents" in body["error"]["fields"]
    status, half = await send(client, "POST", url, c.member, {"usd_cents": 100, "idempotency_key": "exchange-0006"})
    assert status == 200 and half["coins"] == 50

    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    report = await reconcile_all(svc)
    assert report.ok, report.render()
    # 500 + 100 cents minted by the two settlements, 400 exchanged (burned): 200 left with the member.
    assert report.totals["usd_cents"]["user"] == 200 and report.totals["usd_cents"]["burn"] == 400
    assert report.totals["usd_cents"].get("escrow", 0) == 0
    async with db(client.app[CONFIG].database_url) as conn:
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'agency.salary_exchange'")
    assert audited == 2


async def test_an_exchange_interrupted_between_its_steps_is_finished_once(client: Any) -> None:
    c = await cast(client)
    ag, svc = client.app[AGENCIES], client.app[SERVICES]
    await give_salary(client, c.member.id, c.agency_id, 1000)
    # The request died after the hold committed: USD in escrow, no coins.
    row, replay = await income.hold_exchange(ag, c.member.id, ExchangeBody(400, "crash-key-1"), None)
    assert replay is False and row["status"] == "held"
    async with db(client.app[CONFIG].database_url) as conn:
        assert await economy_store.held_balance(conn, "escrow", row["id"], "usd_cents") == 400
    assert (await (await client.get("/api/v1/wallet", headers=bearer(c.member.token))).json())["data"]["coins"] == 0
    assert await income.sweep_exchanges(ag) == 0  # too young: its own request may still finish it
    assert await income.sweep_exchanges(ag, grace_seconds=0) == 1
    assert await income.sweep_exchanges(ag, grace_seconds=0) == 0

    # Died after the credit reached the wallet but before the row said so: the sweep finds the
    # credit (in the ledger once the outbox is drained) and only marks the row.
    second, _ = await income.hold_exchange(ag, c.member.id, ExchangeBody(100, "crash-key-2"), None)
    await income.credit_exchange(ag, second)
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE salary_exchanges SET status = 'held', credited_at = NULL WHERE id = $1",
                           second["id"])  # fmt: skip
    assert await income.sweep_exchanges(ag, grace_seconds=0) == 1

    status, replayed = await send(client, "POST", "/api/v1/me/income/exchange", c.member,
                                  {"usd_cents": 400, "idempotency_key": "crash-key-1"})  # fmt: skip
    assert status == 200 and replayed["replay"] is True and replayed["status"] == "credited"
    assert replayed["balances"]["coins"] == 500 and replayed["surplus_salary_usd_cents"] == 500
    await flush_all(svc, svc.wallets, "test")
    async with db(client.app[CONFIG].database_url) as conn:
        credits = await conn.fetchval(
            "SELECT count(*) FROM ledger_transactions WHERE txn_id = ANY($1::uuid[])",
            [exchange_txn_id(row["id"], "credit"), exchange_txn_id(second["id"], "credit")],
        )
    assert credits == 2
    report = await reconcile_all(svc)
    assert report.ok, report.render()
    assert report.totals["coins"]["user"] == 500 and report.totals["usd_cents"].get("escrow", 0) == 0


async def test_targets_and_shares_are_staff_settings(client: Any) -> None:
    c = await cast(client)
    url = "/api/v1/admin/agency-targets"
    new = {"targets": [{"coins": 100, "reward_usd_cents": 150}, {"coins": 10000, "reward_usd_cents": 1200,
                                                                  "valid_hours": 20}]}  # fmt: skip
    share_url = f"/api/v1/admin/agencies/{c.agency_id}/share"
    for name, user in c.everyone().items():
        expected = 200 if name == "staff" else 403
        assert (await get(client, url, user))[0] == expected, name
        assert (await send(client, "PUT", url, user, new))[0] == expected, name
        assert (await send(client, "PUT", share_url, user, {"share_bps": 300}))[0] == expected, name
    status, now = await get(client, url, c.staff)
    assert [(t["coins"], t["reward_usd_cents"], t["valid_hours"]) for t in now["items"]] == [(100, 150, 0),
                                                                                         (10000, 1200, 20)]  # fmt: skip
    assert now["cumulative"] is False
    for bad in ({"targets": []}, {"targets": [{"coins": 5, "reward_usd_cents": 1}] * 2},
                {"targets": [{"coins": 50, "reward_usd_cents": 1}, {"coins": 40, "reward_usd_cents": 1}]},
                {"targets": [{"coins": i + 1, "reward_usd_cents": 1} for i in range(11)]},
                {"targets": [{"coins": 0, "reward_usd_cents": 1}]}, {}):  # fmt: skip
        status, body = await send(client, "PUT", url, c.staff, bad)
        assert status == 422, (bad, body)

    status, share = await send(client, "PUT", share_url, c.staff, {"share_bps": 300})
    assert status == 200 and share == {"agency_id": c.agency_id, "share_bps": 300, "custom": True,
                                       "default_bps": 200, "max_bps": 1000}  # fmt: skip
    status, body = await send(client, "PUT", share_url, c.staff, {"share_bps": 1001})
    assert status == 422 and "share_bps" in body["error"]["fields"]
    assert (await send(client, "PUT", share_url, c.staff, {"share_bps": "3%"}))[0] == 422
    assert (await send(client, "PUT", share_url, c.staff, {"share_bps": -1}))[0] == 422
    assert (await send(client, "PUT", "/api/v1/admin/agencies/999999/share", c.staff, {"share_bps": 1}))[0] == 404
    status, reset = await send(client, "PUT", share_url, c.staff, {"share_bps": None})
    assert status == 200 and reset["share_bps"] == 200 and reset["custom"] is False
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT share_bps FROM agencies WHERE id = $1", c.agency_id) is None
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM audit_log WHERE action IN ('agency.targets', 'agency.share') ORDER BY id")]  # fmt: skip
    assert actions == ["agency.targets"] + ["agency.share"] * 3  # the matrix's, 300 again, the reset


async def test_racing_exchanges_never_spend_one_surplus_twice(client: Any) -> None:
    c = await cast(client)
    await give_salary(client, c.member.id, c.agency_id, 1000)
    url = "/api/v1/me/income/exchange"

    async def exchange(key: str) -> tuple[int, Any]:
        return await send(client, "POST", url, c.member, {"usd_cents": 700, "idempotency_key": key})

    # Different keys, one surplus: one wins, the other is refused. The same key sent at once: one exchange.
    raced = await asyncio.gather(*(exchange(f"race-key-{i}") for i in range(4)))
    assert sorted(status for status, _ in raced) == [200, 409, 409, 409], raced
    twins = await asyncio.gather(*(exchange("twin-key-1") for _ in range(3)))
    assert [status for status, _ in twins] == [409, 409, 409]  # 300 left: not enough for 700
    await give_salary(client, c.member.id, c.agency_id, 400)
    twins = await asyncio.gather(*(exchange("twin-key-2") for _ in range(3)))
    assert [status for status, _ in twins] == [200, 200, 200]
    assert len({body["exchange_id"] for _, body in twins}) == 1
    assert sorted(body["replay"] for _, body in twins) == [False, True, True]
    status, mine = await get(client, "/api/v1/me/income", c.member)
    assert status == 200 and mine["surplus_salary_usd_cents"] == 0 and mine["exchanged_usd_cents"] == 1400
    wallet = (await (await client.get("/api/v1/wallet", headers=bearer(c.member.token))).json())["data"]
    assert wallet["coins"] == 1400
    svc = client.app[SERVICES]
    await flush_all(svc, svc.wallets, "test")
    report = await reconcile_all(svc)
    assert report.ok, report.render()
