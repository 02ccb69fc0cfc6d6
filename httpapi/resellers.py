"""Legacy reseller and coin-request routes, plus the decision route the legacy web form had."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.accounts.model import iso_timestamp
from engine.appkeys import SERVICES
from engine.resellers import actions
from httpapi.auth import current_user, login_required
from httpapi.common import path_id, read_body
from httpapi.responses import json_response

routes = web.RouteTableDef()


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "created_at": iso_timestamp(row["created_at"]), "updated_at": iso_timestamp(row["updated_at"])}


@routes.get("/api/coin-resellers")
@login_required
async def coin_resellers(request: web.Request) -> web.Response:
    return json_response(await actions.resellers(request.app[SERVICES]))


@routes.post("/api/coin-requests/{user}")
@login_required
async def create_request(request: web.Request) -> web.Response:
    body = await read_body(request, actions.CoinRequestBody)
    supplier = path_id(request, "user")
    row = await actions.do_create(request.app[SERVICES], current_user(request).user_id, supplier, body)
    return json_response(_json(row))


@routes.get("/api/coin-requests/{id}/show")
@login_required
async def show_request(request: web.Request) -> web.Response:
    row = await actions.get_request(
        request.app[SERVICES], current_user(request).user_id, path_id(request, what="CoinRequest")
    )
    return json_response(_json(row))


@routes.patch("/api/coin-requests/{id}/update")
@login_required
async def decide_request(request: web.Request) -> web.Response:
    body = await read_body(request, actions.DecisionBody)
    row = await actions.do_decide(request.app[SERVICES], current_user(request).user_id,
                                  path_id(request, what="CoinRequest"), body)  # fmt: skip
    return json_response(_json(row))
