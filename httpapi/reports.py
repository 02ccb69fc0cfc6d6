"""`/api/v1` reports and the moderation queue (issue 12 §4): filing a report, one's own reports with
what became of them, appealing an action; and for staff holding `reports.review` (moderators,
admins) the queue by priority, assigning, resolving with an action, and reviewing appeals. Lists are
cursor pages (`?cursor=&limit=`)."""

from __future__ import annotations

from aiohttp import web

from engine.appkeys import REPORTS
from engine.reports import actions, staff
from engine.reports.model import (
    AppealBody,
    AppealsQuery,
    AssignBody,
    MyReportsQuery,
    PageQuery,
    QueueQuery,
    ReportBody,
    ResolveBody,
    ReviewBody,
    SignedOutAppealBody,
)  # fmt: skip
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import client_of, path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


def _case_id(request: web.Request) -> int:
    return path_id(request, what="Report")


@routes.api("POST", "/api/v1/reports", summary="Report a user, a room, a room chat message or a direct message "
            "(10 an hour). A second report of yours on a target you reported is merged into your open report.",
            body=ReportBody, response=schemas.FiledReport, status=201, errors=(404,))  # fmt: skip
@login_required
async def file_report(request: web.Request) -> web.Response:
    body = await read_body(request, ReportBody)
    report, created = await actions.do_report(request.app[REPORTS], caller_id(request), body)
    return ok({**report, "merged": not created}, status=201)


@routes.api("GET", "/api/v1/me/reports", summary="Your reports, newest first, with their state and outcome.",
            query=MyReportsQuery, response=schemas.ReportPage)  # fmt: skip
@login_required
async def my_reports(request: web.Request) -> web.Response:
    q = read_query(request, MyReportsQuery)
    return ok(await actions.my_reports(request.app[REPORTS], caller_id(request), state=q.state, cursor=q.cursor,
                                       limit=q.limit))  # fmt: skip


@routes.api("POST", "/api/v1/reports/{id}/appeal", summary="Appeal an action taken on a report about you (`id`: "
            "the case id the notification of the action names), once, within 14 days of it.",
            body=AppealBody, response=schemas.Appeal, status=201, errors=(403, 404, 409))  # fmt: skip
@login_required
async def appeal(request: web.Request) -> web.Response:
    body = await read_body(request, AppealBody)
    return ok(await actions.do_appeal(request.app[REPORTS], caller_id(request), _case_id(request), body), status=201)


@routes.api("POST", "/api/v1/appeals", summary="Appeal without signing in, for an account that cannot (suspended "
            "or banned): `phone` and `password` prove it (login's rate limits apply); `case_id` defaults to the "
            "newest action in force against it.", body=SignedOutAppealBody, response=schemas.Appeal, status=201,
            errors=(403, 404, 409, 429))  # fmt: skip
async def signed_out_appeal(request: web.Request) -> web.Response:
    body = await read_body(request, SignedOutAppealBody)
    return ok(await actions.do_signed_out_appeal(request.app[REPORTS], body, client_of(request)), status=201)


@routes.api("GET", "/api/v1/admin/reports", summary="The moderation queue: cases by priority (automatic "
            "high-priority cases, then more reporters, then repeat offenders, then oldest).",
            query=QueueQuery, response=schemas.ModerationQueue)  # fmt: skip
@permission_required("reports.review")
async def queue(request: web.Request) -> web.Response:
    return ok(await staff.queue(request.app[REPORTS], read_query(request, QueueQuery)))


@routes.api("GET", "/api/v1/admin/reports/{id}", summary="A moderation case.", response=schemas.ModerationCase)
@permission_required("reports.review")
async def case(request: web.Request) -> web.Response:
    return ok(await staff.get_case(request.app[REPORTS], _case_id(request)))


@routes.api("GET", "/api/v1/admin/reports/{id}/reports", summary="The reports of a case, oldest first.",
            query=PageQuery, response=schemas.StaffReportPage)  # fmt: skip
@permission_required("reports.review")
async def case_reports(request: web.Request) -> web.Response:
    q = read_query(request, PageQuery)
    return ok(await staff.case_reports(request.app[REPORTS], _case_id(request), q.cursor, q.limit))


@routes.api("POST", "/api/v1/admin/reports/{id}/assign", summary="Assign an open case to a reviewer (it is then "
            "`reviewing`), or hand it back with `assignee_id: null`.", body=AssignBody,
            response=schemas.ModerationCase, errors=(404, 409))  # fmt: skip
@permission_required("reports.review")
async def assign(request: web.Request) -> web.Response:
    body = await read_body(request, AssignBody)
    return ok(await staff.do_assign(request.app[REPORTS], caller_id(request), _case_id(request), body))


@routes.api("POST", "/api/v1/admin/reports/{id}/resolve", summary="Resolve a case: warn, mute in every room for "
            "`minutes`, suspend for `minutes`, ban, delete the message, or dismiss; applied at once and audited.",
            body=ResolveBody, response=schemas.ResolvedCase, errors=(404, 409))  # fmt: skip
@permission_required("reports.review")
async def resolve(request: web.Request) -> web.Response:
    body = await read_body(request, ResolveBody)
    return ok(
        await staff.do_resolve(request.app[REPORTS], caller_id(request), _case_id(request), body, client_of(request))
    )


@routes.api("GET", "/api/v1/admin/appeals", summary="Appeals in one state (default pending), oldest first.",
            query=AppealsQuery, response=schemas.AppealPage)  # fmt: skip
@permission_required("reports.review")
async def appeals(request: web.Request) -> web.Response:
    q = read_query(request, AppealsQuery)
    return ok(await staff.appeals(request.app[REPORTS], q.state, q.cursor, q.limit))


@routes.api("POST", "/api/v1/admin/appeals/{id}/review", summary="Uphold or overturn an appeal; overturning "
            "lifts a mute, suspension or ban.", body=ReviewBody, response=schemas.ReviewedAppeal,
            errors=(404, 409))  # fmt: skip
@permission_required("reports.review")
async def review(request: web.Request) -> web.Response:
    body = await read_body(request, ReviewBody)
    appeal_id = path_id(request, what="Appeal")
    return ok(await staff.do_review(request.app[REPORTS], caller_id(request), appeal_id, body, client_of(request)))
