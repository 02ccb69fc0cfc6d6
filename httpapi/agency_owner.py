"""`/api/v1` routes of the agency owner's income (issue 13 §3, docs/agency.md "Owner income, advances
and salary exchange"): the Members Income page (owner, agency admins, staff), salary advances and
Salary Exchange Requests (asked by the owner; exchanges decided by staff holding `agencies.review`).
Lists are cursor pages (`?cursor=&limit=`)."""

from __future__ import annotations

from aiohttp import web

from engine.agency import owner_income
from engine.agency.owner_model import (
    AdvanceBody,
    AdvancesQuery,
    ExchangeBody,
    ExchangeRejectBody,
    ExchangesQuery,
    IncomeQuery,
)
from engine.appkeys import AGENCIES
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import agency_id, path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/agencies/{id}/income", summary="The Members Income page of a business month (default "
            "the current one; not a future one): monthly coins, the owner's estimated salary (ASP), advances, "
            "balance, the agency's wallet, and the hosts (most coins first) with the agency's share of each. For "
            "the owner, the agency's admins and staff.", query=IncomeQuery, response=schemas.AgencyIncome,
            errors=(403, 404))  # fmt: skip
@login_required
async def income(request: web.Request) -> web.Response:
    q = read_query(request, IncomeQuery)
    return ok(await owner_income.income_page(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("POST", "/api/v1/agencies/{id}/salary-advances", summary="The owner draws an advance on this month's "
            "agency share into the agency's USD account; this month's advances may reach agency_advance_max_bps of "
            "the estimated salary (409 beyond). The same idempotency key answers the first advance.",
            body=AdvanceBody, response=schemas.AgencySalaryAdvanced, status=201,
            errors=(403, 404, 409))  # fmt: skip
@login_required
async def advance(request: web.Request) -> web.Response:
    body = await read_body(request, AdvanceBody)
    # A replay answers as the first request did (201, the same advance, `replay: true`).
    return ok(
        await owner_income.do_advance(request.app[AGENCIES], caller_id(request), agency_id(request), body), status=201
    )


@routes.api("GET", "/api/v1/agencies/{id}/salary-advances", summary="The agency's salary advances, newest first "
            "(`month`: only those on that month's share): for the owner, the agency's admins and staff.",
            query=AdvancesQuery, response=schemas.AgencySalaryAdvancePage, errors=(403, 404))  # fmt: skip
@login_required
async def advances(request: web.Request) -> web.Response:
    q = read_query(request, AdvancesQuery)
    return ok(await owner_income.advances(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("POST", "/api/v1/agencies/{id}/salary-exchange", summary="The owner asks to convert coins of the "
            "agency's balance into USD at agency_coins_per_usd: the coins are set aside at once (409 'Insufficient "
            "agency coins.'), staff approve or reject; one pending request per agency. The same idempotency key "
            "answers the first request.", body=ExchangeBody, response=schemas.AgencySalaryExchangeRequested,
            status=201, errors=(403, 404, 409))  # fmt: skip
@login_required
async def request_exchange(request: web.Request) -> web.Response:
    body = await read_body(request, ExchangeBody)
    agencies, me = request.app[AGENCIES], caller_id(request)
    return ok(await owner_income.do_request_exchange(agencies, me, agency_id(request), body), status=201)


@routes.api("GET", "/api/v1/agencies/{id}/salary-exchange", summary="The agency's Salary Exchange Requests, newest "
            "first (`status` filters): for the owner, the agency's admins and staff.", query=ExchangesQuery,
            response=schemas.AgencySalaryExchangePage, errors=(403, 404))  # fmt: skip
@login_required
async def exchanges(request: web.Request) -> web.Response:
    q = read_query(request, ExchangesQuery)
    return ok(await owner_income.exchanges(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("GET", "/api/v1/admin/salary-exchanges", summary="Every agency's Salary Exchange Requests, newest first "
            "(`status=pending`: what waits for a decision).", query=ExchangesQuery,
            response=schemas.AgencySalaryExchangePage)  # fmt: skip
@permission_required("agencies.review")
async def admin_exchanges(request: web.Request) -> web.Response:
    return ok(await owner_income.admin_exchanges(request.app[AGENCIES], read_query(request, ExchangesQuery)))


@routes.api("POST", "/api/v1/admin/salary-exchanges/{id}/approve", summary="Approve a pending Salary Exchange "
            "Request: its coins are burned and its dollars paid into the agency's USD account, once; the owner is "
            "notified.", response=schemas.AgencySalaryExchange, errors=(403, 404, 409))  # fmt: skip
@permission_required("agencies.review")
async def approve_exchange(request: web.Request) -> web.Response:
    exchange_id = path_id(request, what="Salary exchange")
    return ok(await owner_income.do_decide_exchange(request.app[AGENCIES], caller_id(request), exchange_id, None))


@routes.api("POST", "/api/v1/admin/salary-exchanges/{id}/reject", summary="Reject a pending Salary Exchange Request "
            "with a reason: its coins go back to the agency; the owner is notified.", body=ExchangeRejectBody,
            response=schemas.AgencySalaryExchange, errors=(403, 404, 409))  # fmt: skip
@permission_required("agencies.review")
async def reject_exchange(request: web.Request) -> web.Response:
    body = await read_body(request, ExchangeRejectBody)
    exchange_id = path_id(request, what="Salary exchange")
    return ok(await owner_income.do_decide_exchange(request.app[AGENCIES], caller_id(request), exchange_id, body))
