"""Legacy reseller and coin-request routes, plus the decision route the legacy web form had."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.accounts.model import iso_timestamp
from engine.appkeys import SERVICES
from engine.resellers import actions
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_body
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response

routes = ApiRoutes()


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "created_at": iso_timestamp(row["created_at"]), "updated_at": iso_timestamp(row["updated_at"])}


@routes.api(
    "GET", "/api/coin-resellers", summary="Users who sell coins, with their balance.", response=list[schemas.Reseller]
)
@login_required
async def coin_resellers(request: web.Request) -> web.Response:
    return json_response(await actions.resellers(request.app[SERVICES]))


@routes.api(
    "POST",
    "/api/coin-requests/{user}",
    summary="Ask a reseller (`user`) for coins.",
    body=actions.CoinRequestBody,
    response=schemas.CoinRequest,
    errors=(403, 409),
)
@login_required
async def create_request(request: web.Request) -> web.Response:
    body = await read_body(request, actions.CoinRequestBody)
    supplier = path_id(request, "user")
    row = await actions.do_create(request.app[SERVICES], caller_id(request), supplier, body)
    return json_response(_json(row))


@routes.api(
    "GET",
    "/api/coin-requests/{id}/show",
    summary="One coin request (its requester or supplier).",
    response=schemas.CoinRequest,
)
@login_required
async def show_request(request: web.Request) -> web.Response:
    row = await actions.get_request(request.app[SERVICES], caller_id(request), path_id(request, what="CoinRequest"))
    return json_response(_json(row))


@routes.api(
    "PATCH",
    "/api/coin-requests/{id}/update",
    summary="Approve or reject a coin request (its supplier).",
    body=actions.DecisionBody,
    response=schemas.CoinRequest,
    errors=(403, 409),
)
@login_required
async def decide_request(request: web.Request) -> web.Response:
    body = await read_body(request, actions.DecisionBody)
    row = await actions.do_decide(request.app[SERVICES], caller_id(request),
                                  path_id(request, what="CoinRequest"), body)  # fmt: skip
    return json_response(_json(row))
