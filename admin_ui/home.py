"""The overview (`/admin/`, issue 15 §2): live rooms, connected sockets, gifts per minute, coins spent
and revenue today, new users today and media nodes, as numbers and SVG charts that refresh over
server-sent events (`/admin/overview/stream`). The figures come from engine/ops/actions.py: the
same sources as /metrics (each process's socket gauge, the media registry) and the ledger."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

from aiohttp import web

from admin_ui.charts import bar_chart
from admin_ui.web import AdminRoutes, render, services
from engine.appkeys import OPS
from engine.ops import actions as ops
from engine.ops.model import Overview, figures_text
from engine.staff.model import StaffSession
from httpapi.ops import LIFECYCLE

routes = AdminRoutes()
log = logging.getLogger("flylive.admin.overview")
# A stream lives this long, then the browser's EventSource reconnects by itself: each reconnect goes
# through the session check again (an ended session gets a 401, and EventSource stops).
STREAM_MAX_SECONDS = 120.0
RETRY_MS = 3000
POLL_SECONDS = 0.5  # how often a waiting stream looks whether its client left or the server drains


def chart_markup(view: Overview) -> dict[str, str]:
    return {
        "gifts-chart": bar_chart("Gifts per minute, last 30 minutes", view.gifts_per_minute),
        "coins-chart": bar_chart("Coins spent per hour today", view.coins_per_hour),
    }


def event_of(view: Overview) -> bytes:
    data = json.dumps({"values": figures_text(view), "svg": chart_markup(view)}, separators=(",", ":"))
    return f"event: figures\ndata: {data}\n\n".encode()


@routes.page("GET", "/admin/", name="admin-home")
async def home(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    svc = services(request)
    view = await ops.overview(svc, request.app[OPS].memo)
    return render(request, "home.html", staff, figures=figures_text(view), svg=chart_markup(view),
                  refresh=await ops.refresh_seconds(svc), view=view,
                  generated=dt.datetime.now(dt.UTC).strftime("%H:%M:%S UTC"))  # fmt: skip


@routes.page("GET", "/admin")
async def bare(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/admin/")


async def _wait(request: web.Request, seconds: float) -> bool:
    """Sleep up to `seconds`; False as soon as the client has gone or the server is shutting down."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while True:
        transport = request.transport
        if transport is None or transport.is_closing() or request.app[LIFECYCLE].draining:
            return False
        left = until - loop.time()
        if left <= 0:
            return True
        await asyncio.sleep(min(POLL_SECONDS, left))


@routes.page("GET", "/admin/overview/stream", stream=True)
async def stream(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """Server-sent events: an `event: figures` now and then every `admin_overview_refresh_seconds`,
    until the client goes away, the server drains, or STREAM_MAX_SECONDS (then the browser reconnects)."""
    svc = services(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})  # fmt: skip
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_MAX_SECONDS
    sent = 0
    gauge = svc.metrics.admin_overview_streams
    gauge.inc()
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while True:
            await response.write(event_of(await ops.overview(svc, request.app[OPS].memo)))
            sent += 1
            pause = await ops.refresh_seconds(svc)
            if loop.time() + pause > deadline or not await _wait(request, pause):
                break
    except ConnectionResetError:
        # The client left mid-write: nothing more to send, nobody to answer.
        log.debug("overview stream closed by the client", extra={"user_id": staff.user_id, "events": sent})
    except Exception:
        # Headers are sent: no error page now. End the stream; the browser retries in RETRY_MS.
        log.exception("overview stream failed", extra={"user_id": staff.user_id, "events": sent})
    finally:
        gauge.dec()
    return response
