"""Recharge REST: packages, orders, history, the provider webhook, and the sandbox provider."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.payments import actions
from engine.payments.model import ProviderEvent
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import read_body, read_query, read_raw
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response, ok

routes = ApiRoutes()
Provider = Annotated[
    str, msgspec.Meta(max_length=32, description="The configured PAYMENT_PROVIDER; others answer 404.")
]


class OrderBody(msgspec.Struct):
    package_id: Annotated[int, msgspec.Meta(ge=1)]


class SandboxBody(msgspec.Struct):
    outcome: actions.SandboxOutcome = "succeeded"


class PackagesQuery(msgspec.Struct):
    country: str | None = None
    """A two-letter country code: that country's packages and the global ones."""


class RechargesQuery(msgspec.Struct):
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


@routes.api("GET", "/api/v1/wallet/packages", summary="Coin packages on sale.", query=PackagesQuery,
            response=list[schemas.Package])  # fmt: skip
async def packages(request: web.Request) -> web.Response:
    country = (read_query(request, PackagesQuery).country or "").lower()[:2] or None
    return ok(await actions.list_packages(request.app[SERVICES], country))


@routes.api(
    "POST",
    "/api/v1/wallet/recharge",
    summary="Start a recharge order for a package.",
    body=OrderBody,
    response=schemas.Order,
    status=201,
    errors=(404,),
)
@login_required
async def create_order(request: web.Request) -> web.Response:
    body = await read_body(request, OrderBody)
    return ok(await actions.do_create_order(request.app[SERVICES], caller_id(request), body.package_id), 201)


@routes.api("GET", "/api/v1/wallet/recharges", summary="The caller's recharge orders, newest first.",
            query=RechargesQuery, response=list[schemas.Order])  # fmt: skip
@login_required
async def recharge_history(request: web.Request) -> web.Response:
    limit = read_query(request, RechargesQuery).limit
    return ok(await actions.list_orders(request.app[SERVICES], caller_id(request), limit))


@routes.api(
    "POST",
    "/api/v1/payments/webhook/{provider}",
    summary="The payment provider's webhook (signed).",
    body=ProviderEvent,
    response=schemas.WebhookAck,
    enveloped=False,
    params={"provider": Provider},
    description="Verified by the provider's signature header (`Stripe-Signature`), not by a user token.",
)
async def webhook(request: web.Request) -> web.Response:
    """Provider → engine. Verified by signature (no user auth); always answers quickly."""
    raw = await read_raw(request)
    header = request.headers.get("Stripe-Signature", "")
    svc = request.app[SERVICES]
    return json_response(await actions.do_handle_event(svc, request.match_info["provider"], raw, header))


@routes.api(
    "POST",
    "/api/v1/payments/sandbox/{order_id}/complete",
    summary="Sandbox provider: pay an own order.",
    body=SandboxBody,
    response=schemas.WebhookAck,
    errors=(404, 503),
    params={"order_id": uuid.UUID},
)
@login_required
async def sandbox_complete(request: web.Request) -> web.Response:
    """The built-in sandbox provider (development deployments only; 404 elsewhere)."""
    body = await read_body(request, SandboxBody)
    user_id = caller_id(request)
    return ok(await actions.do_sandbox_complete(request.app[SERVICES], user_id, request.match_info["order_id"],
                                                body.outcome))  # fmt: skip
