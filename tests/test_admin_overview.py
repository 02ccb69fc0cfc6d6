"""The overview (issue 15 §2) in a real Chromium against the real server: the figures and charts
refresh live over server-sent events as sockets connect, a room goes live, a gift is sent and
flushed to the ledger, a recharge is fulfilled and users register; the stream ends when its client
leaves and refuses a request without a session. Plus the pure chart and figure helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

from admin_ui import charts
from engine.appkeys import CONFIG, SERVICES
from engine.ops import model
from tests.browser import shot, sign_in
from tests.helpers import PASSWORD, db, drain_ledger, new_user
from tests.sockets import url_of
from tests.test_gifts_basic import gift_room


async def _fast_refresh(client: Any) -> None:
    async with db(client.app[CONFIG].database_url) as conn:
        await conn.execute("UPDATE economy_settings SET value = 1 WHERE key = 'admin_overview_refresh_seconds'")


async def _text(page: Any, figure: str) -> str:
    return (await page.locator(f"#fig-{figure}").inner_text()).strip()


async def _until(page: Any, figure: str, expected: str, timeout: float = 8.0) -> None:
    """Wait for a figure to read `expected` (pushed by the stream: the page is not reloaded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (seen := await _text(page, figure)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{figure}: {seen!r}, expected {expected!r}"
        await asyncio.sleep(0.1)


async def _titles(page: Any, chart: str) -> list[str]:
    """The tooltips of a chart's bars ("label: value")."""
    return await page.locator(f"[data-live-svg={chart}] rect.bar title").evaluate_all(
        "els => els.map((e) => e.textContent)"
    )


async def _fulfilled_order(client: Any, user_id: int, cents: int) -> None:
    """A recharge order paid and credited (the payment flow's end state; its own tests drive it)."""
    async with db(client.app[CONFIG].database_url) as conn:
        package = await conn.fetchval(
            "INSERT INTO recharge_packages (name, coins, price_cents) VALUES ('Test pack', 100, $1) RETURNING id", cents
        )
        await conn.execute(
            """INSERT INTO recharge_orders (id, user_id, package_id, coins, bonus_coins, price_cents, currency,
                                            provider, status)
               VALUES ($1, $2, $3, 100, 0, $4, 'USD', 'test', 'fulfilled')""",
            uuid.uuid4(), user_id, package, cents,
        )  # fmt: skip


async def test_the_overview_refreshes_live(client: Any, config: Any, page: Any) -> None:
    await _fast_refresh(client)
    base = url_of(client)
    admin = await new_user(client, "Ada Admin", role="admin")
    await sign_in(page, base, admin.phone, PASSWORD)
    assert page.url == f"{base}/admin/"
    await page.get_by_role("heading", name="Overview").wait_for()
    assert await _text(page, "sockets") == "0" and await _text(page, "live-rooms") == "0"
    assert await _text(page, "coins-today") == "0" and await _text(page, "revenue-today") == "0.00"
    users_before = int((await _text(page, "new-users")).replace(",", ""))
    assert "No live" not in await page.content()
    assert await page.locator("[data-live-svg=gifts-chart] svg[role=img]").count() == 1

    async with gift_room(client, config, coins=100, key="grant-overview") as r:
        # Two sockets connect, the host's room goes live, two more users registered: all pushed.
        await _until(page, "sockets", "2")
        await _until(page, "live-rooms", "1")
        await _until(page, "new-users", f"{users_before + 2:,}")
        ack = await r.a.call("gift:send", {"roomId": r.room_id, "giftId": 900, "recipientId": r.host_id,
                                           "quantity": 3, "idempotencyKey": "send-overview1"})  # fmt: skip
        assert ack["success"] is True, ack
        await drain_ledger(client.app[SERVICES])
        await _until(page, "coins-today", "21")
        await _fulfilled_order(client, r.sender_id, 499)
        await _until(page, "revenue-today", "4.99 USD")
        # The gift's minute in the chart: its bar titled with the count (the page's SVG was replaced).
        titles = await _titles(page, "gifts-chart")
        assert len(titles) == model.GIFT_MINUTES and (titles[-1].endswith(": 1") or titles[-2].endswith(": 1")), titles
        assert sum(t.endswith(": 0") for t in titles) == model.GIFT_MINUTES - 1, titles
        assert any(t.endswith(": 21") for t in await _titles(page, "coins-chart"))
        await shot(page, "overview")
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone: the figures stack
        await shot(page, "overview-phone")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing wider than the screen
    await _until(page, "sockets", "0")
    await _until(page, "live-rooms", "0")
    # Users and media nodes: the figure for nodes reads the media registry (none in this test).
    assert await _text(page, "media-nodes") == "0"


async def test_the_stream_needs_a_session_and_ends_when_its_client_leaves(client: Any, page: Any) -> None:
    await _fast_refresh(client)
    svc = client.app[SERVICES]
    resp = await client.get("/admin/overview/stream")
    assert resp.status == 401
    support = await new_user(client, "Sue Support", role="support")
    base = url_of(client)
    await sign_in(page, base, support.phone, PASSWORD)
    assert page.url == f"{base}/admin/"  # every staff member has the overview
    cookie = next(c for c in await page.context.cookies() if c["name"] == "flylive_admin")
    stream = await client.get("/admin/overview/stream", cookies={"flylive_admin": cookie["value"]})
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    seen = b""
    while seen.count(b"event: figures") < 2:  # the first at once, the next after the refresh interval
        seen += await asyncio.wait_for(stream.content.readany(), 5)
    assert b'"live-rooms":"0"' in seen and b'"gifts-chart":"<svg' in seen
    # The browser's own stream is open too (the overview page): ours makes at least one more.
    assert (svc.metrics.registry.get_sample_value("flylive_admin_overview_streams") or 0) >= 2
    await page.goto(f"{base}/admin/account")  # the page's stream goes away with it
    stream.close()
    for _ in range(60):
        if svc.metrics.registry.get_sample_value("flylive_admin_overview_streams") == 0:
            break
        await asyncio.sleep(0.1)
    assert svc.metrics.registry.get_sample_value("flylive_admin_overview_streams") == 0


def test_charts_and_figures_are_pure() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 4, 7, 12, 250, 1001)] == [4, 4, 4, 8, 20, 400, 2000]
    points = [model.Point("10:00", 2), model.Point("10:01", 0), model.Point("10:02", 4)]
    svg = charts.bar_chart("Gifts <per> minute", points)
    assert svg.startswith("<svg") and 'aria-label="Gifts &lt;per&gt; minute"' in svg and svg.count("<rect") == 3
    assert "style=" not in svg  # the CSP allows no inline style
    assert charts.bar_chart("Empty", []).count("<rect") == 0
    assert "<polyline" in charts.line_chart("Line", points)
    now = dt.datetime(2026, 12, 3, 10, 2, 30, tzinfo=dt.UTC)
    series = model.minute_series({dt.datetime(2026, 12, 3, 10, 1, tzinfo=dt.UTC): 5}, now, 3)
    assert [(p.label, p.value) for p in series] == [("10:00", 0), ("10:01", 5), ("10:02", 0)]
    start = model.day_start(now, "Asia/Riyadh")  # UTC+3: 13:02 local, the day began at 21:00 UTC
    assert start.astimezone(dt.UTC) == dt.datetime(2026, 12, 2, 21, 0, tzinfo=dt.UTC)
    hours = model.hour_series({1: 7}, start, now)
    assert len(hours) == 14 and hours[1] == model.Point("01", 7) and hours[0] == model.Point("00", 0)
    india = model.day_start(now, "Asia/Kolkata")  # UTC+5:30: the hours start at half past, in UTC
    assert india.astimezone(dt.UTC) == dt.datetime(2026, 12, 2, 18, 30, tzinfo=dt.UTC)
    assert model.money_text({"USD": 499, "EUR": 100}) == "1.00 EUR + 4.99 USD"


def test_the_overview_memo_sums_settled_hours_once() -> None:
    memo, start = model.OverviewMemo(), dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    at = start + dt.timedelta(hours=2, minutes=1)  # hour 1 ended a minute ago: not settled yet
    assert memo.first_open_hour(start, 0.0) == 0
    assert memo.merge(start, at, {0: 5, 1: 6, 2: 1}) == {0: 5, 1: 6, 2: 1} and memo.settled_hours == 1
    at += dt.timedelta(minutes=5)  # now hour 1 is settled too
    assert memo.first_open_hour(start, 10.0) == 1
    assert memo.merge(start, at, {1: 7, 2: 3}) == {0: 5, 1: 7, 2: 3} and memo.settled_hours == 2
    assert memo.first_open_hour(start, 20.0) == 2
    assert memo.merge(start, at, {2: 4}) == {0: 5, 1: 7, 2: 4}  # hour 0 not summed again
    assert memo.first_open_hour(start, 20.0 + model.MEMO_RESET_SECONDS + 1) == 0  # summed afresh now and then
    assert memo.first_open_hour(start + dt.timedelta(days=1), 0.0) == 0 and memo.settled == {}  # a new day
