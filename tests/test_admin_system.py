"""The dashboard's System section (issue 15 §9) in a real Chromium against the real server:
maintenance mode turned on and off from the page (a live socket told, a new join refused), a system
announcement reaching a live socket, a feature flag created and rolled out (read by the engine at
once), economy settings saved through the economy's own action, the links to the error log and
capacity views, a moderator refused, and a CSRF-less post refused with nothing changed."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.appkeys import CONFIG, SERVICES
from engine.config import Rate
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, join, new_user
from tests.sockets import first, url_of


async def _signed_in_admin(client: Any, page: Any) -> Any:
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, url_of(client), admin.phone, PASSWORD)
    # data-confirm forms ask first (admin.js): a person would say yes
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    return admin


async def _audit(client: Any, action: str) -> list[Any]:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetch("SELECT actor_id, target_id, details FROM audit_log WHERE action = $1 ORDER BY id",
                                action)  # fmt: skip


async def test_maintenance_and_an_announcement_from_the_page_reach_live_sockets(
    client: Any, page: Any, connect: Any
) -> None:
    base = url_of(client)
    admin = await _signed_in_admin(client, page)
    owner, guest = await new_user(client, "Owner"), await new_user(client, "Guest")
    o, g = await connect(client, owner), await connect(client, guest)
    await page.goto(f"{base}/admin/system")
    await page.get_by_role("heading", name="Maintenance mode").wait_for()
    for link in ("Error log", "Capacity", "Feature flags", "Economy & limits"):
        assert await page.get_by_role("navigation", name="System").get_by_role("link", name=link).count() == 1
    await shot(page, "system-index")

    await page.get_by_label("Message shown to users").fill("Upgrading the servers, back in 10 minutes")
    await page.get_by_role("button", name="Turn maintenance on").click()
    await page.get_by_text("Maintenance mode is on").wait_for()
    assert "Upgrading the servers" in await page.locator("#maintenance-state").inner_text()
    told = await first(g, "system:maintenance")
    assert (told.active, told.message) == (True, "Upgrading the servers, back in 10 minutes")  # type: ignore[attr-defined]
    ack = await join(g, owner.room, must_succeed=False)
    assert ack["code"] == "MAINTENANCE"
    await shot(page, "system-maintenance-on")
    [audit] = await _audit(client, "system.maintenance")
    assert audit["actor_id"] == admin.id and '"active": true' in audit["details"]

    await page.get_by_role("button", name="Turn maintenance off").click()
    await page.get_by_text("Maintenance mode is off.").wait_for()
    assert (await g.wait_for("system:maintenance", 2))[1]["active"] is False
    await join(g, owner.room)

    await page.get_by_label("Announcement", exact=True).fill("New gifts tonight at 8!")
    await page.get_by_label("Level").select_option("warning")
    await page.get_by_role("button", name="Send to everyone").click()
    await page.get_by_text("Announcement sent to every connected socket.").wait_for()
    for peer in (o, g):
        got = await first(peer, "system:announcement")
        assert (got.message, got.level) == ("New gifts tonight at 8!", "warning")  # type: ignore[attr-defined]
    assert await page.get_by_role("cell", name="New gifts tonight at 8!").count() == 1
    assert len(await _audit(client, "system.announce")) == 1

    # An empty announcement is refused on the page itself, nothing sent.
    empty = {"csrf_token": await _csrf(page), "message": "  ", "level": "info"}
    resp = await page.request.post(f"{base}/admin/system/announcements", max_redirects=0, form=empty)
    assert resp.status == 422 and "Write the announcement." in await resp.text()
    assert len(await _audit(client, "system.announce")) == 1


async def _csrf(page: Any) -> str:
    value: str = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    return value


async def test_a_feature_flag_created_and_rolled_out_from_the_page(client: Any, page: Any) -> None:
    base = url_of(client)
    await _signed_in_admin(client, page)
    svc = client.app[SERVICES]
    users = [await new_user(client, f"User {i}") for i in range(3)]
    await page.goto(f"{base}/admin/system/flags")
    await page.get_by_label("Name", exact=True).fill("rooms.new_gift_panel")
    await page.get_by_label("Description").fill("The redesigned gift panel")
    await page.get_by_label("Rollout (% of users)").fill("0")
    await page.get_by_label("Enabled").check()
    await page.get_by_role("button", name="Save flag").click()
    await page.get_by_text("Flag “rooms.new_gift_panel” saved.").wait_for()
    assert not any([await svc.flags.enabled("rooms.new_gift_panel", u.id) for u in users])

    await page.get_by_role("link", name="Edit rooms.new_gift_panel").click()
    await page.get_by_role("heading", name="Edit “rooms.new_gift_panel”").wait_for()
    await page.get_by_label("Rollout (% of users)").fill("100")
    await shot(page, "system-flags-edit")
    await page.get_by_role("button", name="Save flag").click()
    await page.get_by_text("Flag “rooms.new_gift_panel” saved.").wait_for()
    assert all([await svc.flags.enabled("rooms.new_gift_panel", u.id) for u in users])  # no restart
    assert await page.locator("#flag-rooms\\.new_gift_panel").get_by_role("cell", name="100%").count() == 1
    await shot(page, "system-flags")

    # A bad name is refused with the reason, on the page.
    await page.get_by_label("Name", exact=True).fill("Bad Name")
    await page.get_by_label("Rollout (% of users)").fill("5")
    await page.locator("#f-name").evaluate("el => el.removeAttribute('pattern')")  # past the browser's own check
    await page.get_by_role("button", name="Save flag").click()
    assert "Lower-case letters" in await page.get_by_role("alert").inner_text()

    await page.get_by_role("button", name="Delete rooms.new_gift_panel").click()
    await page.get_by_text("Flag “rooms.new_gift_panel” deleted.").wait_for()
    assert not await svc.flags.enabled("rooms.new_gift_panel", users[0].id)
    assert [r["target_id"] for r in await _audit(client, "flags.save")] == ["rooms.new_gift_panel"] * 2
    assert len(await _audit(client, "flags.delete")) == 1


async def test_economy_settings_and_a_live_rate_limit_from_the_page(client: Any, page: Any) -> None:
    base = url_of(client)
    admin = await _signed_in_admin(client, page)
    await page.goto(f"{base}/admin/system/settings")
    await page.get_by_role("heading", name="Rate limits").wait_for()
    await page.get_by_label("gift_room_owner_bps").fill("700")
    await page.get_by_role("button", name="Save settings").click()
    await page.get_by_text("Saved: gift_room_owner_bps.").wait_for()
    async with db(client.app[CONFIG].database_url) as conn:
        row = await conn.fetchrow("SELECT value, updated_by FROM economy_settings WHERE key = 'gift_room_owner_bps'")
    assert (row["value"], row["updated_by"]) == (700, admin.id)
    [audit] = await _audit(client, "economy.settings")
    assert audit["actor_id"] == admin.id
    assert '"before": {"gift_room_owner_bps": 500}' in audit["details"]
    assert '"after": {"gift_room_owner_bps": 700}' in audit["details"]

    # The economy's own rule: shares over 100% are refused, and the form comes back with the reason.
    await page.get_by_label("gift_room_owner_bps").fill("9000")
    await page.get_by_role("button", name="Save settings").click()
    assert "100%" in await page.get_by_role("alert").inner_text()
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT value FROM economy_settings WHERE key = 'gift_room_owner_bps'") == 700

    # A rate limit changed without a restart: the limiter uses it at its next hit.
    svc = client.app[SERVICES]
    default = svc.config.search_rate_limit
    await page.get_by_label("Scope").select_option("search")
    await page.get_by_label("Requests").fill("2")
    await page.get_by_label("Per seconds").fill("60")
    await page.get_by_role("button", name="Set rate limit").click()
    await page.get_by_text("Rate limit “search” is now 2 per 60 s.").wait_for()
    assert await page.locator("#rate-search").get_by_text("2 / 60 s").count() == 1
    await shot(page, "system-settings")
    assert await svc.flags.rate("search", default) == Rate(2, 60.0)
    verdicts = [(await svc.limiter.hit("search", "probe", default)).allowed for _ in range(3)]
    assert verdicts == [True, True, False]
    await page.get_by_role("button", name="Reset search").click()
    await page.get_by_text("Rate limit “search” is back to its default.").wait_for()
    assert await svc.flags.rate("search", default) == default
    assert [len(await _audit(client, a)) for a in ("rates.set", "rates.clear")] == [1, 1]


async def test_a_moderator_is_refused_and_a_post_without_csrf_changes_nothing(client: Any, page: Any) -> None:
    base = url_of(client)
    moderator = await new_user(client, "Mo Moderator", role="moderator")
    await sign_in(page, base, moderator.phone, PASSWORD)
    for path in ("/admin/system", "/admin/system/flags", "/admin/system/settings"):
        resp = await page.goto(f"{base}{path}")
        assert resp is not None and resp.status == 403, path
    assert "settings.manage" in await page.get_by_role("alert").inner_text()
    await shot(page, "system-denied-moderator")
    await page.context.clear_cookies()

    await _signed_in_admin(client, page)
    for path, fields in (("/admin/system/maintenance", {"mode": "on", "message": "forged"}),
                         ("/admin/system/flags", {"name": "forged", "rollout_percent": "100", "enabled": "on"}),
                         ("/admin/system/announcements", {"message": "forged", "level": "info"})):  # fmt: skip
        resp = await page.request.post(f"{base}{path}", form=fields, max_redirects=0)
        assert resp.status == 403 and "CSRF" in await resp.text(), path
    async with db(client.app[CONFIG].database_url) as conn:
        assert await conn.fetchval("SELECT active FROM system_maintenance") is False
        assert await conn.fetchval("SELECT count(*) FROM feature_flags") == 0
        assert await conn.fetchval("SELECT count(*) FROM system_announcements") == 0
