"""`/api/v1` routes of badges (issue 14 §2, docs/progression.md "Badges"): the catalog, a user's
badges, what the caller wears, and the staff catalog editor (`catalog.manage`, audited)."""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.progression import badges
from engine.progression.badges_model import BadgeBody, BadgePatch, EquipBody
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import path_id, read_body, read_body_and_keys, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class CatalogQuery(msgspec.Struct):
    category: Literal["achievement", "activity", "personal", "room", "event"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


@routes.api("GET", "/api/v1/badges", summary="The badge catalog (active badges, in display order) with each "
            "badge's rule.", query=CatalogQuery, response=schemas.BadgePage)  # fmt: skip
@login_required
async def catalog(request: web.Request) -> web.Response:
    q = read_query(request, CatalogQuery)
    return ok(await badges.catalog(request.app[SERVICES], q.category, q.cursor, q.limit))


@routes.api("GET", "/api/v1/users/{id}/badges", summary="A user's badges, with which are worn (404 through a "
            "block, as the profile).", response=schemas.OwnedBadges)  # fmt: skip
@login_required
async def user_badges(request: web.Request) -> web.Response:
    return ok(await badges.user_badges(request.app[SERVICES], caller_id(request), path_id(request)))


@routes.api("PUT", "/api/v1/me/badges/equipped", summary="Wear these badges, in this order: only yours, at most "
            "`badges_equipped_max` (economy setting, default 3); [] takes them off (422 names what is wrong).",
            body=EquipBody, response=schemas.OwnedBadges)  # fmt: skip
@login_required
async def equip(request: web.Request) -> web.Response:
    body = await read_body(request, EquipBody)
    return ok(await badges.equip(request.app[SERVICES], caller_id(request), body.badge_ids))


@routes.api("POST", "/api/v1/admin/badges", summary="Create a catalog badge (staff, `catalog.manage`; audited; "
            "409 `badge_code_taken`).", body=BadgeBody, response=schemas.Badge, status=201,
            errors=(403, 409))  # fmt: skip
@permission_required("catalog.manage")
async def create(request: web.Request) -> web.Response:
    body = await read_body(request, BadgeBody)
    return ok(await badges.create_badge(request.app[SERVICES], caller_id(request), body, request.remote), 201)


@routes.api("PUT", "/api/v1/admin/badges/{id}", summary="Change a catalog badge: the fields sent (staff, "
            "`catalog.manage`; audited with before/after; the code never changes).", body=BadgePatch,
            response=schemas.Badge, errors=(403, 404))  # fmt: skip
@permission_required("catalog.manage")
async def update(request: web.Request) -> web.Response:
    badge_id = path_id(request, what="Badge")
    body, sent = await read_body_and_keys(request, BadgePatch)
    return ok(await badges.update_badge(request.app[SERVICES], caller_id(request), badge_id, body, sent,
                                        request.remote))  # fmt: skip
