"""A member's income (issue 13 §3, docs/agency.md "Member income, targets and salary exchange"): the
month's figures (`member_month`, also for the settlement), "My Income", and the salary exchange.

The exchange is two ledger steps so that nothing is lost or doubled between PostgreSQL (where the
USD salary lives) and Redis (where the coin wallet lives):
1. hold — one PostgreSQL transaction: the exchange row (unique per user and idempotency key) and
   user:<id> usd −X → escrow:<row> usd +X (`apply_held_txn`, funds checked under the row lock);
2. credit — after that commit, the live wallet: user coins +C, escrow usd −X → burn +X,
   mint coins −C (`apply_with_wallet`, a transaction id and idempotency key derived from the row id),
   then the row is marked credited.
A crash between the two leaves a `held` row: `sweep_exchanges` (every process, periodic) finishes it
with the same transaction id and key, after checking the ledger, so the coins land exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.agency import income_store
from engine.agency import member_income_store as mstore
from engine.agency.income_model import (
    MonthFigures,
    Target,
    month_bounds,
    month_figures,
    month_of,
    month_text,
    parse_month,
)
from engine.agency.live import Agencies
from engine.agency.member_income_model import (
    INSUFFICIENT_SURPLUS,
    ExchangeBody,
    check_buys_coins,
    check_month,
    exchange_item,
    exchange_txn_id,
    income_view,
    not_in_agency,
    salary_coins,
)
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.economy import model as money
from engine.economy import store as economy_store
from engine.economy.actions import apply_with_wallet, get_balances
from engine.economy.flusher import flush_all
from engine.errors import DomainError

log = logging.getLogger("flylive.agency.income")
SWEEP_SECONDS = 30.0
# A held exchange younger than this is its own request's to finish (the sweep would only race it).
SWEEP_GRACE_SECONDS = 60.0
SWEEP_BATCH = 100


def current_month(ag: Agencies) -> dt.date:
    return month_of(dt.datetime.now(dt.UTC), ag.svc.config.business_timezone)


async def figures_txn(conn: Conn, tz: str, agency_id: int, user_id: int, month: dt.date,
                      settings: dict[str, int] | None = None,
                      targets: list[Target] | None = None) -> MonthFigures:  # fmt: skip
    """The month's figures, under `settings` and `targets` (read when not given)."""
    settings = settings or await economy_store.settings(conn)
    targets = targets if targets is not None else await income_store.targets(conn)
    start, end = month_bounds(month, tz)
    totals = await income_store.member_totals(conn, agency_id, start, end, tz, settings["agency_valid_seconds_per_day"],
                                              [user_id])  # fmt: skip
    mine = totals.get(user_id, {})
    return month_figures(targets, settings, mine.get("coins", 0), mine.get("mic_ms", 0),
                         mine.get("valid_seconds", 0))  # fmt: skip


async def member_month(ag: Agencies, agency_id: int, user_id: int, month: dt.date | str) -> MonthFigures:
    """One member's figures in one agency for a business month ('YYYY-MM' or its first day), under
    the current targets and settings: coins, mic time, valid seconds, targets reached, the reward
    and the excess coins × IECP."""
    first = parse_month(month) if isinstance(month, str) else month.replace(day=1)
    async with ag.svc.pool.acquire() as conn:
        return await figures_txn(conn, ag.svc.config.business_timezone, agency_id, user_id, first)


async def my_income(ag: Agencies, user_id: int, month_param: str | None) -> dict[str, Any]:
    """GET /api/v1/me/income: the agency the user was in during the month (the latest membership
    overlapping it; a current member asking about a month before they joined sees their agency's
    empty month); 403 for a user in no agency then or now."""
    tz = ag.svc.config.business_timezone
    now_month = current_month(ag)
    month = parse_month(month_param) if month_param is not None else now_month
    check_month(month, now_month)
    start, end = month_bounds(month, tz)
    async with ag.svc.pool.acquire() as conn:
        agency = await mstore.membership_during(conn, user_id, start, end) or await mstore.current_membership(
            conn, user_id
        )
        if agency is None:
            raise not_in_agency()
        settings = await economy_store.settings(conn)
        targets = await income_store.targets(conn)
        figures = await figures_txn(conn, tz, agency["agency_id"], user_id, month, settings, targets)
        days = await income_store.member_days(conn, agency["agency_id"], user_id, start, end, tz)
        settled, paid = await mstore.settlement_paid(conn, user_id, agency["agency_id"], month_text(month))
        ledger = {"settled": settled, "paid": paid,
                  "surplus": await economy_store.held_balance(conn, "user", user_id, "usd_cents"),
                  "exchanged": await mstore.exchanged_cents(conn, user_id, start, end)}  # fmt: skip
    return income_view(month, agency, figures, targets, days, settings, ledger)


# --- salary exchange ----------------------------------------------------------------------------


def _hold_txn(row: dict[str, Any]) -> money.Txn:
    user_id, exchange_id, usd = row["user_id"], row["id"], int(row["usd_cents"])
    legs = [money.Leg("user", user_id, "usd_cents", -usd), money.Leg("escrow", exchange_id, "usd_cents", usd)]
    return money.make_txn("salary_exchange", legs, txn_id=exchange_txn_id(exchange_id, "hold"), initiator_id=user_id,
                          ref_type="salary_exchange", ref_id=str(exchange_id),
                          metadata={"step": "hold", "usd_cents": usd, "coins": int(row["coins"])})  # fmt: skip


def _credit_txn(row: dict[str, Any]) -> money.Txn:
    user_id, exchange_id, usd, coins = row["user_id"], row["id"], int(row["usd_cents"]), int(row["coins"])
    legs = [money.Leg("user", user_id, "coins", coins), money.Leg("escrow", exchange_id, "usd_cents", -usd),
            money.Leg("burn", 0, "usd_cents", usd), money.Leg("mint", 0, "coins", -coins)]  # fmt: skip
    return money.make_txn("salary_exchange", legs, txn_id=exchange_txn_id(exchange_id, "credit"), initiator_id=user_id,
                          ref_type="salary_exchange", ref_id=str(exchange_id),
                          metadata={"step": "credit", "usd_cents": usd, "coins": coins,
                                    "coins_per_usd": int(row["coins_per_usd"])})  # fmt: skip


async def hold_exchange(ag: Agencies, user_id: int, body: ExchangeBody, ip: str | None) -> tuple[dict[str, Any], bool]:
    """Step 1: the row and the USD set aside, in one transaction; (row, replay). A replayed key
    answers its first row and moves nothing; not enough surplus is a 409 and leaves no row."""
    svc = ag.svc
    async with svc.pool.acquire() as conn:
        if (first := await mstore.exchange_by_key(conn, user_id, body.idempotency_key)) is not None:
            return first, True
        if not await economy_store.ever_agency_member(conn, user_id):
            raise not_in_agency()
        rate = (await economy_store.settings(conn))["salary_coins_per_usd"]
        coins = salary_coins(body.usd_cents, rate)
        check_buys_coins(coins)
        async with conn.transaction():
            row = await mstore.insert_exchange_txn(conn, user_id, body.idempotency_key, body.usd_cents, coins, rate)
            if row is not None:
                held = await economy_store.apply_held_txn(conn, _hold_txn(row))
                if held == "insufficient":
                    raise DomainError("insufficient_surplus", INSUFFICIENT_SURPLUS, status=409)
                details = {"exchange_id": row["id"], "usd_cents": body.usd_cents, "coins": coins,
                           "coins_per_usd": rate}  # fmt: skip
                await audit_txn(conn, actor_id=user_id, action="agency.salary_exchange", target_type="user",
                                target_id=user_id, ip=ip, details=details)  # fmt: skip
        if row is None:  # a concurrent twin with the same key committed first
            first = await mstore.exchange_by_key(conn, user_id, body.idempotency_key)
            assert first is not None
            return first, True
    return row, False


async def credit_exchange(ag: Agencies, row: dict[str, Any]) -> dict[str, Any]:
    """Step 2 (idempotent): the coins into the live wallet, then the row marked credited."""
    svc = ag.svc
    result = await apply_with_wallet(svc, _credit_txn(row), f"salary_exchange:{row['id']}")
    if not result.ok:  # a credit is never refused for funds; anything else is a fault to retry
        raise RuntimeError(f"salary exchange {row['id']} credit refused: {result.code}")
    async with svc.pool.acquire() as conn:
        return await mstore.mark_credited(conn, row["id"])


async def do_exchange(ag: Agencies, user_id: int, body: ExchangeBody, ip: str | None) -> dict[str, Any]:
    svc = ag.svc
    await svc.limiter.check("salary_exchange", str(user_id), svc.config.salary_exchange_rate_limit)
    try:
        row, replay = await hold_exchange(ag, user_id, body, ip)
    except DomainError as exc:
        if exc.code == "insufficient_surplus":
            svc.metrics.salary_exchanges.labels("insufficient").inc()
        raise
    if row["status"] == "held":  # new, or a replay of one whose first request died before its credit
        row = await credit_exchange(ag, row)
    svc.metrics.salary_exchanges.labels("replay" if replay else "credited").inc()
    if not replay:
        log.info("salary exchanged", extra={"user_id": user_id, "exchange_id": row["id"],
                                             "usd_cents": row["usd_cents"], "coins": row["coins"]})  # fmt: skip
    async with svc.pool.acquire() as conn:
        surplus = await economy_store.held_balance(conn, "user", user_id, "usd_cents")
    return exchange_item(row, surplus, await get_balances(svc, user_id), replay)


async def sweep_exchanges(ag: Agencies, grace_seconds: float = SWEEP_GRACE_SECONDS) -> int:
    """Finish exchanges a crash left `held`: when the ledger has the credit already, only mark the
    row; else drain the outboxes (the credit may be waiting there) and look again; else apply the
    credit with its own idempotency key (a Redis replay if the wallet had it after all). How many."""
    svc = ag.svc
    async with svc.pool.acquire() as conn:
        stale = await mstore.stale_held(conn, grace_seconds, SWEEP_BATCH)
    flushed = False
    for row in stale:
        credit_id = exchange_txn_id(row["id"], "credit")
        async with svc.pool.acquire() as conn:
            recorded = await mstore.txn_recorded(conn, credit_id)
        if not recorded and not flushed:
            await flush_all(svc, svc.wallets, ag.rt.instance_id)  # this process's flusher consumer
            flushed = True
            async with svc.pool.acquire() as conn:
                recorded = await mstore.txn_recorded(conn, credit_id)
        if recorded:
            async with svc.pool.acquire() as conn:
                await mstore.mark_credited(conn, row["id"])
        else:
            await credit_exchange(ag, row)
        svc.metrics.salary_exchanges.labels("resumed").inc()
        log.warning("salary exchange resumed", extra={"exchange_id": row["id"], "user_id": row["user_id"],
                                                       "already_in_ledger": recorded})  # fmt: skip
    return len(stale)
