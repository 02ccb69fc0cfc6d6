"""The Finance section (issue 15 §4) in a real Chromium against the real server: revenue charts from
real fulfilled orders, the ledger explorer and its CSV export, crediting a paid order (and a forged
POST refused), approving a coin request once, reviewing a fraud flag, the reconcile report, the
agency payouts page with a salary exchange approved, and the denial for a role without finance.view."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from admin_ui.charts_finance import bars, columns
from engine.appkeys import CONFIG, SERVICES
from engine.economy.admin_model import check_ledger_filter
from engine.errors import DomainError
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, bearer, db, drain_ledger, new_user
from tests.sockets import url_of
from tests.test_agency_owner_income import exchange_setup

SECRET = "whsec_dashboard_test"


async def _package(client: Any, name: str, price_cents: int) -> int:
    async with db(client.app[CONFIG].database_url) as conn:
        package: int = await conn.fetchval(
            "INSERT INTO recharge_packages (name, coins, bonus_coins, price_cents) VALUES ($1, 1000, 0, $2) "
            "RETURNING id", name, price_cents)  # fmt: skip
    return package


async def _order(client: Any, token: str, package: int, pay: bool = True) -> str:
    resp = await client.post("/api/v1/wallet/recharge", headers=bearer(token), json={"package_id": package})
    assert resp.status == 201, await resp.text()
    order: str = (await resp.json())["data"]["id"]
    if pay:
        done = await client.post(f"/api/v1/payments/sandbox/{order}/complete", headers=bearer(token),
                                 json={"outcome": "succeeded"})  # fmt: skip
        assert done.status == 200, await done.text()
    return order


async def _grant(client: Any, staff: Any, user_id: int, coins: int, key: str) -> None:
    body = {"currency": "coins", "amount": coins, "direction": "grant", "reason": "test", "idempotency_key": key}
    resp = await client.post(f"/api/v1/admin/wallets/{user_id}/adjust", json=body, headers=bearer(staff.token))
    assert resp.status == 200, await resp.text()


async def test_support_may_not_open_finance(client: Any, page: Any) -> None:
    base = url_of(client)
    support = await new_user(client, "Sue Support", role="support")
    await sign_in(page, base, support.phone, PASSWORD)
    for path in ("/admin/finance", "/admin/finance/ledger", "/admin/finance/ledger.csv", "/admin/finance/fraud"):
        resp = await page.goto(f"{base}{path}")
        assert resp is not None and resp.status == 403, path
    assert "finance.view" in await page.get_by_role("main").inner_text()
    await shot(page, "finance-denied-support")
    nav = page.get_by_role("navigation", name="Sections")
    assert await nav.get_by_role("link", name="Finance").count() == 0


async def test_revenue_ledger_and_csv(make_client: Any, page: Any) -> None:
    client = await make_client(payment_webhook_secret=SECRET)
    base = url_of(client)
    staff = await new_user(client, "Fin Ance", role="finance")
    buyer = await new_user(client, "Bea Buyer")
    small, big = await _package(client, "Small pack", 199), await _package(client, "Big pack", 999)
    for package in (small, big, big):
        await _order(client, buyer.token, package)
    await _order(client, buyer.token, small, pay=False)  # pending: not revenue
    await drain_ledger(client.app[SERVICES])

    await sign_in(page, base, staff.phone, PASSWORD)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Finance").click()
    await page.get_by_role("heading", name="Finance", exact=True).wait_for()
    assert (await page.locator("#revenue-total").inner_text()).strip() == "21.97"
    assert await page.locator("figure.chart svg rect.bar").count() >= 3
    await shot(page, "finance-revenue")
    text = await page.get_by_role("main").inner_text()
    assert "Big pack\t2\t19.98" in text and "PK\t3\t21.97" in text

    await page.get_by_role("navigation", name="Finance").get_by_role("link", name="Ledger").click()
    await page.get_by_label("Account", exact=True).select_option("user")
    await page.get_by_label("Account id").fill(str(buyer.id))
    await page.get_by_label("Kind").fill("recharge")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url(f"**account_id={buyer.id}**")
    rows = page.locator("main table tbody tr")
    assert await rows.count() == 3
    assert "recharge" in await rows.first.inner_text()
    await shot(page, "finance-ledger")

    bad = await page.goto(f"{base}/admin/finance/ledger?since=yesterday")
    assert bad is not None and bad.status == 422
    resp = await page.request.get(f"{base}/admin/finance/ledger.csv?account_type=user&account_id={buyer.id}")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    exported = list(csv.DictReader(io.StringIO(await resp.text())))
    assert sorted(int(r["amount"]) for r in exported) == [1000, 1000, 1000]
    assert {r["kind"] for r in exported} == {"recharge"}


async def test_credit_a_paid_order_and_a_forged_post_is_refused(make_client: Any, page: Any) -> None:
    client = await make_client(payment_webhook_secret=SECRET)
    base = url_of(client)
    staff = await new_user(client, "Fin Ance", role="finance")
    buyer = await new_user(client, "Bea Buyer")
    order = await _order(client, buyer.token, await _package(client, "Pack", 499), pay=False)
    url = client.app[CONFIG].database_url
    async with db(url) as conn:  # paid at the provider, then the credit lost (a crash between the two)
        await conn.execute("UPDATE recharge_orders SET status = 'paid' WHERE id = $1", order)

    await sign_in(page, base, staff.phone, PASSWORD)
    forged = await page.request.post(f"{base}/admin/finance/orders/{order}/credit", form={}, max_redirects=0)
    assert forged.status == 403 and "CSRF" in await forged.text()
    async with db(url) as conn:
        assert await conn.fetchval("SELECT status FROM recharge_orders WHERE id = $1", order) == "paid"

    await page.goto(f"{base}/admin/finance/orders?status=paid")
    await shot(page, "finance-orders")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Credit now").click()
    await page.get_by_text("Order credited.").wait_for()
    async with db(url) as conn:
        assert await conn.fetchval("SELECT status FROM recharge_orders WHERE id = $1", order) == "fulfilled"
    wallet = await client.get("/api/v1/wallet", headers=bearer(buyer.token))
    assert (await wallet.json())["data"]["coins"] == 1000


async def test_approve_a_coin_request_once(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    buyer = await new_user(client, "Bea Buyer")
    await _grant(client, admin, admin.id, 500, "coin-request-grant")
    made = await client.post(f"/api/coin-requests/{admin.id}", headers=bearer(buyer.token),
                             json={"amount": 300, "type": 1, "message": "please"})  # fmt: skip
    assert made.status == 200, await made.text()
    request_id = (await made.json())["id"]

    await sign_in(page, base, admin.phone, PASSWORD)
    await page.goto(f"{base}/admin/finance/coin-requests")
    await shot(page, "finance-coin-requests")
    await page.get_by_label("Message to the requester").fill("paid in cash")
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("Coin request approved.").wait_for()
    async with db(client.app[CONFIG].database_url) as conn:
        row = await conn.fetchrow("SELECT status, action_message, updated_by FROM coin_requests WHERE id = $1",
                                  request_id)  # fmt: skip
    assert (row["status"], row["action_message"], row["updated_by"]) == (2, "paid in cash", admin.id)
    wallet = await client.get("/api/v1/wallet", headers=bearer(buyer.token))
    assert (await wallet.json())["data"]["coins"] == 300
    # Approving again (a second tab, a replayed form) is refused and pays nothing more.
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    decide = f"{base}/admin/finance/coin-requests/{request_id}/decide"
    again = await page.request.post(decide, form={"csrf_token": token or "", "decision": "approve"}, max_redirects=0)
    assert again.status == 409
    wallet = await client.get("/api/v1/wallet", headers=bearer(buyer.token))
    assert (await wallet.json())["data"]["coins"] == 300


async def test_review_a_fraud_flag_and_run_reconcile(client: Any, page: Any) -> None:
    base = url_of(client)
    staff = await new_user(client, "Fin Ance", role="finance")
    suspect = await new_user(client, "Sam Suspect")
    url = client.app[CONFIG].database_url
    async with db(url) as conn:
        flag = await conn.fetchval("INSERT INTO fraud_flags (user_id, kind, details) VALUES ($1, 'daily_spend_limit', "
                                   "'{\"coins\": 9000}') RETURNING id", suspect.id)  # fmt: skip

    await sign_in(page, base, staff.phone, PASSWORD)
    await page.goto(f"{base}/admin/finance/fraud")
    assert "daily_spend_limit" in await page.get_by_role("main").inner_text()
    await shot(page, "finance-fraud")
    await page.get_by_label("Finding").fill("a wedding: real gifts, no abuse")
    await page.get_by_role("button", name="Mark reviewed").click()
    await page.get_by_text("Fraud flag reviewed.").wait_for()
    assert "No open fraud flags." in await page.get_by_role("main").inner_text()
    async with db(url) as conn:
        row = await conn.fetchrow("SELECT reviewed_by, review_note FROM fraud_flags WHERE id = $1", flag)
        audit = await conn.fetchrow("SELECT actor_id, details FROM audit_log WHERE action = 'fraud_flag.review' "
                                    "AND target_id = $1", str(flag))  # fmt: skip
    assert (row["reviewed_by"], row["review_note"]) == (staff.id, "a wedding: real gifts, no abuse")
    assert audit is not None and audit["actor_id"] == staff.id and '"reviewed": true' in audit["details"]

    await page.get_by_role("navigation", name="Finance").get_by_role("link", name="Reconcile").click()
    await page.get_by_role("button", name="Run the check").click()
    await page.locator("#reconcile-outcome").wait_for()
    assert (await page.locator("#reconcile-outcome").inner_text()).startswith("OK")
    await shot(page, "finance-reconcile")
    # Drift shows: a stored balance off its legs.
    async with db(url) as conn:
        await conn.execute("INSERT INTO account_balances (account_type, account_id, currency, balance) "
                           "VALUES ('platform', 77, 'coins', 5)")  # fmt: skip
    await page.get_by_role("button", name="Run the check").click()
    await page.locator("#drift").wait_for()
    assert "platform:77 coins balance 5" in await page.locator("#drift").inner_text()
    await shot(page, "finance-reconcile-drift")

    await page.goto(f"{base}/admin/finance/exchanges?user_id={suspect.id}")
    assert "No exchanges." in await page.get_by_role("main").inner_text()
    await shot(page, "finance-exchanges")


async def test_payouts_approve_a_salary_exchange(client: Any, connect: Any, page: Any) -> None:
    base = url_of(client)
    c, _coins, _socket = await exchange_setup(client, connect, "dash-exchange-1")
    asked = await client.post(f"/api/v1/agencies/{c.agency_id}/salary-exchange", headers=bearer(c.owner.token),
                              json={"amount": 800, "idempotency_key": "dash-key-0001"})  # fmt: skip
    assert asked.status == 201, await asked.text()
    exchange_id = (await asked.json())["data"]["id"]

    finance = await new_user(client, "Fin Ance", role="finance")  # may read, may not decide
    await sign_in(page, base, finance.phone, PASSWORD)
    await page.goto(f"{base}/admin/finance/payouts")
    assert await page.get_by_role("button", name="Approve").count() == 0
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    decide = f"{base}/admin/finance/salary-exchanges/{exchange_id}/decide"
    refused = await page.request.post(decide, form={"csrf_token": token or "", "decision": "approve"}, max_redirects=0)
    assert refused.status == 403

    await page.context.clear_cookies()
    await sign_in(page, base, c.staff.phone, PASSWORD)
    await page.goto(f"{base}/admin/finance/payouts")
    await shot(page, "finance-payouts")
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("Salary exchange approved.").wait_for()
    async with db(client.app[CONFIG].database_url) as conn:
        row = await conn.fetchrow("SELECT status, processed_by FROM agency_salary_exchanges WHERE id = $1",
                                  exchange_id)  # fmt: skip
    assert (row["status"], row["processed_by"]) == ("approved", c.staff.id)


def test_ledger_filter_and_charts_are_checked_and_escaped() -> None:
    f = check_ledger_filter({"account_type": "user", "account_id": "7", "since": "2026-01-01", "until": "2026-01-31"})
    assert f.query() == {"account_type": "user", "account_id": "7", "since": "2026-01-01", "until": "2026-01-31"}
    assert f.until is not None and f.until.isoformat() == "2026-02-01T00:00:00+00:00"  # the whole last day
    with pytest.raises(DomainError) as refused:
        check_ledger_filter({"account_type": "wallet", "account_id": "x", "txn_id": "nope", "since": "2026-13-01"})
    assert set(refused.value.fields) == {"account_type", "account_id", "txn_id", "since"}
    svg = bars([("<script>", 100), ("B", 50)], "By <package>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and svg.count('class="bar"') == 2
    assert "No data" in columns([], "Empty")
