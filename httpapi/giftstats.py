"""`/api/v1` routes of gift statistics and profile appreciation likes (issue 14 §5; docs/progression.md
"Gift statistics and appreciation")."""

from __future__ import annotations

from aiohttp import web

from engine.appkeys import NOTIFICATIONS, SERVICES
from engine.progression import appreciation, giftstats
from engine.progression.giftstats_model import StatsQuery
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/me/gifts/stats", summary="Your gift statistics for one business period to date "
            "(`day`, `week` from Monday, `month`, `all`; in `tz`, default the business time zone): sent and "
            "received by gift, your top gifters and top recipients by coins (`limit` each, default 10, at most "
            "50; a user blocked either way is shown hidden), and coins per business day (all: the last 30 days).",
            query=StatsQuery, response=schemas.GiftStats)  # fmt: skip
@login_required
async def my_gift_stats(request: web.Request) -> web.Response:
    q = read_query(request, StatsQuery)
    return ok(await giftstats.gift_stats(request.app[SERVICES], caller_id(request), q))


@routes.api("POST", "/api/v1/users/{id}/appreciate", summary="Appreciate a user's profile: once per user per "
            "business day (409 `already_appreciated` again the same day; 403 on your own profile). The user is "
            "notified (kind `appreciation`, once until read per liker).", response=schemas.Appreciations,
            status=201, errors=(403, 404, 409, 429))  # fmt: skip
@login_required
async def appreciate(request: web.Request) -> web.Response:
    body = await appreciation.do_appreciate(request.app[SERVICES], request.app[NOTIFICATIONS], caller_id(request),
                                            path_id(request))  # fmt: skip
    return ok(body, status=201)


@routes.api("GET", "/api/v1/users/{id}/appreciations", summary="A user's appreciation likes: all time, this "
            "business day, and whether you appreciated them today.", response=schemas.Appreciations,
            errors=(404,))  # fmt: skip
@login_required
async def appreciations(request: web.Request) -> web.Response:
    return ok(await appreciation.appreciations(request.app[SERVICES], caller_id(request), path_id(request)))
