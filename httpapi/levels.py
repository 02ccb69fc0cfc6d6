"""`/api/v1` routes of wealth, charm and room levels (issue 14 §1, docs/progression.md "Levels"): the
ladders, the admin's ladder edit, and the caller's levels and level history."""

from __future__ import annotations

from typing import get_args

from aiohttp import web

from engine.appkeys import LEVELS
from engine.errors import not_found
from engine.progression import levels
from engine.progression.levels_model import HistoryQuery, LadderBody, LevelsQuery, LevelType
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import client_of, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


def _type(request: web.Request) -> LevelType:
    kind = request.match_info["type"]
    if kind not in get_args(LevelType):
        raise not_found("Level type")
    return kind  # type: ignore[return-value]


@routes.api("GET", "/api/v1/levels", summary="A level ladder: every level of the type (wealth: coins spent, charm: "
            "gift value received, room: coins spent in the room) with the XP it starts at and its rewards.",
            query=LevelsQuery, response=schemas.LevelLadder)  # fmt: skip
async def get_ladder(request: web.Request) -> web.Response:
    q = read_query(request, LevelsQuery)
    return ok(await levels.ladder(request.app[LEVELS], q.type))


@routes.api("PUT", "/api/v1/admin/levels/{type}", summary="Replace a type's whole ladder (staff): levels 1, 2, 3 … "
            "in order, level 1 at 0 XP, each next level at more XP; every stored level is put on the new ladder "
            "(a rise grants the new levels' rewards once, a fall is told and kept in the history).",
            body=LadderBody, response=schemas.LevelLadderReplaced, params={"type": LevelType},
            errors=(404,))  # fmt: skip
@permission_required("settings.manage")
async def put_ladder(request: web.Request) -> web.Response:
    kind = _type(request)
    body = await read_body(request, LadderBody)
    return ok(await levels.do_replace_ladder(request.app[LEVELS], caller_id(request), kind, body,
                                             client_of(request).ip))  # fmt: skip


@routes.api("GET", "/api/v1/me/levels", summary="Your wealth, charm and room levels: XP, where the level starts, "
            "the next level's threshold and the progress towards it.", response=schemas.MyLevels)  # fmt: skip
@login_required
async def my_levels(request: web.Request) -> web.Response:
    return ok(await levels.my_levels(request.app[LEVELS], caller_id(request)))


@routes.api("GET", "/api/v1/me/levels/history", summary="Your level changes (your room's too), newest first.",
            query=HistoryQuery, response=schemas.LevelChangePage)  # fmt: skip
@login_required
async def my_history(request: web.Request) -> web.Response:
    q = read_query(request, HistoryQuery)
    return ok(await levels.history(request.app[LEVELS], caller_id(request), q))
