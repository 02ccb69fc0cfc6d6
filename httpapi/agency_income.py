"""`/api/v1` routes of a member's agency income (issue 13 §3, docs/agency.md "Member income, targets
and salary exchange"): My Income, the salary exchange, the admin's targets and an agency's share."""

from __future__ import annotations

from aiohttp import web

from engine.agency import income, income_targets
from engine.agency.member_income_model import ExchangeBody, IncomeQuery, ShareBody, TargetsBody
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import agency_id, client_of, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/me/income", summary="My Income: one business month (default the current one, never "
            "the future) in the agency you were in then: the month's target rewards (estimated until settled), "
            "surplus salary, exchanged this month, coins, valid hours, targets with progress, the daily table. "
            "403 when you are in no agency.", query=IncomeQuery, response=schemas.MemberIncome,
            errors=(403,))  # fmt: skip
@login_required
async def my_income(request: web.Request) -> web.Response:
    q = read_query(request, IncomeQuery)
    return ok(await income.my_income(request.app[AGENCIES], caller_id(request), q.month))


@routes.api("POST", "/api/v1/me/income/exchange", summary="Exchange surplus USD salary for coins at "
            "`salary_coins_per_usd` (current and former agency members; 409 \"Insufficient surplus salary "
            "available.\"; a replayed idempotency key returns the first result; SALARY_EXCHANGE_RATE_LIMIT).",
            body=ExchangeBody, response=schemas.SalaryExchanged, errors=(403, 409, 429))  # fmt: skip
@login_required
async def exchange(request: web.Request) -> web.Response:
    body = await read_body(request, ExchangeBody)
    return ok(await income.do_exchange(request.app[AGENCIES], caller_id(request), body, client_of(request).ip))


@routes.api("GET", "/api/v1/admin/agency-targets", summary="The active monthly coin targets (staff).",
            response=schemas.AgencyTargets)  # fmt: skip
@permission_required("settings.manage")
async def get_targets(request: web.Request) -> web.Response:
    return ok(await income_targets.targets(request.app[AGENCIES]))


@routes.api("PUT", "/api/v1/admin/agency-targets", summary="Replace the active monthly coin targets (staff): 1 to "
            "10, with distinct coins in increasing order.", body=TargetsBody,
            response=schemas.AgencyTargets)  # fmt: skip
@permission_required("settings.manage")
async def put_targets(request: web.Request) -> web.Response:
    body = await read_body(request, TargetsBody)
    return ok(await income_targets.do_replace_targets(request.app[AGENCIES], caller_id(request), body,
                                                      client_of(request).ip))  # fmt: skip


@routes.api("PUT", "/api/v1/admin/agencies/{id}/share", summary="Set an agency's share (ASP, basis points) within "
            "`agency_share_max_bps` (staff reviewing agencies); null: back to `agency_share_default_bps`.",
            body=ShareBody, response=schemas.AgencyShare, errors=(404,))  # fmt: skip
@permission_required("agencies.review")
async def put_share(request: web.Request) -> web.Response:
    body = await read_body(request, ShareBody)
    agency = agency_id(request)
    return ok(await income_targets.do_set_share(request.app[AGENCIES], caller_id(request), agency, body,
                                                client_of(request).ip))  # fmt: skip
