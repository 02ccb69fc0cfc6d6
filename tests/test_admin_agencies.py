"""The Agencies section (issue 15 §8) in a real Chromium against the real server: the application
queue, an application rejected with a reason and another approved through the page (the database
and the applicant's notification show it), a forged approval refused, the agency's page with its
members, and the denial for a role without agencies.review."""

from __future__ import annotations

from typing import Any

from engine.appkeys import CONFIG
from tests.agency_setup import add_member, apply
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, new_user
from tests.sockets import url_of


async def _agency(client: Any, agency_id: int) -> Any:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetchrow("SELECT review_status, rejection_reason, reviewed_by FROM agencies WHERE id = $1",
                                   agency_id)  # fmt: skip


async def test_finance_may_not_review_agencies(client: Any, page: Any) -> None:
    base = url_of(client)
    finance = await new_user(client, "Fin Ance", role="finance")
    owner = await new_user(client, "Olga Owner")
    pending = await apply(client, owner)
    await sign_in(page, base, finance.phone, PASSWORD)
    for path in ("/admin/agencies", f"/admin/agencies/{pending['id']}"):
        resp = await page.goto(f"{base}{path}")
        assert resp is not None and resp.status == 403, path
    assert "agencies.review" in await page.get_by_role("main").inner_text()
    await shot(page, "agencies-denied-finance")
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    resp = await page.request.post(f"{base}/admin/agencies/{pending['id']}/approve", form={"csrf_token": token or ""},
                                   max_redirects=0)  # fmt: skip
    assert resp.status == 403
    assert (await _agency(client, pending["id"]))["review_status"] == "pending"


async def test_reject_with_a_reason_then_approve(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    first, second = await new_user(client, "Olga Owner"), await new_user(client, "Otto Owner")
    rejected, approved = await apply(client, first), await apply(client, second)

    await sign_in(page, base, admin.phone, PASSWORD)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Agencies").click()
    queue = page.get_by_role("main")
    assert rejected["name"] in await queue.inner_text() and approved["name"] in await queue.inner_text()
    await shot(page, "agencies-queue")

    # A forged approval (no CSRF token) does nothing.
    forged = await page.request.post(f"{base}/admin/agencies/{approved['id']}/approve", form={}, max_redirects=0)
    assert forged.status == 403 and "CSRF" in await forged.text()
    assert (await _agency(client, approved["id"]))["review_status"] == "pending"

    await page.get_by_role("link", name=rejected["name"]).click()
    await page.get_by_role("heading", name=rejected["name"]).wait_for()
    await shot(page, "agencies-application")
    await page.get_by_label("Reason for rejecting").fill("The ID documents are unreadable.")
    await page.get_by_role("button", name="Reject").click()
    await page.get_by_text("rejected; its applicant was told").wait_for()
    row = await _agency(client, rejected["id"])
    assert (row["review_status"], row["rejection_reason"], row["reviewed_by"]) == (
        "rejected", "The ID documents are unreadable.", admin.id)  # fmt: skip

    await page.goto(f"{base}/admin/agencies/{approved['id']}")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Approve").click()
    await page.get_by_text("approved; its owner was told").wait_for()
    assert (await _agency(client, approved["id"]))["review_status"] == "approved"
    async with db(client.app[CONFIG].database_url) as conn:
        role = await conn.fetchval("SELECT role FROM agency_members WHERE agency_id = $1 AND user_id = $2",
                                   approved["id"], second.id)  # fmt: skip
        told = await conn.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1", second.id)
    assert role == "owner" and told >= 1

    member = await new_user(client, "Mia Member")
    await add_member(client, approved["id"], member)
    await page.reload()
    main = await page.get_by_role("main").inner_text()
    assert "Mia Member" in main and "Otto Owner" in main and "Income," in main
    await shot(page, "agencies-detail")

    await page.goto(f"{base}/admin/agencies?review_status=rejected")
    assert "The ID documents are unreadable." in await page.get_by_role("main").inner_text()
