"""The agency owner's income (issue 13 §3, docs/agency.md "Owner income, advances and salary
exchange"): the Members Income page against real gifts, the ASP arithmetic with a staff-set share,
salary advances within their cap (replays, two racing at the cap), Salary Exchange Requests approved
(coins burned, dollars minted) and rejected (coins back), every route's permission matrix, and the
`agency.income.updated` push the owner's main page hears."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from engine.agency.income_model import month_of, month_text
from engine.appkeys import CONFIG, SERVICES
from engine.economy.reconcile import reconcile
from tests.agency_setup import Cast, agency_share_probe, apply, cast
from tests.helpers import User, bearer, db, grant_role, heard_by, new_user

GIFT_PRICE = 10_000  # one gift of this many coins to a member: 2 % of it is 200 coins, 20 cents


def this_month(client: Any) -> str:
    return month_text(month_of(dt.datetime.now(dt.UTC), client.app[CONFIG].business_timezone))


async def gift_income(client: Any, connect: Any, host: User, key: str) -> None:
    """One real gift of GIFT_PRICE coins to `host`, flushed: the income row and the agency's commission."""
    sender = await new_user(client, "Sender", role="admin")
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("INSERT INTO gifts (id, name, price) VALUES (900, 'Big', $1) ON CONFLICT (id) DO UPDATE "
                           "SET price = $1", GIFT_PRICE)  # fmt: skip
    grant = {"currency": "coins", "amount": GIFT_PRICE, "direction": "grant", "reason": "test",
             "idempotency_key": f"{key}-grant"}  # fmt: skip
    resp = await client.post(f"/api/v1/admin/wallets/{sender.id}/adjust", json=grant, headers=bearer(sender.token))
    assert resp.status == 200, await resp.text()
    send = await agency_share_probe(client, client, connect, sender, host, key)
    # The gift split reads membership through the hot cache, which forgets at PostgreSQL's notice
    # of the (direct) membership insert: wait until it has heard it.
    async with heard_by(client.app[CONFIG].database_url, client.app):
        pass
    await send()
    # The app's own flusher may have taken the gift from the outbox before the probe's flush did:
    # wait for its income row (written in the same transaction as the ledger's).
    async with db(client.app[CONFIG].database_url) as conn, asyncio.timeout(5):
        while not await conn.fetchval("SELECT sum(coins) FROM agency_income_events WHERE user_id = $1", host.id):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def set_share(client: Any, c: Cast, bps: int | None) -> None:
    """The agency's ASP as staff set it (`PUT /api/v1/admin/agencies/{id}/share`)."""
    resp = await client.put(f"/api/v1/admin/agencies/{c.agency_id}/share", json={"share_bps": bps},
                            headers=bearer(c.staff.token))  # fmt: skip
    assert resp.status == 200, await resp.text()


async def held(client: Any, account_type: str, account_id: int, currency: str) -> int:
    async with db(client.app[CONFIG].database_url) as conn:
        value = await conn.fetchval("SELECT balance FROM account_balances WHERE account_type = $1 AND account_id = $2 "
                                    "AND currency = $3", account_type, account_id, currency)  # fmt: skip
    return int(value or 0)


async def get(client: Any, user: User, url: str) -> Any:
    return await client.get(url, headers=bearer(user.token))


async def post(client: Any, user: User, url: str, body: dict[str, Any] | None = None) -> Any:
    return await client.post(url, json=body if body is not None else {}, headers=bearer(user.token))


async def data(resp: Any, status: int = 200) -> Any:
    assert resp.status == status, await resp.text()
    return (await resp.json())["data"]


def readers(c: Cast) -> dict[str, int]:
    """Who reads the income, the advances and the exchange requests: the owner, admins and staff."""
    return {name: 200 if name in ("owner", "admin", "staff") else 403 for name in c.everyone()}


async def test_income_page_figures_and_permissions(client: Any, connect: Any) -> None:
    c = await cast(client)
    await gift_income(client, connect, c.member, "owner-income-1")
    url = f"/api/v1/agencies/{c.agency_id}/income"
    for name, expected in readers(c).items():
        assert (await get(client, c.everyone()[name], url)).status == expected, name
    page = await data(await get(client, c.owner, url))
    commission = await held(client, "agency", c.agency_id, "coins")
    assert commission == GIFT_PRICE // 10  # gift_agency_commission_bps: 10 %
    assert {k: v for k, v in page.items() if k != "hosts"} == {
        "agency_id": c.agency_id, "month": this_month(client), "monthly_coins": GIFT_PRICE, "share_bps": 200,
        "estimated_salary_usd_cents": 20, "salary_in_advance_usd_cents": 0, "balance_usd_cents": 20,
        "advance_limit_usd_cents": 10, "wallet": {"coins": commission, "usd_cents": 0},
    }  # fmt: skip
    hosts = page["hosts"]["items"]
    # The host with income first (2 % of 10,000 coins = 200 coins = 20 cents), then the other members.
    assert hosts[0] == {"user_id": c.member.id, "name": "Member", "avatar_image": None, "coins": GIFT_PRICE,
                        "agency_share_coins": 200, "agency_share_usd_cents": 20}  # fmt: skip
    assert {h["user_id"] for h in hosts} == {c.owner.id, c.admin.id, c.moderator.id, c.member.id}
    assert all(h["coins"] == 0 for h in hosts[1:])
    # Cursor pages: one host at a time, each once.
    seen, cursor = [], None
    while True:
        q = f"{url}?limit=1" + (f"&cursor={cursor}" if cursor else "")
        chunk = (await data(await get(client, c.admin, q)))["hosts"]
        seen += [h["user_id"] for h in chunk["items"]]
        if not (cursor := chunk["next_cursor"]):
            break
    assert seen == [h["user_id"] for h in hosts]

    # A staff-set ASP: 5 % of 10,000 coins = 500 coins = 50 cents (at 1,000 coins per dollar).
    await set_share(client, c, 500)
    page = await data(await get(client, c.staff, f"{url}?month={this_month(client)}"))
    assert (page["share_bps"], page["estimated_salary_usd_cents"], page["balance_usd_cents"]) == (500, 50, 50)
    assert page["hosts"]["items"][0]["agency_share_coins"] == 500
    assert page["hosts"]["items"][0]["agency_share_usd_cents"] == 50

    # A past month: nothing earned, and no member rows (they are listed for the month under way).
    old = await data(await get(client, c.owner, f"{url}?month=2020-01"))
    assert (old["monthly_coins"], old["estimated_salary_usd_cents"], old["hosts"]["items"]) == (0, 0, [])
    for bad in ("2026-13", "abc", "2020-1", "9999-12", "x" * 8):
        resp = await get(client, c.owner, f"{url}?month={bad}")
        assert resp.status == 422 and "month" in (await resp.json())["error"]["fields"], bad
    assert (await get(client, c.owner, f"{url}?cursor=nope")).status == 422
    # Unknown agencies, and another's pending application, do not exist for the caller.
    assert (await get(client, c.owner, "/api/v1/agencies/999999/income")).status == 404
    pending = await apply(client, await new_user(client, "Applicant"))
    assert (await get(client, c.owner, f"/api/v1/agencies/{pending['id']}/income")).status == 404


async def test_advances_cap_replay_and_push(client: Any, connect: Any) -> None:
    c = await cast(client)
    await gift_income(client, connect, c.member, "owner-advance-1")
    await set_share(client, c, 1000)  # 10 % of 10,000 coins = 1,000 coins = 100 cents; cap 50
    owner_socket = await connect(client, c.owner)
    url = f"/api/v1/agencies/{c.agency_id}/salary-advances"
    for name in ("admin", "moderator", "member", "outsider", "staff"):
        resp = await post(client, c.everyone()[name], url, {"usd_cents": 10, "idempotency_key": f"adv-{name}-1"})
        assert resp.status == 403, name
    for bad in (
        {"usd_cents": 0, "idempotency_key": "adv-bad-01"},
        {"usd_cents": 10},
        {"usd_cents": 10, "idempotency_key": "short"},
        {"usd_cents": "10", "idempotency_key": "adv-bad-02"},
    ):
        assert (await post(client, c.owner, url, bad)).status == 422, bad  # fmt: skip
    assert (await post(client, c.owner, "/api/v1/agencies/999999/salary-advances",
                       {"usd_cents": 10, "idempotency_key": "adv-none-1"})).status == 404  # fmt: skip

    first = await data(await post(client, c.owner, url, {"usd_cents": 30, "idempotency_key": "adv-key-01"}), 201)
    assert (first["usd_cents"], first["month"], first["replay"]) == (30, this_month(client), False)
    again = await data(await post(client, c.owner, url, {"usd_cents": 45, "idempotency_key": "adv-key-01"}), 201)
    assert again == {**first, "replay": True}  # the first advance, nothing paid again
    over = await post(client, c.owner, url, {"usd_cents": 21, "idempotency_key": "adv-key-02"})
    assert over.status == 409
    body = (await over.json())["error"]
    assert body["code"] == "advance_over_limit" and "at most 20 more" in body["message"]
    await data(await post(client, c.owner, url, {"usd_cents": 20, "idempotency_key": "adv-key-03"}), 201)
    assert await held(client, "agency", c.agency_id, "usd_cents") == 50

    (pushed, *_) = await owner_socket.wait_for("agency.income.updated", 2)
    assert pushed["reason"] == "advance" and pushed["agency_id"] == c.agency_id
    assert (pushed["salary_in_advance_usd_cents"], pushed["balance_usd_cents"]) == (30, 70)
    latest = owner_socket.events["agency.income.updated"][-1]
    assert (latest["salary_in_advance_usd_cents"], latest["wallet"]["usd_cents"]) == (50, 50)
    income = await data(await get(client, c.owner, f"/api/v1/agencies/{c.agency_id}/income"))
    assert (income["salary_in_advance_usd_cents"], income["balance_usd_cents"]) == (50, 50)

    for name, expected in readers(c).items():
        assert (await get(client, c.everyone()[name], url)).status == expected, name
    listed = await data(await get(client, c.staff, f"{url}?month={this_month(client)}&limit=1"))
    assert [i["usd_cents"] for i in listed["items"]] == [20] and listed["next_cursor"]
    rest = await data(await get(client, c.admin, f"{url}?limit=5&cursor={listed['next_cursor']}"))
    assert [i["usd_cents"] for i in rest["items"]] == [30] and rest["next_cursor"] is None
    assert (await data(await get(client, c.owner, f"{url}?month=2020-01")))["items"] == []
    assert (await get(client, c.owner, f"{url}?month=2999-01")).status == 422

    async with db(client.app[CONFIG].database_url) as conn:
        txns = await conn.fetch("SELECT kind, ref_type, ref_id, metadata->>'agency_id' AS agency FROM "
                                "ledger_transactions WHERE kind = 'agency_salary_advance'")  # fmt: skip
        audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'agency.salary_advance'")
    assert [tuple(t) for t in txns] == [("agency_salary_advance", "agency_month", this_month(client),
                                         str(c.agency_id))] * 2  # fmt: skip
    assert audited == 2
    report = await reconcile(client.app[SERVICES])
    assert report.ok, report.render()


async def test_racing_advances_stay_within_the_cap(client: Any, connect: Any) -> None:
    c = await cast(client)
    await gift_income(client, connect, c.member, "owner-race-1")
    await set_share(client, c, 1000)  # estimated 100 cents, cap 50
    url = f"/api/v1/agencies/{c.agency_id}/salary-advances"
    results = await asyncio.gather(*(post(client, c.owner, url, {"usd_cents": 30, "idempotency_key": f"race-key-{i}"})
                                     for i in range(2)))  # fmt: skip
    assert sorted(r.status for r in results) == [201, 409]
    assert await held(client, "agency", c.agency_id, "usd_cents") == 30


async def exchange_setup(client: Any, connect: Any, key: str) -> tuple[Cast, int, Any]:
    c = await cast(client)
    await gift_income(client, connect, c.member, key)
    return c, await held(client, "agency", c.agency_id, "coins"), await connect(client, c.owner)


async def test_salary_exchange_approved_once(client: Any, connect: Any) -> None:
    c, coins, owner_socket = await exchange_setup(client, connect, "owner-exchange-1")
    assert coins == 1000
    url = f"/api/v1/agencies/{c.agency_id}/salary-exchange"
    for name in ("admin", "moderator", "member", "outsider", "staff"):
        resp = await post(client, c.everyone()[name], url, {"amount": 500, "idempotency_key": f"x-{name}-key"})
        assert resp.status == 403, name
    worthless = await post(client, c.owner, url, {"amount": 9, "idempotency_key": "x-tiny-key"})
    assert worthless.status == 422 and "amount" in (await worthless.json())["error"]["fields"]
    assert (await post(client, c.owner, url, {"amount": 0, "idempotency_key": "x-zero-key"})).status == 422
    short = await post(client, c.owner, url, {"amount": coins + 1, "idempotency_key": "x-short-key"})
    assert short.status == 409 and (await short.json())["error"]["message"] == "Insufficient agency coins."

    asked = await data(await post(client, c.owner, url, {"amount": 800, "idempotency_key": "x-key-0001"}), 201)
    assert (asked["coins"], asked["usd_cents"], asked["coins_per_usd"], asked["status"]) == (800, 80, 1000, "pending")
    assert await held(client, "agency", c.agency_id, "coins") == 200
    assert await held(client, "escrow", asked["id"], "coins") == 800
    again = await data(await post(client, c.owner, url, {"amount": 100, "idempotency_key": "x-key-0001"}), 201)
    assert again == {**asked, "replay": True}
    pending = await post(client, c.owner, url, {"amount": 100, "idempotency_key": "x-key-0002"})
    assert pending.status == 409 and (await pending.json())["error"]["code"] == "exchange_pending"

    for name, expected in readers(c).items():
        assert (await get(client, c.everyone()[name], url)).status == expected, name
    mine = await data(await get(client, c.owner, f"{url}?status=pending"))
    assert [i["id"] for i in mine["items"]] == [asked["id"]]
    admin_url = "/api/v1/admin/salary-exchanges"
    for name, user in c.everyone().items():
        expected = 200 if name == "staff" else 403
        assert (await get(client, user, f"{admin_url}?status=pending")).status == expected, name
        if name != "staff":
            assert (await post(client, user, f"{admin_url}/{asked['id']}/approve")).status == 403, name
    queue = await data(await get(client, c.staff, f"{admin_url}?status=pending"))
    assert asked["id"] in [i["id"] for i in queue["items"]]
    assert (await post(client, c.staff, f"{admin_url}/999999/approve")).status == 404

    burned_before = await held(client, "burn", 0, "coins")
    done = await data(await post(client, c.staff, f"{admin_url}/{asked['id']}/approve"))
    assert (done["status"], done["processed_by"]) == ("approved", c.staff.id)
    assert await held(client, "escrow", asked["id"], "coins") == 0
    assert await held(client, "burn", 0, "coins") - burned_before == 800
    assert await held(client, "agency", c.agency_id, "usd_cents") == 80
    assert await held(client, "agency", c.agency_id, "coins") == 200
    for decision in ("approve", "reject"):
        resp = await post(client, c.staff, f"{admin_url}/{asked['id']}/{decision}", {"reason": "again"})
        assert resp.status == 409, decision

    # Only this decision's notice counts: under load the owner's earlier notices (the agency's approval)
    # can still be on their way when the socket connects.
    def approvals() -> list[Any]:
        notices = owner_socket.events["notification:new"]
        return [n for n in notices if n["data"].get("event") == "salary_exchange_approved"]

    await owner_socket.wait_until(lambda: bool(approvals()))
    await owner_socket.wait_until(lambda: any(e["reason"] == "exchange_approved"
                                              for e in owner_socket.events["agency.income.updated"]))  # fmt: skip
    reasons = [e["reason"] for e in owner_socket.events["agency.income.updated"]]
    assert reasons == ["exchange_requested", "exchange_approved"] and len(approvals()) == 1
    assert owner_socket.events["agency.income.updated"][-1]["wallet"] == {"coins": 200, "usd_cents": 80}
    async with db(client.app[CONFIG].database_url) as conn:
        legs = await conn.fetch(
            """SELECT e.account_type, e.currency, e.amount FROM ledger_entries e JOIN ledger_transactions t
               USING (txn_id) WHERE t.kind = 'agency_salary_exchange' AND t.metadata->>'step' = 'approve'
               ORDER BY e.leg"""
        )
        audited = {r["action"] for r in await conn.fetch("SELECT action FROM audit_log")}
    assert [tuple(r) for r in legs] == [("escrow", "coins", -800), ("burn", "coins", 800),
                                        ("mint", "usd_cents", -80), ("agency", "usd_cents", 80)]  # fmt: skip
    assert {"agency.salary_exchange_request", "agency.salary_exchange_approve"} <= audited
    report = await reconcile(client.app[SERVICES])
    assert report.ok, report.render()


async def test_salary_exchange_rejected_gives_coins_back(client: Any, connect: Any) -> None:
    c, coins, owner_socket = await exchange_setup(client, connect, "owner-exchange-2")
    url = f"/api/v1/agencies/{c.agency_id}/salary-exchange"
    asked = await data(await post(client, c.owner, url, {"amount": coins, "idempotency_key": "x-key-0003"}), 201)
    assert await held(client, "agency", c.agency_id, "coins") == 0
    admin_url = f"/api/v1/admin/salary-exchanges/{asked['id']}/reject"
    assert (await post(client, c.staff, admin_url, {})).status == 422  # a reason is required
    assert (await post(client, c.owner, admin_url, {"reason": "No."})).status == 403
    # An owner who is staff too does not decide their own agency's request.
    await grant_role(client.app[CONFIG].database_url, c.owner.id, "admin")
    own = await post(client, c.owner, f"/api/v1/admin/salary-exchanges/{asked['id']}/approve")
    assert own.status == 403 and "own agency" in (await own.json())["error"]["message"]
    done = await data(await post(client, c.staff, admin_url, {"reason": "Documents missing."}))
    assert (done["status"], done["reason"]) == ("rejected", "Documents missing.")
    assert await held(client, "agency", c.agency_id, "coins") == coins
    assert await held(client, "escrow", asked["id"], "coins") == 0
    assert await held(client, "agency", c.agency_id, "usd_cents") == 0
    (notice,) = await owner_socket.wait_for("notification:new")
    assert notice["data"]["event"] == "salary_exchange_rejected" and "Documents missing." in notice["text"]
    assert (await post(client, c.staff, f"/api/v1/admin/salary-exchanges/{asked['id']}/approve")).status == 409
    # Decided, the agency may ask again.
    again = await post(client, c.owner, url, {"amount": 100, "idempotency_key": "x-key-0004"})
    assert again.status == 201
    listed = await data(await get(client, c.admin, f"{url}?limit=1"))
    assert listed["items"][0]["status"] == "pending" and listed["next_cursor"]
    assert (await get(client, c.owner, "/api/v1/agencies/999999/salary-exchange")).status == 404
    report = await reconcile(client.app[SERVICES])
    assert report.ok, report.render()


async def test_a_closed_agency_draws_nothing_more(client: Any) -> None:
    c = await cast(client)
    assert (await post(client, c.owner, f"/api/v1/agencies/{c.agency_id}/close", {})).status == 200
    advance = await post(client, c.owner, f"/api/v1/agencies/{c.agency_id}/salary-advances",
                         {"usd_cents": 1, "idempotency_key": "closed-adv-1"})  # fmt: skip
    exchange = await post(client, c.owner, f"/api/v1/agencies/{c.agency_id}/salary-exchange",
                          {"amount": 1000, "idempotency_key": "closed-x-01"})  # fmt: skip
    assert (advance.status, exchange.status) == (409, 409)
    # Its owner and staff still read its history; its former admin no longer sees it.
    url = f"/api/v1/agencies/{c.agency_id}/income"
    assert [(await get(client, u, url)).status for u in (c.owner, c.staff, c.admin)] == [200, 200, 404]
