"""Finance (issue 15 §4, `finance.view`): revenue charts, the ledger explorer with its CSV export,
recharge orders, diamond exchanges, reseller coin requests, agency payouts (settlement runs and
salary exchanges), fraud flags and the reconcile report. Each action calls the domain's own action
(the same as the REST API's) and checks its own permission."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from typing import Any

from aiohttp import web

from admin_ui.charts_finance import bars, columns
from admin_ui.web import AdminRoutes, client_of, convert, error_page, form, path_id, redirect, render, services
from engine.agency import owner_income, settlement
from engine.agency.owner_model import ExchangeRejectBody, ExchangesQuery
from engine.agency.reconcile import reconcile_all
from engine.agency.settlement_model import SettlementsQuery
from engine.appkeys import AGENCIES
from engine.economy import admin_store
from engine.economy.admin_actions import do_review_fraud_flag
from engine.economy.admin_model import CSV_MAX_ROWS, PAGE_LIMIT, check_ledger_filter, cursor_of
from engine.errors import not_found
from engine.payments import actions as payments
from engine.payments import admin_store as orders_store
from engine.resellers import actions as resellers
from engine.resellers import admin_store as requests_store
from engine.staff.model import StaffSession

routes = AdminRoutes()
CSV_COLUMNS = ("id", "created_at", "txn_id", "kind", "account_type", "account_id", "currency", "amount",
               "balance_after", "initiator_id", "ref_type", "ref_id")  # fmt: skip
REQUEST_STATUS = {1: "pending", 2: "approved", 3: "rejected"}


def when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, dt.datetime) else value.isoformat()


def money(cents: int | None) -> str:
    return f"{(cents or 0) / 100:,.2f}"


def iso(text: str | None) -> str:
    """A domain view's ISO timestamp (UTC) as the tables show times: to the minute."""
    return text[:16].replace("T", " ") if text else ""


def _page(request: web.Request, template: str, staff: StaffSession, **values: Any) -> web.Response:
    return render(request, template, staff, when=when, money=money, iso=iso, **values)


# --- overview and revenue charts --------------------------------------------------------------------


@routes.page("GET", "/admin/finance", permission="finance.view")
async def overview(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    days = 30 if request.query.get("days") != "7" else 7
    currency = request.query.get("currency", "USD").upper()[:3]
    since = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
    async with services(request).pool.acquire() as conn:
        by_day = {r["day"]: int(r["cents"]) for r in await orders_store.revenue_by_day(conn, since, currency)}
        by_country = await orders_store.revenue_by_country(conn, since, currency)
        by_package = await orders_store.revenue_by_package(conn, since, currency)
        statuses = await orders_store.status_counts(conn)
        open_flags = await admin_store.open_fraud_flags(conn)
    series = [(d.isoformat(), by_day.get(d, 0)) for d in (since + dt.timedelta(days=i) for i in range(days))]
    return _page(request, "finance/overview.html", staff, days=days, currency=currency, series=series,
                 total=sum(v for _, v in series), by_country=by_country, by_package=by_package,
                 statuses=statuses, open_flags=open_flags,
                 day_chart=columns(series, f"Revenue per day, {currency}"),
                 country_chart=bars([(r["label"], int(r["cents"])) for r in by_country],
                                           f"Revenue by country, {currency}"),
                 package_chart=bars([(r["label"], int(r["cents"])) for r in by_package],
                                           f"Revenue by package, {currency}"))  # fmt: skip


# --- the ledger --------------------------------------------------------------------------------------


@routes.page("GET", "/admin/finance/ledger", permission="finance.view")
async def ledger(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    f = check_ledger_filter(request.query)
    async with services(request).pool.acquire() as conn:
        rows = await admin_store.ledger_page(conn, f, cursor_of(request.query.get("before")), PAGE_LIMIT + 1)
    more = len(rows) > PAGE_LIMIT
    rows = rows[:PAGE_LIMIT]
    query = f.query()
    return _page(request, "finance/ledger.html", staff, rows=rows, f=query,
                 next_query={**query, "before": str(rows[-1]["id"])} if more else None)  # fmt: skip


@routes.page("GET", "/admin/finance/ledger.csv", permission="finance.view")
async def ledger_csv(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    f = check_ledger_filter(request.query)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="ledger-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.csv"',
    })  # fmt: skip
    await response.prepare(request)
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(CSV_COLUMNS)
    async with services(request).pool.acquire() as conn:
        async for row in admin_store.ledger_rows(conn, f, CSV_MAX_ROWS):
            out.writerow([row["created_at"].isoformat() if k == "created_at" else row[k] for k in CSV_COLUMNS])
            if buffer.tell() > 64_000:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


# --- recharge orders and diamond exchanges -------------------------------------------------------------


@routes.page("GET", "/admin/finance/orders", permission="finance.view")
async def orders(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    status = request.query.get("status") or None
    status = status if status in orders_store.STATUSES else None
    user = cursor_of(request.query.get("user_id"))
    try:
        before = dt.datetime.fromisoformat(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        before = None
    async with services(request).pool.acquire() as conn:
        rows = await orders_store.orders_page(conn, status, user, before, PAGE_LIMIT + 1)
    more = len(rows) > PAGE_LIMIT
    rows = rows[:PAGE_LIMIT]
    base = {k: str(v) for k, v in (("status", status), ("user_id", user)) if v is not None}
    return _page(request, "finance/orders.html", staff, rows=rows, statuses=orders_store.STATUSES, f=base,
                 next_query={**base, "before": rows[-1]["created_at"].isoformat()} if more else None)  # fmt: skip


@routes.page("POST", "/admin/finance/orders/{id}/credit", permission="economy.grant")
async def credit_order(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """A paid order that was not credited (a crash, or a frozen wallet since lifted): credit it now,
    through the same idempotent fulfilment as the webhook (it pays at most once)."""
    try:
        order_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise not_found("Order") from None
    status = await payments.fulfil(services(request), order_id)
    if status == "missing":
        return error_page(request, staff, 404, "Order not found.")
    notice = "Order credited." if status == "fulfilled" else f"The order is {status}: nothing credited."
    raise redirect("/admin/finance/orders", notice)


@routes.page("GET", "/admin/finance/exchanges", permission="finance.view")
async def exchanges(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    user = cursor_of(request.query.get("user_id"))
    async with services(request).pool.acquire() as conn:
        rows = await admin_store.exchanges_page(conn, user, cursor_of(request.query.get("before")), PAGE_LIMIT + 1)
    more = len(rows) > PAGE_LIMIT
    rows = rows[:PAGE_LIMIT]
    base = {"user_id": str(user)} if user else {}
    return _page(request, "finance/exchanges.html", staff, rows=rows, f=base,
                 next_query={**base, "before": str(rows[-1]["id"])} if more else None)  # fmt: skip


# --- coin requests -----------------------------------------------------------------------------------


@routes.page("GET", "/admin/finance/coin-requests", permission="finance.view")
async def coin_requests(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    text = request.query.get("status", "1")
    status = int(text) if text in ("1", "2", "3") else None
    async with services(request).pool.acquire() as conn:
        rows = await requests_store.requests_page(conn, status, cursor_of(request.query.get("before")),
                                                  PAGE_LIMIT + 1)  # fmt: skip
    more = len(rows) > PAGE_LIMIT
    rows = rows[:PAGE_LIMIT]
    base = {"status": text if status else "all"}
    return _page(request, "finance/coin_requests.html", staff, rows=rows, request_status=status, names=REQUEST_STATUS,
                 next_query={**base, "before": str(rows[-1]["id"])} if more else None)  # fmt: skip


@routes.page("POST", "/admin/finance/coin-requests/{id}/decide", permission="finance.view")
async def decide_coin_request(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """Only the request's addressee decides (the domain checks it); approval pays once."""
    fields = await form(request)
    approve = fields.get("decision") == "approve"
    body = convert(
        {"status": 2 if approve else 3, "action_message": fields.get("message", "").strip() or None},
        resellers.DecisionBody,
    )
    await resellers.do_decide(services(request), staff.user_id, path_id(request), body)
    raise redirect("/admin/finance/coin-requests", "Coin request approved." if approve else "Coin request rejected.")


# --- agency payouts ------------------------------------------------------------------------------------


@routes.page("GET", "/admin/finance/payouts", permission="finance.view")
async def payouts(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    ag = request.app[AGENCIES]
    status = request.query.get("status", "pending")
    query = convert(
        {"status": status if status != "all" else None, "cursor": request.query.get("cursor") or None}, ExchangesQuery
    )
    salary = await owner_income.admin_exchanges(ag, query)
    runs = await settlement.admin_runs(ag, SettlementsQuery(limit=12))
    return _page(request, "finance/payouts.html", staff, salary=salary, runs=runs["items"], exchange_status=status,
                 may_decide=staff.can("agencies.review"))  # fmt: skip


@routes.page("POST", "/admin/finance/salary-exchanges/{id}/decide", permission="finance.view")
async def decide_salary_exchange(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if not staff.can("agencies.review"):
        return error_page(request, staff, 403, "You need the “agencies.review” permission to decide salary exchanges.")
    fields = await form(request)
    approve = fields.get("decision") == "approve"
    reject = None if approve else convert({"reason": fields.get("reason", "").strip()}, ExchangeRejectBody)
    await owner_income.do_decide_exchange(request.app[AGENCIES], staff.user_id, path_id(request), reject)
    raise redirect("/admin/finance/payouts", "Salary exchange approved." if approve else "Salary exchange rejected.")


# --- fraud flags -----------------------------------------------------------------------------------


@routes.page("GET", "/admin/finance/fraud", permission="finance.view")
async def fraud(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    reviewed = request.query.get("state") == "reviewed"
    async with services(request).pool.acquire() as conn:
        rows = await admin_store.fraud_flags_page(conn, reviewed, cursor_of(request.query.get("before")),
                                                  PAGE_LIMIT + 1)  # fmt: skip
    more = len(rows) > PAGE_LIMIT
    rows = rows[:PAGE_LIMIT]
    state = "reviewed" if reviewed else "open"
    return _page(request, "finance/fraud.html", staff, rows=rows, state=state,
                 next_query={"state": state, "before": str(rows[-1]["id"])} if more else None)  # fmt: skip


@routes.page("POST", "/admin/finance/fraud/{id}/review", permission="finance.view")
async def review_flag(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    fields = await form(request)
    await do_review_fraud_flag(services(request), staff.user_id, path_id(request), fields.get("note"),
                               client_of(request).ip)  # fmt: skip
    raise redirect("/admin/finance/fraud", "Fraud flag reviewed.")


# --- reconcile ---------------------------------------------------------------------------------------


@routes.page("GET", "/admin/finance/reconcile", permission="finance.view")
async def reconcile_page(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return _page(request, "finance/reconcile.html", staff, report=None)


@routes.page("POST", "/admin/finance/reconcile", permission="finance.view")
async def reconcile_run(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """The same checks as `flylive reconcile`: the outboxes drained, then every money invariant."""
    svc = services(request)
    report = await reconcile_all(svc, consumer="dashboard")
    svc.metrics.reconcile_runs.labels("ok" if report.ok else "drift").inc()
    return _page(request, "finance/reconcile.html", staff, report=report,
                 ran_at=dt.datetime.now(dt.UTC))  # fmt: skip
