"""`/api/v1` routes of campaigns (issue 14 §5, docs/progression.md "Campaigns"): the public list, a
campaign with the caller's progress, its results, and the staff editor (`catalog.manage`, audited)."""

from __future__ import annotations

from typing import Literal

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.progression import campaigns
from engine.progression.campaigns_model import CampaignBody, CampaignPatch
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import authenticate, bearer_token, caller_id, permission_required
from httpapi.common import path_id, read_body, read_body_and_keys, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


class PageQuery(msgspec.Struct):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class AdminQuery(msgspec.Struct):
    state: Literal["draft", "active", "closed", "cancelled"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


async def _viewer(request: web.Request) -> int | None:
    """The caller when a token is sent (a bad one is a 401, not an anonymous read)."""
    return (await authenticate(request)).user_id if bearer_token(request) is not None else None


@routes.api("GET", "/api/v1/campaigns", summary="Running and upcoming campaigns, soonest start first.",
            query=PageQuery, response=schemas.CampaignPage)  # fmt: skip
async def list_campaigns(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await campaigns.list_campaigns(request.app[SERVICES], q.cursor, q.limit))


@routes.api("GET", "/api/v1/campaigns/{id}", summary="A campaign (not a draft), with your progress (`me`) when "
            "signed in.", response=schemas.CampaignDetail, errors=(401, 404))  # fmt: skip
async def get_campaign(request: web.Request) -> web.Response:
    campaign_id = path_id(request, what="Campaign")
    viewer = await _viewer(request)
    return ok(await campaigns.campaign(request.app[SERVICES], campaign_id, viewer))


@routes.api("GET", "/api/v1/campaigns/{id}/results", summary="A campaign's standings (live while it runs, final "
            "once closed) with each outcome and the reward paid.", query=PageQuery,
            response=schemas.CampaignResults, errors=(404,))  # fmt: skip
async def results(request: web.Request) -> web.Response:
    campaign_id = path_id(request, what="Campaign")
    q = read_query(request, PageQuery)
    return ok(await campaigns.results(request.app[SERVICES], campaign_id, q.cursor, q.limit))


@routes.api("GET", "/api/v1/admin/campaigns", summary="Every campaign (of a state), newest first (staff, "
            "`catalog.manage`).", query=AdminQuery, response=schemas.AdminCampaignPage)  # fmt: skip
@permission_required("catalog.manage")
async def admin_list(request: web.Request) -> web.Response:
    q = read_query(request, AdminQuery)
    return ok(await campaigns.admin_list(request.app[SERVICES], q.state, q.cursor, q.limit))


@routes.api("POST", "/api/v1/admin/campaigns", summary="Create a campaign, as a draft or active (staff, "
            "`catalog.manage`; audited; 409 `campaign_code_taken`).", body=CampaignBody,
            response=schemas.AdminCampaign, status=201, errors=(409,))  # fmt: skip
@permission_required("catalog.manage")
async def create(request: web.Request) -> web.Response:
    body = await read_body(request, CampaignBody)
    return ok(await campaigns.create_campaign(request.app[SERVICES], caller_id(request), body, request.remote), 201)


@routes.api("PATCH", "/api/v1/admin/campaigns/{id}", summary="Change a campaign: the fields sent (staff, "
            "`catalog.manage`; audited). A running one takes only title, description, ends_at, budget_coins "
            "and `state: cancelled` (409 `campaign_running`); a closed or cancelled one nothing (409 "
            "`campaign_ended`).", body=CampaignPatch, response=schemas.AdminCampaign,
            errors=(404, 409))  # fmt: skip
@permission_required("catalog.manage")
async def update(request: web.Request) -> web.Response:
    campaign_id = path_id(request, what="Campaign")
    body, sent = await read_body_and_keys(request, CampaignPatch)
    return ok(await campaigns.update_campaign(request.app[SERVICES], caller_id(request), campaign_id, body, sent,
                                              request.remote))  # fmt: skip
