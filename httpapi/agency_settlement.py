"""`/api/v1` routes of the month-end settlement (issue 13 §3, docs/agency.md "Month-end
settlement"): staff holding `agencies.review` read each month's run (its state and totals); an
agency's owner and admins (and staff) read its members' settlement rows. Cursor pages, newest first."""

from __future__ import annotations

from aiohttp import web

from engine.agency import settlement
from engine.agency.settlement_model import SettlementsQuery
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import agency_id, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/admin/agency-settlements", summary="The month-end settlement runs, newest month first "
            "(`month`: one business month, YYYY-MM): state (running, closed) and what each paid.",
            query=SettlementsQuery, response=schemas.AgencySettlementRunPage)  # fmt: skip
@permission_required("agencies.review")
async def admin_runs(request: web.Request) -> web.Response:
    return ok(await settlement.admin_runs(request.app[AGENCIES], read_query(request, SettlementsQuery)))


@routes.api("GET", "/api/v1/agencies/{id}/settlements", summary="What the agency's members were paid per month "
            "(final settlements of leavers and the month ends), newest first: for the owner, the agency's admins "
            "and staff.", query=SettlementsQuery, response=schemas.AgencyMemberSettlementPage,
            errors=(403, 404))  # fmt: skip
@login_required
async def agency_settlements(request: web.Request) -> web.Response:
    q = read_query(request, SettlementsQuery)
    agency = agency_id(request)
    return ok(await settlement.agency_settlements(request.app[AGENCIES], caller_id(request), agency, q))
