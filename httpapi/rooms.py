"""Room REST: the legacy listing and view, and `/api/v1/rooms` create/update/close, admins, bans."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from engine.appkeys import ROOMS, SERVICES
from engine.errors import forbidden
from engine.rooms import moderation, profiles, store
from engine.rooms.model import Rank
from engine.rooms.roles import rank_of
from httpapi.auth import current_user, login_required
from httpapi.common import path_id, query_int, read_body, read_body_and_keys
from httpapi.responses import json_response, ok

routes = web.RouteTableDef()


class BanBody(msgspec.Struct):
    user_id: Annotated[int, msgspec.Meta(ge=1)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=365 * 24 * 60)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class AdminBody(msgspec.Struct):
    user_id: Annotated[int, msgspec.Meta(ge=1)]


class CloseBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=64)] = "closed_by_owner"


def _legacy(room: dict[str, object]) -> dict[str, object]:
    """Legacy shape: the room plus `user{id,name,signature,avatar_image}` (balances are not exposed)."""
    return {k: v for k, v in room.items() if k not in {"live_members", "has_password", "is_closed", "closed_at"}}


@routes.get("/api/rooms")
async def legacy_rooms(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    limit = query_int(request, "limit", 100, 1, 500)
    offset = query_int(request, "offset", 0, 0, 1_000_000)
    rooms = await profiles.list_rooms(svc, search=None, category=None, country=None, tag=None, limit=limit,
                                      offset=offset)  # fmt: skip
    return json_response([_legacy(r) for r in rooms])


@routes.get("/api/room/{id}/view")
async def legacy_room_view(request: web.Request) -> web.Response:
    room = await profiles.get_room_json(request.app[SERVICES], path_id(request, what="Room"))
    return json_response(_legacy(room))


@routes.get("/api/v1/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    q = request.query
    rooms = await profiles.list_rooms(
        request.app[SERVICES], search=(q.get("search") or None) and q["search"][:64],
        category=q.get("category") or None, country=(q.get("country") or "").lower()[:2] or None,
        tag=q.get("tag") or None, limit=query_int(request, "limit", 20, 1, 100),
        offset=query_int(request, "offset", 0, 0, 100_000),
    )  # fmt: skip
    return ok(rooms)


@routes.post("/api/v1/rooms")
@login_required
async def create_room(request: web.Request) -> web.Response:
    body, keys = await read_body_and_keys(request, profiles.RoomFields)
    return ok(await profiles.do_create(request.app[SERVICES], current_user(request).user_id, body, keys), 201)


@routes.get("/api/v1/rooms/{id}")
async def get_room(request: web.Request) -> web.Response:
    return ok(await profiles.get_room_json(request.app[SERVICES], path_id(request, what="Room")))


@routes.patch("/api/v1/rooms/{id}")
@login_required
async def update_room(request: web.Request) -> web.Response:
    body, keys = await read_body_and_keys(request, profiles.RoomFields)
    room_id = path_id(request, what="Room")
    return ok(await profiles.do_update(request.app[ROOMS], current_user(request).user_id, room_id, body, keys))


@routes.post("/api/v1/rooms/{id}/close")
@login_required
async def close_room(request: web.Request) -> web.Response:
    body = await read_body(request, CloseBody)
    room_id = path_id(request, what="Room")
    await moderation.do_close(request.app[ROOMS], room_id, current_user(request).user_id, body.reason)
    return ok({"id": room_id, "is_closed": True})


@routes.get("/api/v1/rooms/{id}/admins")
@login_required
async def list_admins(request: web.Request) -> web.Response:
    room_id = path_id(request, what="Room")
    async with request.app[SERVICES].pool.acquire() as conn:
        return ok(await store.list_admins(conn, room_id))


@routes.post("/api/v1/rooms/{id}/admins")
@login_required
async def add_admin(request: web.Request) -> web.Response:
    body = await read_body(request, AdminBody)
    room_id = path_id(request, what="Room")
    await profiles.do_set_admin(request.app[SERVICES], current_user(request).user_id, room_id, body.user_id, grant=True)
    return ok({"room_id": room_id, "user_id": body.user_id, "admin": True})


@routes.delete("/api/v1/rooms/{id}/admins/{user_id}")
@login_required
async def remove_admin(request: web.Request) -> web.Response:
    room_id, user_id = path_id(request, what="Room"), path_id(request, "user_id")
    await profiles.do_set_admin(request.app[SERVICES], current_user(request).user_id, room_id, user_id, grant=False)
    return ok({"room_id": room_id, "user_id": user_id, "admin": False})


@routes.get("/api/v1/rooms/{id}/bans")
@login_required
async def list_bans(request: web.Request) -> web.Response:
    room_id = path_id(request, what="Room")
    svc = request.app[SERVICES]
    if await rank_of(svc, room_id, current_user(request).user_id) < Rank.ADMIN:
        raise forbidden()
    async with svc.pool.acquire() as conn:
        return ok(await store.list_bans(conn, room_id))


@routes.post("/api/v1/rooms/{id}/bans")
@login_required
async def add_ban(request: web.Request) -> web.Response:
    body = await read_body(request, BanBody)
    room_id = path_id(request, what="Room")
    ban_id = await moderation.do_ban(request.app[ROOMS], room_id, current_user(request).user_id, body.user_id,
                                     body.minutes, body.reason)  # fmt: skip
    return ok({"id": ban_id, "room_id": room_id, "user_id": body.user_id}, 201)


@routes.delete("/api/v1/rooms/{id}/bans/{user_id}")
@login_required
async def lift_ban(request: web.Request) -> web.Response:
    room_id, user_id = path_id(request, what="Room"), path_id(request, "user_id")
    lifted = await moderation.do_unban(request.app[ROOMS], room_id, current_user(request).user_id, user_id)
    return ok({"room_id": room_id, "user_id": user_id, "lifted": lifted})
