"""`/api/v1` routes of agency analytics and leaderboards (issue 13 §4, docs/agency.md "Analytics and
leaderboards"): the per-day table with totals and top members, Member Active Days, the comparison
of members, the same figures as CSV (streamed, quoted by Python's csv module), and the monthly
leaderboards. Registered before httpapi/agency.py: `/api/v1/agencies/leaderboard` must not be read
as `/api/v1/agencies/{id}`."""

from __future__ import annotations

import logging

from aiohttp import web

from engine.agency import analytics, leaderboard
from engine.agency.analytics import CsvExport
from engine.agency.analytics_model import ActiveDaysQuery, CompareQuery, LeaderboardQuery, RangeQuery
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import caller_id, login_required
from httpapi.common import agency_id, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()
log = logging.getLogger("flylive.http")
_WHO = " For the agency's owner and admins, and staff."
_CSV = ("A CSV document (RFC 4180, UTF-8, CRLF line ends, a header line first), sent as an attachment "
        "and streamed line by line; refusals (403, 404, 422) are the usual JSON errors.")  # fmt: skip


async def _stream(request: web.Request, export: CsvExport) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Disposition": f'attachment; filename="{export.filename}"',
                                           "Cache-Control": "no-store"})  # fmt: skip
    response.content_type = "text/csv"
    response.charset = "utf-8"
    await response.prepare(request)
    try:
        async for line in export.lines:
            await response.write(line.encode())
    except Exception:
        # The status line went out already: a JSON error cannot follow. Cut the connection before the
        # chunked body's end, so the client sees a broken download rather than a short file.
        log.exception("CSV export failed mid-stream", extra={"path": request.path})
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


@routes.api("GET", "/api/v1/agencies/leaderboard", summary="Agencies by the coins their members earned in a "
            "business month (default: this one), most first, ties by agency id; approved, open agencies with "
            "any coins.", query=LeaderboardQuery, response=schemas.AgencyRankingPage)  # fmt: skip
@login_required
async def agencies_leaderboard(request: web.Request) -> web.Response:
    q = read_query(request, LeaderboardQuery)
    return ok(await leaderboard.agencies_board(request.app[AGENCIES], q))


@routes.api("GET", "/api/v1/agencies/{id}/leaderboard", summary="The agency's members by the coins they earned "
            "in it in a business month (default: this one), most first, ties by user id: for its members and "
            "staff.", query=LeaderboardQuery, response=schemas.AgencyMemberRankingPage,
            errors=(403, 404))  # fmt: skip
@login_required
async def agency_leaderboard(request: web.Request) -> web.Response:
    q = read_query(request, LeaderboardQuery)
    return ok(await leaderboard.agency_board(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("GET", "/api/v1/agencies/{id}/analytics", summary="The agency's figures per business day (members at "
            "the day's end, joins, leaves, coins, mic time, active members), totals and the top 10 members by "
            "coins, `from`..`to` inclusive (default the last 30 days, at most 366)." + _WHO, query=RangeQuery,
            response=schemas.AgencyAnalytics, errors=(403, 404))  # fmt: skip
@login_required
async def agency_analytics(request: web.Request) -> web.Response:
    q = read_query(request, RangeQuery)
    return ok(await analytics.analytics(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("GET", "/api/v1/agencies/{id}/analytics.csv", summary="The per-day table of the analytics as CSV "
            "(the same columns and figures)." + _WHO, query=RangeQuery, response=str, content_type="text/csv",
            enveloped=False, errors=(403, 404), description=_CSV)  # fmt: skip
@login_required
async def agency_analytics_csv(request: web.Request) -> web.StreamResponse:
    q = read_query(request, RangeQuery)
    return await _stream(request, await analytics.days_csv(request.app[AGENCIES], caller_id(request),
                                                           agency_id(request), q))  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/analytics/active-days", summary="Member Active Days: everyone who was "
            "a member during the range, most active days first (ties by user id), with coins, mic and valid "
            "time." + _WHO, query=ActiveDaysQuery, response=schemas.AgencyActiveDaysPage,
            errors=(403, 404))  # fmt: skip
@login_required
async def agency_active_days(request: web.Request) -> web.Response:
    q = read_query(request, ActiveDaysQuery)
    return ok(await analytics.active_days(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("GET", "/api/v1/agencies/{id}/analytics/members.csv", summary="Member Active Days as CSV (user_id, "
            "name, role, active_days, coins, mic_seconds, valid_seconds), every member of the range." + _WHO,
            query=RangeQuery, response=str, content_type="text/csv", enveloped=False, errors=(403, 404),
            description=_CSV)  # fmt: skip
@login_required
async def agency_members_csv(request: web.Request) -> web.StreamResponse:
    q = read_query(request, RangeQuery)
    return await _stream(request, await analytics.members_csv(request.app[AGENCIES], caller_id(request),
                                                              agency_id(request), q))  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/analytics/compare", summary="2 to 10 members side by side over the "
            "range: coins, mic and valid time, active days, coins per day. An id of someone who was not a "
            "member of the agency during the range is 404." + _WHO, query=CompareQuery,
            response=schemas.AgencyComparison, errors=(403, 404))  # fmt: skip
@login_required
async def agency_compare(request: web.Request) -> web.Response:
    q = read_query(request, CompareQuery)
    return ok(await analytics.compare(request.app[AGENCIES], caller_id(request), agency_id(request), q))
