"""Legacy frame routes (`/api/frame/…`) and the v1 mall for every category."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.errors import not_found
from engine.mall import actions
from httpapi.auth import current_user, login_required
from httpapi.common import path_id, read_body
from httpapi.responses import json_response, ok

routes = web.RouteTableDef()
CATEGORIES = ("frame", "theme", "entry_effect")


class PurchaseBody(msgspec.Struct):
    idempotency_key: Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")] | None = None


@routes.get("/api/frame/all")
@login_required
async def all_frames(request: web.Request) -> web.Response:
    return json_response(await actions.list_items(request.app[SERVICES], "frame"))


@routes.get("/api/frame/my-frames")
@login_required
async def my_frames(request: web.Request) -> web.Response:
    return json_response(await actions.my_items(request.app[SERVICES], current_user(request).user_id, "frame"))


@routes.post("/api/frame/{id}/purchase")
@login_required
async def purchase_frame(request: web.Request) -> web.Response:
    body = await read_body(request, PurchaseBody)
    item_id = path_id(request, what="Frame")
    result = await actions.do_purchase(request.app[SERVICES], current_user(request).user_id, item_id, "frame",
                                       body.idempotency_key)  # fmt: skip
    return json_response(result)


@routes.post("/api/frame/{id}/activate")
@login_required
async def activate_frame(request: web.Request) -> web.Response:
    item_id = path_id(request, what="Frame")
    return json_response(
        await actions.do_activate(request.app[SERVICES], current_user(request).user_id, item_id, "frame")
    )


def _category(request: web.Request) -> str:
    category = request.match_info["category"]
    if category not in CATEGORIES:
        raise not_found("Category")
    return category


@routes.get("/api/v1/mall/{category}")
async def mall_items(request: web.Request) -> web.Response:
    return ok(await actions.list_items(request.app[SERVICES], _category(request)))


@routes.post("/api/v1/mall/{category}/{id}/purchase")
@login_required
async def purchase(request: web.Request) -> web.Response:
    body = await read_body(request, PurchaseBody)
    result = await actions.do_purchase(request.app[SERVICES], current_user(request).user_id, path_id(request),
                                       _category(request), body.idempotency_key)  # fmt: skip
    return ok(result)


@routes.post("/api/v1/mall/{category}/{id}/activate")
@login_required
async def activate(request: web.Request) -> web.Response:
    user_id = current_user(request).user_id
    return ok(await actions.do_activate(request.app[SERVICES], user_id, path_id(request), _category(request)))
