"""Dashboard Users (issue 15 §3) in a real Chromium against the real server: search and filters,
the profile, a suspension that drops the user's live socket at once, coins granted through the
ledger, bulk actions on a selection, the CSV export, permission denials and a CSRF-less refusal."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Any

from engine.appkeys import CONFIG, SERVICES
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, bearer, db, drain_ledger, new_user
from tests.sockets import url_of

STAFF_ACTIONS = ["account.suspended", "account.banned", "account.active", "wallet.grant", "wallet.deduct"]


def accept_dialogs(page: Any) -> None:
    """The forms ask "are you sure?" (data-confirm): say yes."""

    async def accept(dialog: Any) -> None:
        await dialog.accept()

    page.on("dialog", accept)


async def _status(client: Any, user_id: int) -> Any:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetchrow("SELECT status, suspended_until, block_reason FROM users WHERE id = $1", user_id)


async def _audit(client: Any, target_id: int) -> list[str]:
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch("SELECT action FROM audit_log WHERE target_type = 'user' AND target_id = $1 "
                                "AND action = ANY($2) ORDER BY id", str(target_id), STAFF_ACTIONS)  # fmt: skip
    return [r["action"] for r in rows]


async def test_search_filters_and_the_profile(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    target = await new_user(client, "Zelda Searchable")
    other = await new_user(client, "Otto Other")
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE users SET country = 'de' WHERE id = $1", other.id)
    await sign_in(page, base, admin.phone, PASSWORD)
    await page.goto(f"{base}/admin/users")
    await page.get_by_label("ID, name, signature or phone").fill("Searchable")
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r".*q=Searchable.*"))
    rows = page.locator("tbody tr")
    assert await rows.count() == 1 and "Zelda Searchable" in await rows.inner_text()
    await shot(page, "users-list")
    # Filters: a country finds only its users; a bad one is said, not silently ignored.
    await page.goto(f"{base}/admin/users?country=DE")
    assert "Otto Other" in await page.locator("tbody").inner_text()
    assert "Zelda" not in await page.locator("tbody").inner_text()
    await page.goto(f"{base}/admin/users?country=Germany")
    assert "two letters" in await page.get_by_role("alert").inner_text()
    await page.goto(f"{base}/admin/users?q={target.phone.replace('+', '%2B')}")
    await page.get_by_role("link", name="Zelda Searchable").click()
    await page.get_by_role("heading", name=re.compile("Zelda Searchable")).wait_for()
    for heading in ("Wallet", "Ledger", "Rooms", "Reports about this user", "App sessions", "Audit trail"):
        assert await page.get_by_role("heading", name=heading, exact=True).count() == 1, heading
    assert await page.locator("#user-status").inner_text() == "active"
    await shot(page, "users-profile")


async def test_a_suspension_from_the_profile_drops_the_live_socket(client: Any, page: Any, connect: Any) -> None:
    base = url_of(client)
    moderator = await new_user(client, "Mo Moderator", role="moderator")
    target = await new_user(client, "Sam Suspended")
    peer = await connect(client, target)
    assert peer.sio.connected
    await sign_in(page, base, moderator.phone, PASSWORD)
    accept_dialogs(page)
    await page.goto(f"{base}/admin/users/{target.id}")
    assert await page.get_by_role("button", name="Apply to the wallet").count() == 0  # no economy.grant
    await page.get_by_label("Action").select_option("suspend")
    await page.get_by_label("Length").fill("2")
    await page.get_by_label("Unit").select_option("days")
    await page.get_by_label("Reason").fill("spam in every room")
    await page.get_by_role("button", name="Change status").click()
    await page.get_by_text(re.compile(r"User \d+ suspended until")).wait_for()
    row = await _status(client, target.id)
    assert row["status"] == "suspended" and row["block_reason"] == "spam in every room"
    left = (row["suspended_until"] - (await _now(client))).total_seconds()
    assert 2 * 86400 - 120 < left <= 2 * 86400
    async with asyncio.timeout(5):
        while peer.sio.connected:  # noqa: ASYNC110  (the client has no event for it)
            await asyncio.sleep(0.05)
    assert "suspended" in await page.locator("#user-status").inner_text()
    # Without a reason: refused, and said so on the page.
    await page.get_by_label("Action").select_option("ban")
    await page.get_by_role("button", name="Change status").click()
    assert "Give a reason" in await page.get_by_role("alert").inner_text()
    assert (await _status(client, target.id))["status"] == "suspended"
    await page.get_by_label("Action").select_option("reinstate")
    await page.get_by_role("button", name="Change status").click()
    await page.get_by_text(f"User {target.id} reinstated.").wait_for()
    assert (await _status(client, target.id))["status"] == "active"
    assert await _audit(client, target.id) == ["account.suspended", "account.active"]


async def _now(client: Any) -> Any:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetchval("SELECT now()")


async def test_coins_granted_and_deducted_through_the_ledger(client: Any, page: Any) -> None:
    base = url_of(client)
    finance = await new_user(client, "Fin Finance", role="finance")
    target = await new_user(client, "Rich Target")
    await sign_in(page, base, finance.phone, PASSWORD)
    accept_dialogs(page)
    await page.goto(f"{base}/admin/users/{target.id}")
    assert await page.get_by_role("button", name="Change status").count() == 0  # no users.suspend
    await page.get_by_label("Amount").fill("500")
    await page.get_by_label("Reason (kept in the ledger)").fill("compensation for outage")
    await page.get_by_role("button", name="Apply to the wallet").click()
    await page.get_by_text("Granted: 500 coins. Balance now 500.").wait_for()
    assert await page.locator("#wallet-coins").inner_text() == "500"
    await page.get_by_label("Grant or deduct").select_option("deduct")
    await page.get_by_label("Amount").fill("120")
    await page.get_by_label("Reason (kept in the ledger)").fill("taken back in part")
    await page.get_by_role("button", name="Apply to the wallet").click()
    await page.get_by_text("Deducted: 120 coins. Balance now 380.").wait_for()
    # More than the wallet holds: refused by the ledger's own rule, shown on the page.
    await page.get_by_label("Grant or deduct").select_option("deduct")
    await page.get_by_label("Amount").fill("100000")
    await page.get_by_label("Reason (kept in the ledger)").fill("too much")
    await page.get_by_role("button", name="Apply to the wallet").click()
    await page.get_by_role("alert").wait_for()
    resp = await client.get("/api/v1/wallet", headers=bearer(target.token))
    assert (await resp.json())["data"]["coins"] == 380
    await drain_ledger(client.app[SERVICES])
    async with db(client.app[CONFIG].database_url) as conn:
        kinds = await conn.fetch(
            """SELECT t.kind, e.amount, t.metadata->>'reason' AS reason FROM ledger_entries e
               JOIN ledger_transactions t USING (txn_id)
               WHERE e.account_type = 'user' AND e.account_id = $1 ORDER BY e.id""",
            target.id,
        )
    assert [(k["kind"], k["amount"], k["reason"]) for k in kinds] == [
        ("admin_grant", 500, "compensation for outage"), ("admin_deduct", -120, "taken back in part")]  # fmt: skip
    assert await _audit(client, target.id) == ["wallet.grant", "wallet.deduct"]
    await page.reload()
    assert "compensation for outage" in await page.locator("#ledger").inner_text()


async def test_bulk_ban_and_the_csv_export(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    first, second, spared = [await new_user(client, f"Bulk Person {n}") for n in "ABC"]
    await sign_in(page, base, admin.phone, PASSWORD)
    accept_dialogs(page)
    await page.goto(f"{base}/admin/users?q=Bulk+Person")
    await page.get_by_label(f"Select Bulk Person A ({first.id})").check()
    await page.get_by_label(f"Select Bulk Person B ({second.id})").check()
    await page.locator("#b-action").select_option("ban")
    await page.locator("#b-reason").fill("fraud ring")
    await shot(page, "users-bulk")
    await page.get_by_role("button", name="Apply to ticked users").click()
    await page.get_by_text("Ban: done for 2 of 2 users.").wait_for()
    assert [(await _status(client, u.id))["status"] for u in (first, second, spared)] == ["banned", "banned", "active"]
    # A bulk grant; the same form posted again (same key) grants once.
    await page.get_by_label(f"Select Bulk Person C ({spared.id})").check()
    await page.locator("#b-action").select_option("grant")
    await page.locator("#b-amount").fill("50")
    await page.locator("#b-reason").fill("welcome gift")
    form = {"csrf_token": await page.locator("#bulk input[name=csrf_token]").get_attribute("value"),
            "bulk_key": await page.locator("#bulk input[name=bulk_key]").get_attribute("value"),
            "user_id": str(spared.id), "action": "grant", "amount": "50", "currency": "coins",
            "reason": "welcome gift"}  # fmt: skip
    await page.get_by_role("button", name="Apply to ticked users").click()
    await page.get_by_text("Grant: done for 1 of 1 users.").wait_for()
    again = await page.request.post(f"{base}/admin/users/bulk", form=form, max_redirects=0)
    assert again.status == 303
    resp = await client.get("/api/v1/wallet", headers=bearer(spared.token))
    assert (await resp.json())["data"]["coins"] == 50
    # The export: the filters apply, a CSV attachment.
    resp = await page.request.get(f"{base}/admin/users/export.csv?q=Bulk+Person&status=banned")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0][:3] == ["id", "name", "phone"]
    assert sorted(int(r[0]) for r in rows[1:]) == [first.id, second.id]
    # The select-all box ticks every row on the page (admin.js).
    await page.goto(f"{base}/admin/users?q=Bulk+Person")
    await page.get_by_label("Select every user on this page").check()
    assert await page.locator("input[name=user_id]:checked").count() == 3


async def test_permissions_and_csrf(client: Any, page: Any) -> None:
    base = url_of(client)
    support = await new_user(client, "Sue Support", role="support")
    target = await new_user(client, "Tina Target")
    await sign_in(page, base, support.phone, PASSWORD)
    await page.goto(f"{base}/admin/users?q=Tina")
    assert await page.get_by_role("button", name="Apply to ticked users").count() == 0  # no bulk actions to offer
    await page.goto(f"{base}/admin/users/{target.id}")  # support may look (users.view) …
    assert await page.get_by_role("button", name="Change status").count() == 0
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    # … but not act: the server refuses even with a good token.
    for path, body in ((f"/admin/users/{target.id}/status", {"action": "ban", "reason": "no way"}),
                       (f"/admin/users/{target.id}/adjust", {"direction": "grant", "amount": "5", "currency": "coins",
                                                              "reason": "nope", "idempotency_key": "k" * 16}),
                       ("/admin/users/bulk", {"action": "ban", "user_id": str(target.id), "reason": "nope",
                                              "bulk_key": "a" * 32})):  # fmt: skip
        resp = await page.request.post(base + path, form={**body, "csrf_token": token}, max_redirects=0)
        assert resp.status == 403, path
    await page.goto(f"{base}/admin/rooms")
    assert "rooms.moderate" in await page.locator("main").inner_text()
    await shot(page, "users-denied-rooms")
    assert (await _status(client, target.id))["status"] == "active"
    # An admin's forged form (no CSRF token) changes nothing.
    admin = await new_user(client, "Ada Admin", role="admin")
    await page.context.clear_cookies()
    await sign_in(page, base, admin.phone, PASSWORD)
    resp = await page.request.post(f"{base}/admin/users/{target.id}/status", form={"action": "ban", "reason": "forged"},
                                   max_redirects=0)  # fmt: skip
    assert resp.status == 403 and "CSRF" in await resp.text()
    assert (await _status(client, target.id))["status"] == "active"
    assert await _audit(client, target.id) == []


def test_the_search_model_reads_forms_and_writes_safe_csv() -> None:
    import datetime as dt

    from engine.accounts.admin_model import csv_row, parse_filters, suspension_end

    filters, errors = parse_filters({"q": " ada ", "country": "PK", "status": "banned", "min_level": "3", "vip": "any",
                                     "created_from": "2026-01-02", "created_to": "nope"})  # fmt: skip
    assert (filters.q, filters.country, filters.status, filters.min_level, filters.vip) == ("ada", "pk", "banned", 3,
                                                                                           "any")  # fmt: skip
    assert filters.created_from == dt.date(2026, 1, 2) and filters.created_to is None
    assert errors == ["Created: a date as YYYY-MM-DD."]
    assert parse_filters({"status": "gone", "vip": "9"})[1] == ["Status: active, suspended or banned.",
                                                                "VIP: any, none or a level from 1 to 7."]  # fmt: skip
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert suspension_end(now, "3", "days") == now + dt.timedelta(days=3)
    assert suspension_end(now, "0", "hours") is None and suspension_end(now, "5", "weeks") is None
    user = {"id": 1, "name": "=HYPERLINK(1)", "phone": "+15550001", "signature": "-x", "country": "pk",
            "status": "active", "suspended_until": None, "wealth_level": 1, "charm_level": 1, "vip_level": 0,
            "created_at": now}  # fmt: skip
    row = csv_row(user)
    assert row[1] == "'=HYPERLINK(1)" and row[2] == "+15550001" and row[3] == "'-x" and row[-1] == now.isoformat()
