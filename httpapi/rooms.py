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
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_body, read_body_and_keys, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response, ok

routes = ApiRoutes()


class BanBody(msgspec.Struct):
    user_id: Annotated[int, msgspec.Meta(ge=1)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=365 * 24 * 60)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=255)] | None = None


class AdminBody(msgspec.Struct):
    user_id: Annotated[int, msgspec.Meta(ge=1)]


class CloseBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=64)] = "closed_by_owner"


class LegacyRoomsQuery(msgspec.Struct):
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class RoomsQuery(msgspec.Struct):
    search: str | None = None
    """Matches the name (only its first 64 characters are used)."""
    category: str | None = None
    country: str | None = None
    """A two-letter country code (case-insensitive)."""
    tag: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    offset: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 0


def _legacy(room: dict[str, object]) -> dict[str, object]:
    """Legacy shape: the room plus `user{id,name,signature,avatar_image}` (balances are not exposed)."""
    return {k: v for k, v in room.items() if k not in {"live_members", "has_password", "is_closed", "closed_at"}}


@routes.api("GET", "/api/rooms", summary="Rooms, live ones first (legacy).", query=LegacyRoomsQuery,
            response=list[schemas.LegacyRoomListing])  # fmt: skip
async def legacy_rooms(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    q = read_query(request, LegacyRoomsQuery)
    rooms = await profiles.list_rooms(svc, search=None, category=None, country=None, tag=None, limit=q.limit,
                                      offset=q.offset)  # fmt: skip
    return json_response([_legacy(r) for r in rooms])


@routes.api("GET", "/api/room/{id}/view", summary="One room (legacy).", response=schemas.LegacyRoomListing)
async def legacy_room_view(request: web.Request) -> web.Response:
    room = await profiles.get_room_json(request.app[SERVICES], path_id(request, what="Room"))
    return json_response(_legacy(room))


@routes.api("GET", "/api/v1/rooms", summary="Rooms, live ones first, filtered.", query=RoomsQuery,
            response=list[schemas.Room])  # fmt: skip
async def list_rooms(request: web.Request) -> web.Response:
    q = read_query(request, RoomsQuery)
    rooms = await profiles.list_rooms(
        request.app[SERVICES], search=(q.search or "")[:64] or None, category=q.category or None,
        country=(q.country or "").lower()[:2] or None, tag=q.tag or None, limit=q.limit, offset=q.offset,
    )  # fmt: skip
    return ok(rooms)


@routes.api(
    "POST",
    "/api/v1/rooms",
    summary="Create the caller's room.",
    body=profiles.RoomFields,
    response=schemas.Room,
    status=201,
    errors=(409,),
)
@login_required
async def create_room(request: web.Request) -> web.Response:
    body, keys = await read_body_and_keys(request, profiles.RoomFields)
    return ok(await profiles.do_create(request.app[SERVICES], caller_id(request), body, keys), 201)


@routes.api("GET", "/api/v1/rooms/{id}", summary="One room.", response=schemas.Room)
async def get_room(request: web.Request) -> web.Response:
    return ok(await profiles.get_room_json(request.app[SERVICES], path_id(request, what="Room")))


@routes.api(
    "PATCH",
    "/api/v1/rooms/{id}",
    summary="Change a room (owner); only the sent fields change.",
    body=profiles.RoomFields,
    response=schemas.Room,
    errors=(403, 409),
)
@login_required
async def update_room(request: web.Request) -> web.Response:
    body, keys = await read_body_and_keys(request, profiles.RoomFields)
    room_id = path_id(request, what="Room")
    return ok(await profiles.do_update(request.app[ROOMS], caller_id(request), room_id, body, keys))


@routes.api(
    "POST",
    "/api/v1/rooms/{id}/close",
    summary="Close a room (owner).",
    body=CloseBody,
    response=schemas.RoomClosed,
    errors=(403,),
)
@login_required
async def close_room(request: web.Request) -> web.Response:
    body = await read_body(request, CloseBody)
    room_id = path_id(request, what="Room")
    await moderation.do_close(request.app[ROOMS], room_id, caller_id(request), body.reason)
    return ok({"id": room_id, "is_closed": True})


@routes.api("GET", "/api/v1/rooms/{id}/admins", summary="The room's admins.", response=list[schemas.RoomAdmin])
@login_required
async def list_admins(request: web.Request) -> web.Response:
    room_id = path_id(request, what="Room")
    async with request.app[SERVICES].pool.acquire() as conn:
        return ok(await store.list_admins(conn, room_id))


@routes.api(
    "POST",
    "/api/v1/rooms/{id}/admins",
    summary="Name a room admin (owner).",
    body=AdminBody,
    response=schemas.RoomAdminChange,
    errors=(403,),
)
@login_required
async def add_admin(request: web.Request) -> web.Response:
    body = await read_body(request, AdminBody)
    room_id = path_id(request, what="Room")
    await profiles.do_set_admin(request.app[SERVICES], caller_id(request), room_id, body.user_id, grant=True)
    return ok({"room_id": room_id, "user_id": body.user_id, "admin": True})


@routes.api(
    "DELETE",
    "/api/v1/rooms/{id}/admins/{user_id}",
    summary="Remove a room admin (owner).",
    response=schemas.RoomAdminChange,
    errors=(403,),
)
@login_required
async def remove_admin(request: web.Request) -> web.Response:
    room_id, user_id = path_id(request, what="Room"), path_id(request, "user_id")
    await profiles.do_set_admin(request.app[SERVICES], caller_id(request), room_id, user_id, grant=False)
    return ok({"room_id": room_id, "user_id": user_id, "admin": False})


@routes.api(
    "GET",
    "/api/v1/rooms/{id}/bans",
    summary="The room's active bans (admins).",
    response=list[schemas.RoomBan],
    errors=(403,),
)
@login_required
async def list_bans(request: web.Request) -> web.Response:
    room_id = path_id(request, what="Room")
    svc = request.app[SERVICES]
    if await rank_of(svc, room_id, caller_id(request)) < Rank.ADMIN:
        raise forbidden()
    async with svc.pool.acquire() as conn:
        return ok(await store.list_bans(conn, room_id))


@routes.api(
    "POST",
    "/api/v1/rooms/{id}/bans",
    summary="Ban a user from the room (moderators).",
    body=BanBody,
    response=schemas.BanCreated,
    status=201,
    errors=(403,),
)
@login_required
async def add_ban(request: web.Request) -> web.Response:
    body = await read_body(request, BanBody)
    room_id = path_id(request, what="Room")
    ban_id = await moderation.do_ban(request.app[ROOMS], room_id, caller_id(request), body.user_id,
                                     body.minutes, body.reason)  # fmt: skip
    return ok({"id": ban_id, "room_id": room_id, "user_id": body.user_id}, 201)


@routes.api(
    "DELETE",
    "/api/v1/rooms/{id}/bans/{user_id}",
    summary="Lift a ban (admins).",
    response=schemas.BanLifted,
    errors=(403,),
)
@login_required
async def lift_ban(request: web.Request) -> web.Response:
    room_id, user_id = path_id(request, what="Room"), path_id(request, "user_id")
    lifted = await moderation.do_unban(request.app[ROOMS], room_id, caller_id(request), user_id)
    return ok({"room_id": room_id, "user_id": user_id, "lifted": lifted})
