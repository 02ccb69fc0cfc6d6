"""The platform's state for clients (issue 15 §9): whether maintenance is on (for the app's banner,
and legacy clients at /api/system/status), and the feature flags on for the caller."""

from __future__ import annotations

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.system.model import maintenance_event
from httpapi.auth import caller_id, login_required
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response, ok

routes = ApiRoutes()


class MaintenanceState(msgspec.Struct):
    """While `active`, new room joins are refused (`Under maintenance, try again later`)."""

    active: bool
    message: str
    started_at: str | None
    ends_at: str | None


class SystemStatus(msgspec.Struct):
    maintenance: MaintenanceState


class MyFlags(msgspec.Struct):
    """Names of the feature flags on for the caller (a flag's percentage rollout is stable per user)."""

    flags: list[str]


async def _status(request: web.Request) -> dict[str, object]:
    return {"maintenance": maintenance_event(await request.app[SERVICES].flags.maintenance())}


@routes.api("GET", "/api/v1/system/status", summary="Platform status: maintenance mode (no sign-in needed).",
            response=SystemStatus)  # fmt: skip
async def system_status(request: web.Request) -> web.Response:
    return ok(await _status(request))


@routes.api("GET", "/api/system/status", summary="Platform status: maintenance mode (legacy, no envelope).",
            response=SystemStatus)  # fmt: skip
async def legacy_system_status(request: web.Request) -> web.Response:
    return json_response(await _status(request))


@routes.api("GET", "/api/v1/me/flags", summary="The feature flags on for the caller.", response=MyFlags)
@login_required
async def my_flags(request: web.Request) -> web.Response:
    return ok({"flags": await request.app[SERVICES].flags.enabled_for(caller_id(request))})
