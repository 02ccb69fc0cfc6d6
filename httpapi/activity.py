"""`/api/v1` activity routes (issue 12 §7): a user's activity log, newest first in cursor pages
(`?kind=&cursor=&limit=`), and their stats. Their `activity` privacy setting governs both; a user
the caller may not see answers 404 like a missing one (engine/activity/actions.py)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from engine.activity import actions
from engine.activity.model import FeedKind
from engine.appkeys import SERVICES
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import path_id, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class ActivityQuery(msgspec.Struct):
    kind: FeedKind | None = None
    """Only this kind."""
    cursor: Cursor | None = None
    """The `next_cursor` of the previous page."""
    limit: Limit = DEFAULT_LIMIT


@routes.api("GET", "/api/v1/users/{id}/activity", summary="What the user did, newest first (their privacy "
            "applies).", query=ActivityQuery, response=schemas.ActivityPage)  # fmt: skip
@login_required
async def activity(request: web.Request) -> web.Response:
    q = read_query(request, ActivityQuery)
    viewer = caller_id(request)
    return ok(await actions.activity_page(request.app[SERVICES], viewer, path_id(request), q.kind, q.cursor,
                                          q.limit))  # fmt: skip


@routes.api("GET", "/api/v1/users/{id}/stats", summary="The user's totals: rooms visited, minutes on mic, gifts "
            "sent and received in coins, the followers trend by week (their activity privacy applies).",
            response=schemas.UserStats)  # fmt: skip
@login_required
async def stats(request: web.Request) -> web.Response:
    return ok(await actions.stats(request.app[SERVICES], caller_id(request), path_id(request)))
