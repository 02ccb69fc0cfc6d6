"""Users (issue 15 §3): search and filters, the CSV export, a profile (wallet, ledger, rooms, reports,
sessions, audit trail), suspend / ban / reinstate, coins and diamonds granted or deducted through the
ledger, and bulk actions on a selection. Thin over the accounts' and economy's own actions: the
status change is `engine.accounts.staff.do_set_status` (it ends the user's sessions and drops their
live sockets at once), the money is `engine.economy.actions.do_adjust` (minted or burned, audited)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import uuid
from typing import Literal
from urllib.parse import urlencode

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, error_page, form, path_id, redirect, render, services
from engine.accounts import admin_store
from engine.accounts import staff as account_staff
from engine.accounts import store as accounts_store
from engine.accounts.admin_model import (
    CSV_COLUMNS,
    EXPORT_MAX,
    PAGE_SIZE,
    STATUSES,
    VIP_CHOICES,
    csv_row,
    page_number,
    parse_filters,
    suspension_end,
)
from engine.appkeys import ROOMS
from engine.economy import actions as economy_actions
from engine.economy import store as economy_store
from engine.errors import DomainError
from engine.staff.model import StaffSession

routes = AdminRoutes()
log = logging.getLogger("flylive.admin.users")
LEDGER_PAGE = 25
BULK_MAX = 100
MAX_AMOUNT = 10**12


@routes.page("GET", "/admin/users", permission="users.view")
async def users(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    filters, errors = parse_filters(request.query)
    page = page_number(request.query.get("page"))
    async with services(request).pool.acquire() as conn:
        rows = await admin_store.search_users(conn, filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    params = filters.query_string()
    return render(request, "users/list.html", staff, rows=rows[:PAGE_SIZE], filters=filters, errors=errors,
                  statuses=STATUSES, vip_choices=VIP_CHOICES, page=page, more=len(rows) > PAGE_SIZE,
                  prev_qs=urlencode({**params, "page": page - 1}), next_qs=urlencode({**params, "page": page + 1}),
                  export_qs=urlencode(params), bulk_key=uuid.uuid4().hex)  # fmt: skip


@routes.page("GET", "/admin/users/export.csv", permission="users.view")
async def export(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    filters, _errors = parse_filters(request.query)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    disposition = f'attachment; filename="users-{stamp}.csv"'
    headers = {
        "Content-Type": "text/csv; charset=utf-8",
        "Cache-Control": "no-store",
        "Content-Disposition": disposition,
    }
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    rows = 0
    async with services(request).pool.acquire() as conn:
        async for user in admin_store.export_users(conn, filters, most=EXPORT_MAX):
            writer.writerow(csv_row(user))
            rows += 1
            if buffer.tell() > 32_768:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    log.info("users exported", extra={"user_id": staff.user_id, "rows": rows, "filters": filters.query_string()})
    return response


async def _profile(request: web.Request, staff: StaffSession, user_id: int, *, status: int = 200,
                   error: str = "") -> web.Response:  # fmt: skip
    svc = services(request)
    before = request.query.get("ledger_before", "")
    before_id = int(before) if before.isdigit() else None
    async with svc.pool.acquire() as conn:
        user = await accounts_store.get_user(conn, user_id)
        if user is None:
            return error_page(request, staff, 404, f"There is no user {user_id}.")
        ledger = await economy_store.history(conn, user_id, currency=None, kind=None, since=None, until=None,
                                             before_id=before_id, limit=LEDGER_PAGE + 1)  # fmt: skip
        extra = {
            "roles": await admin_store.role_names(conn, user_id),
            "rooms": await admin_store.owned_rooms(conn, user_id),
            "cases": await admin_store.reports_about(conn, user_id),
            "reports": await admin_store.reports_by(conn, user_id),
            "sessions": await admin_store.app_sessions(conn, user_id),
            "audit": await admin_store.audit_trail(conn, user_id),
        }
    balances = await economy_actions.get_balances(svc, user_id)
    live_room = await request.app[ROOMS].state.room_of(user_id)
    return render(request, "users/detail.html", staff, status=status, user=user, balances=balances,
                  ledger=ledger[:LEDGER_PAGE], ledger_more=len(ledger) > LEDGER_PAGE, error=error,
                  live_room=live_room, adjust_key=uuid.uuid4().hex, **extra)  # fmt: skip


@routes.page("GET", r"/admin/users/{id:\d+}", permission="users.view")
async def profile(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _profile(request, staff, path_id(request, what="User"))


def _status_change(fields: dict[str, str]) -> tuple[str, dt.datetime | None, str | None] | str:
    """(status, until, reason) from the status form, or what is wrong with it."""
    action = fields.get("action", "")
    reason = fields.get("reason", "").strip()[:255] or None
    if action not in ("suspend", "ban", "reinstate"):
        return "Choose suspend, ban or reinstate."
    if action != "reinstate" and (reason is None or len(reason) < 3):
        return "Give a reason (at least 3 characters): the user and the audit log see it."
    if action == "suspend":
        until = suspension_end(dt.datetime.now(dt.UTC), fields.get("duration", ""), fields.get("unit", ""))
        if until is None:
            return "A suspension needs a length: a whole number of hours or days (up to 10 years)."
        return "suspended", until, reason
    return ("banned" if action == "ban" else "active"), None, reason


@routes.page("POST", r"/admin/users/{id:\d+}/status", permission="users.suspend")
async def set_status(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    user_id = path_id(request, what="User")
    change = _status_change(await form(request))
    if isinstance(change, str):
        return await _profile(request, staff, user_id, status=422, error=change)
    status, until, reason = change
    try:
        await account_staff.do_set_status(services(request), staff.user_id, user_id, status, until=until,
                                          reason=reason, client=client_of(request))  # fmt: skip
    except DomainError as exc:
        return await _profile(request, staff, user_id, status=exc.status, error=exc.message)
    words = {"suspended": f"suspended until {until:%Y-%m-%d %H:%M} UTC" if until else "", "banned": "banned",
             "active": "reinstated"}  # fmt: skip
    raise redirect(f"/admin/users/{user_id}", f"User {user_id} {words[status]}.")


Adjustment = tuple[Literal["coins", "diamonds"], int, Literal["grant", "deduct"], str, str]


def _adjustment(fields: dict[str, str]) -> Adjustment | str:
    """(currency, amount, direction, reason, key) from the coins form, or what is wrong with it."""
    currency, direction = fields.get("currency", ""), fields.get("direction", "")
    reason, key = fields.get("reason", "").strip(), fields.get("idempotency_key", "")
    amount = int(fields["amount"]) if fields.get("amount", "").strip().isdigit() else 0
    if currency not in ("coins", "diamonds") or direction not in ("grant", "deduct"):
        return "Choose coins or diamonds, and grant or deduct."
    if not 1 <= amount <= MAX_AMOUNT:
        return "The amount is a whole number from 1."
    if not 3 <= len(reason) <= 255:
        return "Give a reason (3 to 255 characters): it is kept in the ledger."
    if not 8 <= len(key) <= 64 or not key.replace("-", "").replace(":", "").isalnum():
        return "The form was incomplete. Reload the page and try again."
    return (
        ("coins" if currency == "coins" else "diamonds"),
        amount,
        ("grant" if direction == "grant" else "deduct"),
        reason,
        key,
    )


@routes.page("POST", r"/admin/users/{id:\d+}/adjust", permission="economy.grant")
async def adjust(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    user_id = path_id(request, what="User")
    parsed = _adjustment(await form(request))
    if isinstance(parsed, str):
        return await _profile(request, staff, user_id, status=422, error=parsed)
    currency, amount, direction, reason, key = parsed
    try:
        result = await economy_actions.do_adjust(services(request), staff.user_id, user_id, currency, amount,
                                                 direction=direction, reason=reason, key=f"dash:{key}")  # fmt: skip
    except DomainError as exc:
        return await _profile(request, staff, user_id, status=exc.status, error=exc.message)
    done = "Already done" if result["replay"] else ("Granted" if direction == "grant" else "Deducted")
    raise redirect(f"/admin/users/{user_id}", f"{done}: {amount} {currency}. Balance now {result['balance']}.")


async def _bulk_one(request: web.Request, staff: StaffSession, user_id: int, fields: dict[str, str],
                    batch: str) -> None:  # fmt: skip
    svc = services(request)
    action = fields.get("action", "")
    if action == "grant":
        parsed = _adjustment({**fields, "direction": "grant", "idempotency_key": batch})
        if isinstance(parsed, str):
            raise DomainError("invalid", parsed, status=422)
        currency, amount, _direction, grant_reason, _key = parsed
        await economy_actions.do_adjust(svc, staff.user_id, user_id, currency, amount, direction="grant",
                                        reason=grant_reason, key=f"bulk:{batch}:{user_id}")  # fmt: skip
        return
    change = _status_change(fields)
    if isinstance(change, str):
        raise DomainError("invalid", change, status=422)
    status, until, reason = change
    await account_staff.do_set_status(svc, staff.user_id, user_id, status, until=until, reason=reason,
                                      client=client_of(request))  # fmt: skip


@routes.page("POST", "/admin/users/bulk", permission="users.view")
async def bulk(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """One action on every ticked user: suspend, ban, reinstate (users.suspend) or grant (economy.grant)."""
    data = await request.post()
    fields = await form(request)
    needed = "economy.grant" if fields.get("action") == "grant" else "users.suspend"
    if not staff.can(needed):
        return error_page(request, staff, 403, f"You need the “{needed}” permission for this action.")
    picked = sorted({int(v) for v in data.getall("user_id", []) if isinstance(v, str) and v.isdigit()})
    if not picked:
        raise redirect("/admin/users", "Tick at least one user first.")
    if len(picked) > BULK_MAX:
        return error_page(request, staff, 422, f"At most {BULK_MAX} users at once.")
    batch = fields.get("bulk_key", "")[:32]
    if not batch.isalnum():
        return error_page(request, staff, 422, "The form was incomplete. Reload the page and try again.")
    async with services(request).pool.acquire() as conn:
        known = await admin_store.existing_ids(conn, picked)
    failed: list[str] = []
    for user_id in known:
        try:
            await _bulk_one(request, staff, user_id, fields, batch)
        except DomainError as exc:
            failed.append(f"{user_id}: {exc.message}")
            if exc.status == 422:  # the form itself is wrong: the same for every user
                return error_page(request, staff, 422, exc.message)
    log.info("bulk user action", extra={"user_id": staff.user_id, "action": fields.get("action"),
                                        "count": len(known), "failed": len(failed)})  # fmt: skip
    done = len(known) - len(failed)
    notice = f"{fields.get('action', '').capitalize()}: done for {done} of {len(picked)} users."
    if failed:
        notice += " Not done: " + "; ".join(failed)[:200]
    raise redirect("/admin/users", notice)
