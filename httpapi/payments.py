"""Recharge REST: packages, orders, history, the provider webhook, and the sandbox provider."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.accounts.model import iso_timestamp
from engine.appkeys import SERVICES
from engine.errors import DomainError, not_found
from engine.payments import actions
from engine.payments.model import ProviderEvent, signature_header
from httpapi import schemas
from httpapi.auth import current_user, login_required
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
    outcome: Literal["succeeded", "failed", "refunded"] = "succeeded"


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
    return ok(await actions.do_create_order(request.app[SERVICES], current_user(request).user_id, body.package_id), 201)


@routes.api("GET", "/api/v1/wallet/recharges", summary="The caller's recharge orders, newest first.",
            query=RechargesQuery, response=list[schemas.Order])  # fmt: skip
@login_required
async def recharge_history(request: web.Request) -> web.Response:
    limit = read_query(request, RechargesQuery).limit
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {actions.ORDER_COLUMNS}, created_at, updated_at FROM recharge_orders
                WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2""",
            current_user(request).user_id, limit,
        )  # fmt: skip
    return ok([{**actions.order_json(dict(r)), "created_at": iso_timestamp(r["created_at"]),
                "updated_at": iso_timestamp(r["updated_at"])} for r in rows])  # fmt: skip


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
    provider = request.match_info["provider"]
    if provider != request.app[SERVICES].config.payment_provider:
        raise not_found("Provider")
    raw = await read_raw(request)
    header = request.headers.get("Stripe-Signature", "")
    return json_response(await actions.do_handle_event(request.app[SERVICES], provider, raw, header))


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
    """The built-in sandbox provider: the buyer 'pays', and the provider calls our webhook — the
    same signed event, the same code path as a real provider."""
    svc = request.app[SERVICES]
    if svc.config.payment_provider != "sandbox":
        raise not_found("Route")
    body = await read_body(request, SandboxBody)
    raw_id = request.match_info["order_id"]
    async with svc.pool.acquire() as conn:
        owner = await conn.fetchval("SELECT user_id FROM recharge_orders WHERE id::text = $1", raw_id)
    if owner is None or owner != current_user(request).user_id:
        raise not_found("Order")
    event_type = {"succeeded": "payment_intent.succeeded", "failed": "payment_intent.payment_failed",
                  "refunded": "charge.refunded"}[body.outcome]  # fmt: skip
    event = {"id": f"evt_sandbox_{uuid.uuid4().hex}", "type": event_type,
             "data": {"object": {"id": f"pi_sandbox_{raw_id}", "metadata": {"order_id": raw_id}}}}  # fmt: skip
    raw = msgspec.json.encode(event)
    header = signature_header(svc.config.payment_webhook_secret, int(time.time()), raw)
    if not svc.config.payment_webhook_secret:
        raise DomainError("payments_unavailable", "No webhook secret configured.", status=503)
    return ok(await actions.do_handle_event(svc, "sandbox", raw, header))
