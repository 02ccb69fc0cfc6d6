"""The admin dashboard (issue 15): server-rendered pages under /admin/ (aiohttp-jinja2) over the same
domain actions as the REST API. `setup_admin(app)` mounts it; each section is a module with its own
`routes` (admin_ui/web.py's AdminRoutes), listed in MODULES."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from admin_ui import (
    agencies,
    catalog,
    catalog_uploads,
    finance,
    home,
    moderation,
    rooms,
    signin,
    static,
    system,
    users,
)
from admin_ui import ops as ops_views
from admin_ui.web import AdminRoutes, security_headers

HERE = Path(__file__).resolve().parent
# Every section's routes, in the order they are matched (a fixed path before a {param} one).
MODULES: tuple[AdminRoutes, ...] = (
    static.routes,
    signin.routes,
    home.routes,
    users.routes,
    rooms.routes,
    finance.routes,
    agencies.routes,
    ops_views.routes,
    moderation.routes,
    catalog_uploads.routes,
    catalog.routes,
    system.routes,
)


def setup_admin(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static"] = static.url_of
    app.middlewares.append(security_headers)
    for module in MODULES:
        for route in module.routes:
            app.router.add_route(route.method, route.path, route.handler, name=route.name)
