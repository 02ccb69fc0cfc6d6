"""Recharge REST: packages, orders, history, the provider webhook, and the sandbox provider."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.payments import actions
from httpapi.auth import current_user, login_required
from httpapi.common import query_int, read_body
from httpapi.responses import json_response, ok

routes = web.RouteTableDef()


class OrderBody(msgspec.Struct):
    package_id: Annotated[int, msgspec.Meta(ge=1)]


class SandboxBody(msgspec.Struct):
    outcome: actions.SandboxOutcome = "succeeded"


@routes.get("/api/v1/wallet/packages")
async def packages(request: web.Request) -> web.Response:
    country = (request.query.get("country") or "").lower()[:2] or None
    return ok(await actions.list_packages(request.app[SERVICES], country))


@routes.post("/api/v1/wallet/recharge")
@login_required
async def create_order(request: web.Request) -> web.Response:
    body = await read_body(request, OrderBody)
    return ok(await actions.do_create_order(request.app[SERVICES], current_user(request).user_id, body.package_id), 201)


@routes.get("/api/v1/wallet/recharges")
@login_required
async def recharge_history(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", 20, 1, 100)
    return ok(await actions.list_orders(request.app[SERVICES], current_user(request).user_id, limit))


@routes.post("/api/v1/payments/webhook/{provider}")
async def webhook(request: web.Request) -> web.Response:
    """Provider → engine. Verified by signature (no user auth); always answers quickly."""
    raw = await request.read()
    header = request.headers.get("Stripe-Signature", "")
    svc = request.app[SERVICES]
    return json_response(await actions.do_handle_event(svc, request.match_info["provider"], raw, header))


@routes.post("/api/v1/payments/sandbox/{order_id}/complete")
@login_required
async def sandbox_complete(request: web.Request) -> web.Response:
    """The built-in sandbox provider (development deployments only; 404 elsewhere)."""
    body = await read_body(request, SandboxBody)
    user_id = current_user(request).user_id
    return ok(await actions.do_sandbox_complete(request.app[SERVICES], user_id, request.match_info["order_id"],
                                                body.outcome))  # fmt: skip
