"""`/api/v1` notification routes (issue 12 §5): one's stored notifications, newest first in cursor
pages (`?cursor=&limit=`), marking them read, the unread count, and which kinds one gets."""

from __future__ import annotations

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.notifications import actions
from engine.notifications.model import Preferences, PreferencesBody, ReadBody
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class NotificationsQuery(msgspec.Struct):
    unread: bool = False
    """Only the unread ones."""
    cursor: Cursor | None = None
    """The `next_cursor` of the previous page."""
    limit: Limit = DEFAULT_LIMIT


@routes.api("GET", "/api/v1/me/notifications", summary="Your notifications, newest first.",
            query=NotificationsQuery, response=schemas.NotificationPage)  # fmt: skip
@login_required
async def notifications(request: web.Request) -> web.Response:
    q = read_query(request, NotificationsQuery)
    return ok(await actions.list_page(request.app[SERVICES], caller_id(request), unread=q.unread, cursor=q.cursor,
                                      limit=q.limit))  # fmt: skip


@routes.api("POST", "/api/v1/me/notifications/read", summary="Mark notifications read: `{ids: [...]}` (up to "
            "100; ids not yours are ignored) or `{all: true}`.", body=ReadBody,
            response=schemas.NotificationsRead)  # fmt: skip
@login_required
async def mark_read(request: web.Request) -> web.Response:
    body = await read_body(request, ReadBody)
    return ok(await actions.mark_read(request.app[SERVICES], caller_id(request), body))


@routes.api("GET", "/api/v1/me/notifications/unread-count", summary="How many of your notifications are unread.",
            response=schemas.UnreadCount)  # fmt: skip
@login_required
async def unread_count(request: web.Request) -> web.Response:
    return ok(await actions.unread_count(request.app[SERVICES], caller_id(request)))


@routes.api("GET", "/api/v1/me/notification-preferences", summary="Which kinds of notification you get.",
            response=Preferences)  # fmt: skip
@login_required
async def preferences(request: web.Request) -> web.Response:
    return ok(await actions.get_preferences(request.app[SERVICES], caller_id(request)))


@routes.api("PATCH", "/api/v1/me/notification-preferences", summary="Switch kinds of notification on or off "
            "(those sent; a kind off is neither stored nor pushed).", body=PreferencesBody,
            response=Preferences)  # fmt: skip
@login_required
async def update_preferences(request: web.Request) -> web.Response:
    body = await read_body(request, PreferencesBody)
    return ok(await actions.update_preferences(request.app[SERVICES], caller_id(request), body))
