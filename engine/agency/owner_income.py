"""The owner's side of agency income (issue 13 §3, docs/agency.md "Owner income, advances and
salary exchange"): the Members Income page, salary advances on the month's agency share (ASP), and
Salary Exchange Requests (the agency's coins → USD) that staff approve or reject.

Every amount moves as a ledger transaction between ledger-only accounts (`apply_held_txn`) in the
same PostgreSQL transaction as the row that asked for it, so a request's state and its money never
disagree. Each change is audited there; the owner's notice and the `agency.income.updated` push go
out after the commit."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.agency import income_store, owner_store, store
from engine.agency.actions import is_staff
from engine.agency.income_model import month_bounds, month_of, month_text, share_bps_of
from engine.agency.live import Agencies
from engine.agency.model import check_open, check_owner, check_visible
from engine.agency.owner_model import (
    AdvanceBody,
    AdvancesQuery,
    ExchangeBody,
    ExchangeRejectBody,
    ExchangesQuery,
    IncomeQuery,
    advance_item,
    advance_txn,
    check_advance,
    chosen_month,
    conflict,
    exchange_cents,
    exchange_decision_txn,
    exchange_item,
    exchange_notice_text,
    exchange_request_txn,
    host_item,
    summary,
)  # fmt: skip
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import store as economy_store
from engine.errors import forbidden, not_found
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.agency.owner")


def _current_month(ag: Agencies) -> dt.date:
    return month_of(dt.datetime.now(dt.UTC), ag.svc.config.business_timezone)


async def _readable(conn: Conn, viewer: int, agency_id: int) -> dict[str, Any]:
    """The agency, if the viewer may read its income: its owner, its admins, staff (404 for what
    they may not see, 403 for the rest)."""
    staff = await is_staff(conn, viewer)
    agency = check_visible(await store.get(conn, agency_id), viewer, staff)
    if staff or agency["owner_id"] == viewer:
        return agency
    member = await store.member(conn, agency_id, viewer)
    if member is None or member["role"] != "admin":
        raise forbidden("Only the agency's owner, its admins and staff see its income.")
    return agency


async def _owned_locked_txn(conn: Conn, user_id: int, agency_id: int) -> dict[str, Any]:
    """The agency, if the user owns it and it is open (only the owner draws on its salary), its row
    locked first: the advance cap is a sum and one exchange may be pending, so two racing requests
    must run one after the other (the second then sees the first), and a close cannot slip between
    the check and the change."""
    await owner_store.lock_agency_txn(conn, agency_id)
    agency = check_visible(await store.get(conn, agency_id), user_id, await is_staff(conn, user_id))
    check_owner(agency, user_id)
    check_open(agency)
    return agency


async def _summary(ag: Agencies, conn: Conn, agency: dict[str, Any], month: dt.date,
                   settings: dict[str, int]) -> dict[str, Any]:  # fmt: skip
    start, end = month_bounds(month, ag.svc.config.business_timezone)
    agency_id = agency["id"]
    coins = await income_store.agency_coins(conn, agency_id, start, end)
    drawn = await owner_store.advances_total(conn, agency_id, month)
    return summary(
        month, coins, share_bps_of(agency["share_bps"], settings), drawn,
        await economy_store.held_balance(conn, "agency", agency_id, "coins"),
        await economy_store.held_balance(conn, "agency", agency_id, "usd_cents"), settings,
    )  # fmt: skip


async def _tell_owner(ag: Agencies, agency_id: int, reason: str) -> None:
    """After a commit: the owner's main page gets this month's new figures (on any process)."""
    async with ag.svc.pool.acquire() as conn:
        agency = await store.get(conn, agency_id)
        if agency is None:
            return
        figures = await _summary(ag, conn, agency, _current_month(ag), await economy_store.settings(conn))
    await ag.push(agency["owner_id"], "agency.income.updated", {"agency_id": agency_id, "reason": reason, **figures})


def _counted(ag: Agencies, action: str, usd_cents: int = 0) -> None:
    ag.svc.metrics.agency_owner_salary.labels(action).inc()
    if usd_cents:
        ag.svc.metrics.agency_owner_salary_cents.labels(action).inc(usd_cents)


# --- the Members Income page ----------------------------------------------------------------------


async def income_page(ag: Agencies, viewer: int, agency_id: int, q: IncomeQuery) -> dict[str, Any]:
    current = _current_month(ag)
    month = chosen_month(q.month, current)
    after = decode_cursor(q.cursor, int, int)
    async with ag.svc.pool.acquire() as conn:
        agency = await _readable(conn, viewer, agency_id)
        settings = await economy_store.settings(conn)
        figures = await _summary(ag, conn, agency, month, settings)
        start, end = month_bounds(month, ag.svc.config.business_timezone)
        rows = await owner_store.host_rows(conn, agency_id, start, end, month == current,
                                           (after[0], after[1]) if after else None, q.limit + 1)  # fmt: skip
    items, next_cursor = page(rows, q.limit, lambda r: (int(r["coins"]), r["user_id"]))
    bps = figures["share_bps"]
    return {**figures, "agency_id": agency_id, "hosts": {"items": [host_item(r, bps, settings) for r in items],
                                                         "next_cursor": next_cursor}}  # fmt: skip


# --- salary advances --------------------------------------------------------------------------------


async def do_advance(ag: Agencies, user_id: int, agency_id: int, body: AdvanceBody) -> dict[str, Any]:
    """An advance on this month's ASP into the agency's USD account, within the cap; the same key
    again answers the first advance."""
    month = _current_month(ag)
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        agency = await _owned_locked_txn(conn, user_id, agency_id)
        if (earlier := await owner_store.advance_by_key(conn, agency_id, body.idempotency_key)) is not None:
            return {**advance_item(earlier), "replay": True}
        settings = await economy_store.settings(conn)
        figures = await _summary(ag, conn, agency, month, settings)
        check_advance(body.usd_cents, figures["salary_in_advance_usd_cents"], figures["estimated_salary_usd_cents"],
                      settings)  # fmt: skip
        txn = advance_txn(agency_id, month, body.usd_cents, user_id, body.idempotency_key)
        if await economy_store.apply_held_txn(conn, txn) != "ok":
            raise conflict("advance_replayed", "This advance was recorded already.")  # its row would be here too
        row = await owner_store.insert_advance_txn(conn, agency_id, month, body.usd_cents, user_id,
                                                   body.idempotency_key, txn.txn_id)  # fmt: skip
        await audit_txn(conn, actor_id=user_id, action="agency.salary_advance", target_type="agency",
                        target_id=agency_id, details={"advance_id": row["id"], "month": month_text(month),
                                                      "usd_cents": body.usd_cents, "txn_id": txn.txn_id})  # fmt: skip
    _counted(ag, "advance", body.usd_cents)
    log.info("agency salary advance", extra={"agency_id": agency_id, "by": user_id, "usd_cents": body.usd_cents,
                                             "advance_id": row["id"]})  # fmt: skip
    await _tell_owner(ag, agency_id, "advance")
    return {**advance_item(row), "replay": False}


async def advances(ag: Agencies, viewer: int, agency_id: int, q: AdvancesQuery) -> dict[str, Any]:
    month = chosen_month(q.month, _current_month(ag)) if q.month is not None else None
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        await _readable(conn, viewer, agency_id)
        rows = await owner_store.advances_page(conn, agency_id, month, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [advance_item(r) for r in items], "next_cursor": next_cursor}


# --- Salary Exchange Requests -----------------------------------------------------------------------


async def do_request_exchange(ag: Agencies, user_id: int, agency_id: int, body: ExchangeBody) -> dict[str, Any]:
    """The owner asks to convert the agency's coins to USD: the coins go to escrow now (refused when
    the agency holds fewer), the dollars when staff approve. One pending request per agency."""
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        agency = await _owned_locked_txn(conn, user_id, agency_id)
        if (earlier := await owner_store.exchange_by_key(conn, agency_id, body.idempotency_key)) is not None:
            return {**exchange_item(earlier), "replay": True}
        settings = await economy_store.settings(conn)
        cents = exchange_cents(body.amount, settings)
        exchange_id = await owner_store.insert_exchange_txn(conn, agency_id, body.amount, cents,
                                                            settings["agency_coins_per_usd"], user_id,
                                                            body.idempotency_key)  # fmt: skip
        if exchange_id is None:
            raise conflict("exchange_pending", "The agency has a salary exchange request pending already.")
        row = await owner_store.get_exchange(conn, exchange_id)
        assert row is not None
        # Raising rolls the request back with the transaction: a refused request leaves no row.
        if await economy_store.apply_held_txn(conn, exchange_request_txn(exchange_id, row, user_id)) != "ok":
            raise conflict("insufficient_coins", "Insufficient agency coins.")
        await audit_txn(conn, actor_id=user_id, action="agency.salary_exchange_request", target_type="agency",
                        target_id=agency_id, details={"exchange_id": exchange_id, "coins": body.amount,
                                                      "usd_cents": cents})  # fmt: skip
    _counted(ag, "exchange_requested")
    log.info("agency salary exchange requested", extra={"agency_id": agency_id, "by": user_id, "coins": body.amount,
                                                        "exchange_id": exchange_id})  # fmt: skip
    await _tell_owner(ag, agency["id"], "exchange_requested")
    return {**exchange_item(row), "replay": False}


async def exchanges(ag: Agencies, viewer: int, agency_id: int, q: ExchangesQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        await _readable(conn, viewer, agency_id)
        rows = await owner_store.exchanges_page(conn, agency_id, q.status, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [exchange_item(r) for r in items], "next_cursor": next_cursor}


async def admin_exchanges(ag: Agencies, q: ExchangesQuery) -> dict[str, Any]:
    """Staff's queue: every agency's requests (`status=pending`: what waits for a decision)."""
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        rows = await owner_store.exchanges_page(conn, None, q.status, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [exchange_item(r) for r in items], "next_cursor": next_cursor}


async def do_decide_exchange(ag: Agencies, actor_id: int, exchange_id: int,
                             reject: ExchangeRejectBody | None) -> dict[str, Any]:  # fmt: skip
    """Staff approve (escrowed coins burned, their dollars minted into the agency's USD account) or
    reject (the coins go back): once — the state and the ledger change together under the row's lock."""
    approved = reject is None
    reason = reject.reason if reject is not None else None
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        row = await owner_store.get_exchange(conn, exchange_id, lock=True)
        if row is None:
            raise not_found("Salary exchange")
        if row["owner_id"] == actor_id:
            raise forbidden("Staff may not decide their own agency's salary exchange.")
        if row["status"] != "pending":
            raise conflict("not_pending", "The salary exchange request is not pending.")
        if await economy_store.apply_held_txn(conn, exchange_decision_txn(row, approved, actor_id)) != "ok":
            raise conflict("escrow_mismatch", "The request's escrow does not hold its coins.")  # never, unless a bug
        await owner_store.decide_exchange_txn(conn, exchange_id, "approved" if approved else "rejected", actor_id,
                                              reason)  # fmt: skip
        await audit_txn(conn, actor_id=actor_id,
                        action=f"agency.salary_exchange_{'approve' if approved else 'reject'}",
                        target_type="agency", target_id=row["agency_id"],
                        details={"exchange_id": exchange_id, "coins": row["coins"], "usd_cents": row["usd_cents"],
                                 "reason": reason})  # fmt: skip
        event = "salary_exchange_approved" if approved else "salary_exchange_rejected"
        stored = await ag.notifications.record_txn(conn, Notice(
            row["owner_id"], "agency", exchange_notice_text(row["agency_name"], row, approved, reason),
            actor_id=actor_id, target_type="agency_salary_exchange", target_id=str(exchange_id),
            data={"agency_id": row["agency_id"], "event": event, "exchange_id": exchange_id},
        ))  # fmt: skip
        decided = await owner_store.get_exchange(conn, exchange_id)
    assert decided is not None
    action = "exchange_approved" if approved else "exchange_rejected"
    _counted(ag, action, row["usd_cents"] if approved else 0)
    log.info("agency salary exchange decided", extra={"exchange_id": exchange_id, "by": actor_id,
                                                      "approved": approved, "agency_id": row["agency_id"]})  # fmt: skip
    await ag.notifications.push(stored)
    await _tell_owner(ag, row["agency_id"], action)
    return exchange_item(decided)
