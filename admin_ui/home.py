"""The dashboard's landing page (`/admin/`): the sections this staff member may open. (The overview's
live figures are issue 15 §2.)"""

from __future__ import annotations

from aiohttp import web

from admin_ui.web import AdminRoutes, render
from engine.staff.model import StaffSession

routes = AdminRoutes()


@routes.page("GET", "/admin/", name="admin-home")
async def home(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return render(request, "home.html", staff)


@routes.page("GET", "/admin")
async def bare(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/admin/")
