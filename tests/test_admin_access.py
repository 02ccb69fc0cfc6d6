"""Dashboard access (issue 15 §1) in a real Chromium against the real server: sign-in (and a wrong
password), staff only, the nav by role, CSRF refusal, the idle timeout, the TOTP second factor
enrolled with its QR code, sign-out, the login rate limit, and a ban ending a live session."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pyotp

from engine.appkeys import CONFIG
from engine.config import Rate
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, new_user
from tests.sockets import url_of


async def _sessions(client: Any, user_id: int) -> list[Any]:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetch("SELECT ended_at, end_reason, verified FROM staff_sessions WHERE user_id = $1 "
                                "ORDER BY created_at", user_id)  # fmt: skip


async def _audit(client: Any, user_id: int) -> list[str]:
    async with db(client.app[CONFIG].database_url) as conn:
        rows = await conn.fetch(
            "SELECT action FROM audit_log WHERE actor_id = $1 AND action LIKE 'staff.%' ORDER BY id", user_id
        )
    return [r["action"] for r in rows]


async def test_sign_in_wrong_password_then_right_and_the_nav_by_role(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, "not-the-password")
    assert "/admin/login" in page.url
    await page.get_by_role("alert").wait_for()
    assert "Wrong phone number or password." in await page.get_by_role("alert").inner_text()
    await shot(page, "login-wrong-password")

    await sign_in(page, base, admin.phone, PASSWORD)
    assert page.url == f"{base}/admin/"
    nav = page.get_by_role("navigation", name="Sections")
    for label in ("Overview", "Users", "Finance", "Moderation", "Rooms", "Catalog", "System"):
        assert await nav.get_by_role("link", name=label).count() == 1, label
    await shot(page, "home-admin")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "flylive_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert await _audit(client, admin.id) == ["staff.login"]

    moderator = await new_user(client, "Mo Moderator", role="moderator")
    await page.context.clear_cookies()
    await sign_in(page, base, moderator.phone, PASSWORD)
    nav = page.get_by_role("navigation", name="Sections")
    assert await nav.get_by_role("link", name="Moderation").count() == 1
    assert await nav.get_by_role("link", name="Finance").count() == 0
    assert await nav.get_by_role("link", name="System").count() == 0


async def test_only_staff_sign_in(client: Any, page: Any) -> None:
    user = await new_user(client, "Plain User")
    await sign_in(page, url_of(client), user.phone, PASSWORD)
    assert "/admin/login" in page.url
    assert "no access to the dashboard" in await page.get_by_role("alert").inner_text()
    assert await _sessions(client, user.id) == []
    reseller = await new_user(client, "Ray Reseller", role="reseller")
    await sign_in(page, url_of(client), reseller.phone, PASSWORD)
    assert "no access to the dashboard" in await page.get_by_role("alert").inner_text()


async def test_a_page_without_a_session_goes_to_sign_in_and_back(client: Any, page: Any) -> None:
    admin = await new_user(client, "Ada Admin", role="admin")
    await page.goto(f"{url_of(client)}/admin/account")
    assert "/admin/login?next=/admin/account" in page.url
    await page.get_by_label("Phone number").fill(admin.phone)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Your account").wait_for()
    assert page.url.endswith("/admin/account")


async def test_a_state_change_without_the_csrf_token_is_refused(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    # The browser's own cookie, a forged form: no token, then a wrong one.
    for form in ({}, {"csrf_token": "forged"}):
        resp = await page.request.post(f"{base}/admin/logout", form=form, max_redirects=0)
        assert resp.status == 403, form
        assert "CSRF" in await resp.text()
    assert [s["ended_at"] for s in await _sessions(client, admin.id)] == [None]  # still signed in
    # The real form signs out.
    await page.goto(f"{base}/admin/")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(re.compile(r".*/admin/login.*"))
    assert [s["end_reason"] for s in await _sessions(client, admin.id)] == ["logout"]
    # A sign-in form posted without its cookie's token is refused too.
    resp = await page.request.post(f"{base}/admin/login", form={"phone": admin.phone, "password": PASSWORD,
                                                                 "csrf_token": "x"}, max_redirects=0)  # fmt: skip
    assert resp.status == 403
    assert len(await _sessions(client, admin.id)) == 1


async def test_an_idle_session_expires(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE economy_settings SET value = 1 WHERE key = 'admin_idle_timeout_seconds'")
    await asyncio.sleep(1.5)
    await page.goto(f"{base}/admin/account")
    assert "/admin/login" in page.url
    await shot(page, "session-expired")
    assert [s["end_reason"] for s in await _sessions(client, admin.id)] == ["idle"]


async def test_totp_enrolment_then_sign_in_with_a_code(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="super_admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    await page.goto(f"{base}/admin/account")
    await page.get_by_role("button", name="Set up two-step sign-in").click()
    await page.locator("figure.qr svg").wait_for()
    await shot(page, "account-totp-enrolment")
    secret = (await page.locator("#totp-secret").inner_text()).strip()
    totp = pyotp.TOTP(secret)
    await page.get_by_label("Code", exact=True).fill("000000" if totp.now() != "000000" else "111111")
    await page.get_by_role("button", name="Turn on").click()
    assert "not right" in await page.get_by_role("alert").inner_text()
    await page.get_by_label("Code", exact=True).fill(totp.now())
    await page.get_by_role("button", name="Turn on").click()
    await page.get_by_text("Two-step sign-in is on.").wait_for()

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, base, admin.phone, PASSWORD)
    assert page.url.endswith("/admin/login/totp")
    await page.goto(f"{base}/admin/account")  # not yet: the code comes first
    assert page.url.endswith("/admin/login/totp")
    await shot(page, "login-totp")
    await page.get_by_label("Code", exact=True).fill(totp.at(time.time() + 30))  # the next step: this one is spent
    await page.get_by_role("button", name="Verify").click()
    await page.wait_for_url(f"{base}/admin/")
    sessions = await _sessions(client, admin.id)
    assert [s["verified"] for s in sessions] == [True, True]
    actions = await _audit(client, admin.id)
    assert actions == ["staff.login", "staff.totp_enabled", "staff.logout", "staff.login", "staff.totp_verified"]


async def test_the_login_rate_limit_answers_429_with_retry_after(make_client: Any, page: Any) -> None:
    client = await make_client(login_rate_limit_phone=Rate(5, 300))
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    statuses = []
    for _ in range(7):
        await page.goto(f"{base}/admin/login")
        token = await page.locator("input[name=csrf_token]").get_attribute("value")
        body = {"phone": admin.phone, "password": "wrong", "csrf_token": token}
        resp = await page.request.post(f"{base}/admin/login", max_redirects=0, form=body)
        statuses.append(resp.status)
    assert statuses[0] == 422 and statuses[-1] == 429, statuses
    assert int(resp.headers["retry-after"]) > 0
    assert "Too many login attempts" in await resp.text()


async def test_a_ban_ends_a_live_dashboard_session(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE users SET status = 'banned' WHERE id = $1", admin.id)
    await page.goto(f"{base}/admin/account")
    assert "/admin/login" in page.url
    assert [s["end_reason"] for s in await _sessions(client, admin.id)] == ["revoked"]


async def test_static_files_are_cached_by_content(client: Any) -> None:
    from admin_ui.static import url_of as static_url

    url = static_url("admin.css")
    resp = await client.get(url)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = await client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/admin/static/nothing.css")).status == 404
    page = await client.get("/admin/login")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"] and page.headers["X-Frame-Options"] == "DENY"


async def test_an_id_out_of_range_is_the_404_page(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="super_admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    huge = "9" * 20  # past bigint
    for path in (f"/admin/users/{huge}", f"/admin/agencies/{huge}", f"/admin/moderation/cases/{huge}",
                 f"/admin/catalog/gift/{huge}"):  # fmt: skip
        resp = await page.goto(f"{base}{path}")
        assert resp is not None and resp.status == 404, path
        assert "Not found" in await page.get_by_role("heading").first.inner_text(), path
