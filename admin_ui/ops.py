"""The operations views of System (issue 15 §9), permission `settings.manage`: the error log
(`/admin/system/errors`, this process's recent ERROR lines, newest first) and the capacity view
(`/admin/system/capacity`: sockets per engine process, Redis memory, PostgreSQL connections)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, redirect, render, services
from engine.appkeys import OPS
from engine.ops import actions as ops
from engine.staff.model import StaffSession

routes = AdminRoutes()
PAGE_SIZE = 50
PERMISSION = "settings.manage"


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, min(int(raw), 1000)) if raw.isdigit() else 1


@routes.page("GET", "/admin/system/errors", permission=PERMISSION)
async def errors(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    live = request.app[OPS]
    needle = request.query.get("q", "").strip()[:100]
    entries = live.errors.entries()
    if needle:
        low = needle.lower()
        entries = [e for e in entries if low in e.logger.lower() or low in e.message.lower()]
    page = _page_number(request)
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(request, "ops/errors.html", staff, entries=shown, total=len(entries), page=page,
                  more=page * PAGE_SIZE < len(entries), q=needle, instance=live.instance_id,
                  host=live.host)  # fmt: skip


@routes.page("POST", "/admin/system/errors/clear", permission=PERMISSION)
async def clear_errors(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    live = request.app[OPS]
    cleared = await ops.do_clear_errors(services(request), live.errors, live.instance_id, staff.user_id,
                                        client_of(request).ip)  # fmt: skip
    raise redirect("/admin/system/errors", f"Cleared {cleared} error lines of process {live.instance_id}.")


@routes.page("GET", "/admin/system/capacity", permission=PERMISSION)
async def capacity(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    view = await ops.capacity(services(request))
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    total = sum(row.report.sockets if row.report else row.registered_sockets for row in view.processes)
    pg_used = sum(view.pg_connections.values())
    return render(request, "ops/capacity.html", staff, view=view, now_ms=now_ms, total_sockets=total,
                  pg_used=pg_used, me=request.app[OPS].instance_id)  # fmt: skip
