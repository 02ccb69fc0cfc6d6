"""The ops views of System (issue 15 §9) in a real Chromium: the error log (this process's recent
ERROR lines, newest first, filtered, cleared with an audit row), the capacity view (sockets per
engine process as each publishes them with a TTL, Redis memory, PostgreSQL connections), both
refused without `settings.manage`, and the clear refused without the CSRF token."""

from __future__ import annotations

import logging
import time
from typing import Any

from engine.appkeys import CONFIG, OPS, SERVICES
from engine.ops import model
from engine.ops import store as ops_store
from engine.rooms import store as rooms_store
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, new_user
from tests.sockets import Peer, url_of


async def _audit(client: Any, action: str) -> list[Any]:
    async with db(client.app[CONFIG].database_url) as conn:
        return await conn.fetch("SELECT actor_id, target_id, details FROM audit_log WHERE action = $1", action)


async def test_the_ops_views_need_settings_manage(client: Any, page: Any) -> None:
    base = url_of(client)
    for role in ("support", "moderator"):
        staff = await new_user(client, f"No {role}", role=role)
        await page.context.clear_cookies()
        await sign_in(page, base, staff.phone, PASSWORD)
        for path in ("/admin/system/errors", "/admin/system/capacity"):
            resp = await page.goto(f"{base}{path}")
            assert resp is not None and resp.status == 403, (role, path)
            assert "settings.manage" in await page.locator("main").inner_text()
        assert await page.get_by_role("link", name="Error log").count() == 0  # not offered on the overview either
    await shot(page, "ops-denied")


async def test_the_error_log_lists_filters_and_clears(client: Any, page: Any) -> None:
    base = url_of(client)
    errors = client.app[OPS].errors
    errors.clear()
    logging.getLogger("flylive.test.ops").error("first failure %s", "alpha")
    try:
        raise ValueError("the cause")
    except ValueError:
        logging.getLogger("flylive.test.ops").exception("second failure beta")
    logging.getLogger("flylive.test.ops").warning("only a warning")  # below ERROR: not kept
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    await page.get_by_role("link", name="Error log").click()
    await page.wait_for_url(f"{base}/admin/system/errors")
    rows = page.locator("tbody tr")
    assert await rows.count() == 2
    assert "second failure beta" in await rows.nth(0).inner_text()  # newest first
    assert "first failure alpha" in await rows.nth(1).inner_text()
    assert "ValueError: the cause" in await rows.nth(0).locator("pre").text_content()
    assert "only a warning" not in await page.content()
    assert await page.locator("#instance").inner_text() == client.app[OPS].instance_id
    await shot(page, "ops-errors")

    await page.get_by_label("Logger or message contains").fill("ALPHA")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url("**/admin/system/errors?q=ALPHA")
    assert await rows.count() == 1 and "first failure alpha" in await rows.nth(0).inner_text()

    # Without the CSRF token: refused, nothing cleared, nothing audited.
    resp = await page.request.post(f"{base}/admin/system/errors/clear", form={}, max_redirects=0)
    assert resp.status == 403
    assert len(errors.entries()) == 2 and await _audit(client, "ops.errors_cleared") == []

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Clear this process's error log").click()
    await page.wait_for_url("**/admin/system/errors?notice=*")
    assert "Cleared 2 error lines" in await page.get_by_role("status").inner_text()
    assert await page.locator("#error-count").inner_text() == "0 lines."
    assert errors.entries() == []
    [row] = await _audit(client, "ops.errors_cleared")
    assert row["actor_id"] == admin.id and row["target_id"] == client.app[OPS].instance_id
    assert '"before": {"entries": 2}' in row["details"] and '"after": {"entries": 0}' in row["details"]
    assert client.app[SERVICES].metrics.registry.get_sample_value(
        "flylive_error_log_lines_total", {"logger": "flylive.test.ops"}
    ) == 2  # fmt: skip


async def test_the_capacity_view(client: Any, page: Any) -> None:
    base = url_of(client)
    svc, ops = client.app[SERVICES], client.app[OPS]
    user = await new_user(client, "Socket User")
    peer = await Peer().connect(base, user.token)
    # Another process alive by its heartbeat that has not reported (yet): listed without figures.
    now_ms = int(time.time() * 1000)
    await rooms_store.heartbeat(svc.redis, svc.keys, "otherproc0001", now_ms)
    try:
        await ops.publish()  # the job runs every few seconds; publish this socket's count now
        key = svc.keys.ops_process(ops.instance_id)
        assert 0 < await svc.redis.ttl(key) <= model.PROCESS_TTL_SECONDS
        admin = await new_user(client, "Ada Admin", role="admin")
        await sign_in(page, base, admin.phone, PASSWORD)
        await page.goto(f"{base}/admin/system/capacity")
        mine = page.locator(f'#processes tr[data-instance="{ops.instance_id}"]')
        cells = await mine.locator("td").all_inner_texts()
        assert "(this one)" in cells[0] and cells[2] == "1" and cells[3] == "1", cells
        other = await page.locator('#processes tr[data-instance="otherproc0001"]').inner_text()
        assert "no report yet" in other
        assert await page.locator("#total-sockets").inner_text() == "1"
        facts = await page.locator("#redis-info").inner_text()
        assert "used memory human" in facts and "connected clients" in facts
        states = await page.locator("#pg-states").inner_text()
        assert "active" in states  # this page's own query, at least
        assert "of max" in await page.locator("#pg-used").inner_text()
        await shot(page, "ops-capacity")
    finally:
        await peer.close()
        await rooms_store.forget_instance(svc.redis, svc.keys, "otherproc0001")
    # A clean stop forgets the report at once (the TTL is for a process that dies).
    await ops.forget()
    assert await ops_store.process_reports(svc.redis, svc.keys, [ops.instance_id]) == {}
