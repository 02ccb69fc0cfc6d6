"""Legacy frame routes (`/api/frame/…`) and the v1 mall for every category."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.errors import not_found
from engine.mall import actions
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_body
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response, ok

routes = ApiRoutes()
Category = Literal["frame", "theme", "entry_effect"]
CATEGORIES = get_args(Category)


class PurchaseBody(msgspec.Struct):
    idempotency_key: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")] | None = None


@routes.api("GET", "/api/frame/all", summary="Every frame on sale.", response=list[schemas.MallItem])
@login_required
async def all_frames(request: web.Request) -> web.Response:
    return json_response(await actions.list_items(request.app[SERVICES], "frame"))


@routes.api("GET", "/api/frame/my-frames", summary="The caller's frames.", response=list[schemas.OwnedItem])
@login_required
async def my_frames(request: web.Request) -> web.Response:
    return json_response(await actions.my_items(request.app[SERVICES], caller_id(request), "frame"))


@routes.api(
    "POST",
    "/api/frame/{id}/purchase",
    summary="Buy a frame with coins.",
    body=PurchaseBody,
    response=schemas.Purchased,
    errors=(403, 409),
)
@login_required
async def purchase_frame(request: web.Request) -> web.Response:
    body = await read_body(request, PurchaseBody)
    item_id = path_id(request, what="Frame")
    result = await actions.do_purchase(request.app[SERVICES], caller_id(request), item_id, "frame",
                                       body.idempotency_key)  # fmt: skip
    return json_response(result)


@routes.api("POST", "/api/frame/{id}/activate", summary="Wear an owned frame.", response=schemas.Message)
@login_required
async def activate_frame(request: web.Request) -> web.Response:
    item_id = path_id(request, what="Frame")
    return json_response(await actions.do_activate(request.app[SERVICES], caller_id(request), item_id, "frame"))


def _category(request: web.Request) -> str:
    category = request.match_info["category"]
    if category not in CATEGORIES:
        raise not_found("Category")
    return category


@routes.api(
    "GET",
    "/api/v1/mall/{category}",
    summary="Items on sale in a category.",
    response=list[schemas.MallItem],
    params={"category": Category},
)
async def mall_items(request: web.Request) -> web.Response:
    return ok(await actions.list_items(request.app[SERVICES], _category(request)))


@routes.api(
    "POST",
    "/api/v1/mall/{category}/{id}/purchase",
    summary="Buy an item with coins.",
    body=PurchaseBody,
    response=schemas.Purchased,
    errors=(403, 409),
    params={"category": Category},
)
@login_required
async def purchase(request: web.Request) -> web.Response:
    body = await read_body(request, PurchaseBody)
    result = await actions.do_purchase(request.app[SERVICES], caller_id(request), path_id(request),
                                       _category(request), body.idempotency_key)  # fmt: skip
    return ok(result)


@routes.api(
    "POST",
    "/api/v1/mall/{category}/{id}/activate",
    summary="Use an owned item.",
    response=schemas.Message,
    params={"category": Category},
)
@login_required
async def activate(request: web.Request) -> web.Response:
    user_id = caller_id(request)
    return ok(await actions.do_activate(request.app[SERVICES], user_id, path_id(request), _category(request)))
