"""Month-end settlement and the leaver's final settlement (issue 13 §3, docs/agency.md "Month-end
settlement").

For a business month M (BUSINESS_TIMEZONE) every (agency, member) with income in M — members who
left during M included — is paid what `income_model.month_figures` owes beyond what earlier rows of
the same (M, agency, member) paid (`income_model.still_due`): the target rewards as an
`agency_settlement` ledger transaction (USD cents, ledger-only: `apply_held_txn` in the PostgreSQL
transaction that inserts the settlement row) and the excess coins × IECP as an `agency_iecp`
transaction of diamonds into the member's live wallet (`apply_with_wallet`). Then every agency of
the month gets its owner's share (ASP) less the advances drawn on it (`agency_share`).

Exactly once, whatever is killed when:
- a settlement row is unique (one `month_end` row per (M, agency, member), one `leaver` row per
  ended membership), and its USD payment commits with it;
- the diamond credit's transaction id and idempotency key are derived from the row and stored on it
  before the wallet is touched (`iecp_state` 'pending'); a run that finds a pending row drains the
  outboxes, looks for the transaction in the ledger and re-applies it (same key) only if absent;
- the month has a run marker (`running`, then `closed`: a closed month is never settled again) and
  a PostgreSQL advisory lock held for the whole run, so two processes never settle it at once; a
  leaver's and the month end's settlement of one member take a lock of that member in turn.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from engine.accounts import store as accounts_store
from engine.agency import income_store
from engine.agency import settlement_store as store
from engine.agency.income_model import (
    Target,
    agency_share_cents,
    month_bounds,
    month_figures,
    month_of,
    month_text,
    next_month,
    share_bps_of,
    still_due,
)
from engine.agency.live import Agencies
from engine.agency.model import REVIEW_PERMISSION, check_visible
from engine.agency.settlement_model import (
    SettlementsQuery,
    iecp_idempotency_key,
    iecp_txn,
    member_item,
    member_key,
    month_key,
    month_of_key,
    previous_month,
    reward_txn,
    run_item,
    share_txn,
    txn_id,
)
from engine.agency.store import get as get_agency
from engine.agency.store import member as member_of
from engine.audit.store import record_txn as audit_txn
from engine.economy import flusher
from engine.economy import store as economy_store
from engine.economy.actions import apply_with_wallet
from engine.errors import DomainError, forbidden
from engine.jobs import Periodic
from engine.services import Services
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.agency.settlement")
SWEEP_SECONDS = 60.0
# A diamond credit still pending this long after its row was written was interrupted: the sweep
# completes it (younger ones are most likely being applied right now by their own run).
PENDING_STALE = dt.timedelta(minutes=2)
# A leaver's settlement drains at most this many outbox batches per shard first (a month end drains
# them all): a gift still queued then is paid by the month end, which pays what is still due.
LEAVER_FLUSH_BATCHES = 4
# The outbox consumer a settlement drains as: the serving process's own (its instance id, as its
# flusher), or this one for a command-line run.
CONSUMER = "agency-settlement"

Kind = Literal["month_end", "leaver"]
# A test seam: called after each member's row committed ("committed"), after its diamonds were
# credited but before the row says so ("credited"), and when the member is done ("done").
Hook = Callable[[str, dict[str, Any]], Awaitable[None]]
Outcome = Literal["closed", "already", "busy"]


class MonthNotOver(DomainError):
    def __init__(self, month: dt.date, tz: str) -> None:
        super().__init__("month_not_over", f"{month_text(month)} has not ended yet in {tz}: only a past business "
                         "month can be settled.", status=409)  # fmt: skip


# --- one member -------------------------------------------------------------------------------------


class Rules:
    """The targets and settings a settlement computes with, read once per run (every member of a
    month end under the same rules) or per leaver."""

    def __init__(self, targets: list[Target], settings: dict[str, int]) -> None:
        self.targets, self.settings = targets, settings

    @classmethod
    async def read(cls, svc: Services) -> Rules:
        async with svc.pool.acquire() as conn:
            return cls(await income_store.targets(conn), await economy_store.settings(conn))


async def _settle_member(
    svc: Services, rules: Rules, month: dt.date, agency_id: int, user_id: int, kind: Kind,
    membership_id: int | None, hook: Hook | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """Pay one member of one agency what month M still owes them; their row (None: no income)."""
    tz = svc.config.business_timezone
    start, end = month_bounds(month, tz)
    async with svc.pool.acquire() as conn:
        async with conn.transaction():
            await store.lock_member_txn(conn, month, agency_id, user_id)
            existing = (await store.month_end_row(conn, month, agency_id, user_id) if kind == "month_end"
                        else await store.leaver_row(conn, membership_id or 0))  # fmt: skip
            if existing is not None:
                row, fresh = existing, False
            else:
                settings = rules.settings
                cap = settings["agency_valid_seconds_per_day"]
                found = await income_store.member_totals(conn, agency_id, start, end, tz, cap, [user_id])
                totals = found.get(user_id)
                if totals is None:
                    return None
                figures = month_figures(rules.targets, settings, totals["coins"],
                                        totals["mic_ms"], totals["valid_seconds"])  # fmt: skip
                paid_usd, paid_diamonds = await store.paid_so_far(conn, month, agency_id, user_id)
                reward = still_due(figures.reward_usd_cents, paid_usd)
                diamonds = still_due(figures.iecp_diamonds, paid_diamonds)
                key = member_key(kind, month, agency_id, user_id, membership_id)
                inserted = await store.insert_member_row_txn(conn, {
                    "month": month, "agency_id": agency_id, "user_id": user_id, "kind": kind,
                    "membership_id": membership_id, "coins": figures.coins, "valid_seconds": figures.valid_seconds,
                    "reached_coins": figures.reached[-1].coins if figures.reached else 0,
                    "excess_coins": figures.excess_coins, "reward_total_usd_cents": figures.reward_usd_cents,
                    "iecp_total_diamonds": figures.iecp_diamonds, "reward_usd_cents": reward,
                    "iecp_diamonds": diamonds,
                    "reward_txn_id": txn_id("agency_settlement", key) if reward else None,
                    "iecp_txn_id": txn_id("agency_iecp", key) if diamonds else None,
                    "iecp_state": "pending" if diamonds else "none",
                })  # fmt: skip
                # The member's lock is held and the row was absent: the insert cannot conflict.
                assert inserted is not None, "settlement row appeared under its lock"
                row, fresh = inserted, True
                if reward and await economy_store.apply_held_txn(conn, reward_txn(row)) == "insufficient":
                    raise RuntimeError("a mint debit was refused")  # the mint is never short
    if fresh:
        svc.metrics.agency_settled_members.labels(kind).inc()
        svc.metrics.agency_settlement_paid.labels("usd_cents", "reward").inc(row["reward_usd_cents"])
        log.info("agency member settled", extra={
            "month": month_text(month), "agency_id": agency_id, "user_id": user_id, "kind": kind,
            "coins": row["coins"], "usd_cents": row["reward_usd_cents"], "diamonds": row["iecp_diamonds"],
        })  # fmt: skip
    if hook is not None:
        await hook("committed", row)
    if row["iecp_state"] == "pending":
        await _credit_diamonds(svc, row, check_ledger=not fresh, hook=hook)
    if hook is not None:
        await hook("done", row)
    return row


async def _credit_diamonds(svc: Services, row: dict[str, Any], *, check_ledger: bool, hook: Hook | None) -> None:
    """The row's live diamond credit, once: an interrupted one (`check_ledger`) is looked for in the
    ledger first (the caller drained the outboxes) and applied again, with the same idempotency key,
    only when it is not there."""
    recorded = False
    if check_ledger:
        async with svc.pool.acquire() as conn:
            recorded = await store.txn_recorded(conn, str(row["iecp_txn_id"]))
    if not recorded:
        result = await apply_with_wallet(svc, iecp_txn(row), iecp_idempotency_key(row["id"]))
        if not result.ok:  # a credit is refused only when Redis is broken: the next run retries
            raise RuntimeError(f"diamond credit of settlement {row['id']} refused: {result.code}")
        if not result.replay:
            svc.metrics.agency_settlement_paid.labels("diamonds", "iecp").inc(row["iecp_diamonds"])
        if hook is not None:
            await hook("credited", row)
    async with svc.pool.acquire() as conn:
        await store.mark_iecp_done(conn, row["id"])


async def resume_pending(
    svc: Services, month: dt.date | None = None, older_than: dt.datetime | None = None, consumer: str = CONSUMER
) -> int:
    """Complete the diamond credits a killed run (or leaver settlement) left pending; how many."""
    async with svc.pool.acquire() as conn:
        rows = await store.pending_iecp(conn, month, older_than)
    if not rows:
        return 0
    # An applied credit may still sit in an outbox: drain them all, then the ledger tells.
    await flusher.flush_all(svc, svc.wallets, consumer)
    for row in rows:
        await _credit_diamonds(svc, row, check_ledger=True, hook=None)
    log.info("agency settlement diamond credits resumed", extra={"rows": len(rows)})
    return len(rows)


# --- one agency -------------------------------------------------------------------------------------


async def _settle_share(svc: Services, rules: Rules, month: dt.date, agency_id: int) -> None:
    """The owner's share of every member coin of the month, less the advances drawn on it; never
    negative (advances beyond the share are not clawed back)."""
    start, end = month_bounds(month, svc.config.business_timezone)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_share_txn(conn, month, agency_id)
        if await store.share_row(conn, month, agency_id) is not None:
            return
        settings = rules.settings
        coins = await income_store.agency_coins(conn, agency_id, start, end)
        bps = share_bps_of(await store.agency_share_bps(conn, agency_id), settings)
        share_cents = agency_share_cents(coins, bps, settings)
        advances = await store.advances(conn, agency_id, month_text(month))
        paid = still_due(share_cents, advances)
        txn = share_txn(month, agency_id, paid, share_cents, advances, coins) if paid else None
        await store.insert_share_row_txn(conn, {
            "month": month, "agency_id": agency_id, "coins": coins, "share_bps": bps, "share_usd_cents": share_cents,
            "advances_usd_cents": advances, "paid_usd_cents": paid, "txn_id": txn.txn_id if txn else None,
        })  # fmt: skip
        if txn is not None and await economy_store.apply_held_txn(conn, txn) == "insufficient":
            raise RuntimeError("a mint debit was refused")
    svc.metrics.agency_settlement_paid.labels("usd_cents", "share").inc(paid)
    log.info("agency share settled", extra={"month": month_text(month), "agency_id": agency_id, "coins": coins,
                                            "share_usd_cents": share_cents, "advances_usd_cents": advances,
                                            "paid_usd_cents": paid})  # fmt: skip


# --- the month ---------------------------------------------------------------------------------------


def check_month_over(svc: Services, month: dt.date, now: dt.datetime | None = None) -> None:
    tz = svc.config.business_timezone
    if month_bounds(month, tz)[1] > (now or dt.datetime.now(dt.UTC)):
        raise MonthNotOver(month, tz)


async def settle_month(
    svc: Services, month: dt.date, *, hook: Hook | None = None, consumer: str = CONSUMER
) -> tuple[Outcome, dict[str, Any] | None]:
    """Settle business month `month` (it must have ended): "closed" with the run's totals, "already"
    (closed before: nothing paid) or "busy" (another process holds the month's lock)."""
    check_month_over(svc, month)
    start, end = month_bounds(month, svc.config.business_timezone)
    async with svc.pool.acquire() as lock_conn:
        lock = lock_conn.transaction()
        await lock.start()
        try:
            if not await store.try_lock_month_txn(lock_conn, month):
                return "busy", None
            async with svc.pool.acquire() as conn:
                current = await store.run(conn, month)
                if current is not None and current["state"] == "closed":
                    return "already", current
                async with conn.transaction():
                    marker = await store.start_run_txn(conn, month)
            log.info("agency settlement started", extra={"month": month_text(month), "attempt": marker["attempts"]})
            await flusher.flush_all(svc, svc.wallets, consumer)  # the month's last gifts into the ledger
            await resume_pending(svc, month, consumer=consumer)
            async with svc.pool.acquire() as conn:
                earners = await store.earners(conn, start, end)
            rules = await Rules.read(svc)
            for agency_id, user_id in earners:
                await _settle_member(svc, rules, month, agency_id, user_id, "month_end", None, hook)
            for agency_id in sorted({agency for agency, _user in earners}):
                await _settle_share(svc, rules, month, agency_id)
            await resume_pending(svc, month, consumer=consumer)  # a leaver's credit interrupted meanwhile
            async with svc.pool.acquire() as conn, conn.transaction():
                closed = await store.close_run_txn(conn, month)
                await audit_txn(conn, actor_id=None, action="agency.settlement_close", target_type="agency_month",
                                target_id=month_text(month), details=run_item(closed))  # fmt: skip
        finally:
            try:
                await lock.rollback()  # the lock goes with the transaction
            except Exception:  # a connection broken by a cancellation is discarded by the pool
                log.debug("settlement lock transaction already gone", exc_info=True)
    log.info("agency settlement closed", extra={"month": month_text(month), **run_item(closed)})
    return "closed", closed


async def settle_due(svc: Services, now: dt.datetime | None = None, consumer: str = CONSUMER) -> list[str]:
    """The job's step: settle the business month before the current one once it has been over for
    AGENCY_SETTLEMENT_GRACE_MINUTES (and any earlier month a killed run left open, or the job missed
    since the last run), then complete stale pending diamond credits of any month; the months it closed."""
    now = now or dt.datetime.now(dt.UTC)
    tz = svc.config.business_timezone
    due = previous_month(month_of(now - dt.timedelta(minutes=svc.config.agency_settlement_grace_minutes), tz))
    async with svc.pool.acquire() as conn:
        months = await store.unclosed_before(conn, due)
        latest = await store.latest_run_month(conn)
        run = await store.run(conn, due)
    # Months the job never reached (the service was down at their end) since the last one run; with
    # no run at all (a new deployment) only the one just over: older months are settled by hand.
    month = next_month(latest) if latest is not None else due
    while month < due:
        months.append(month)
        month = next_month(month)
    if run is None or run["state"] != "closed":
        months.append(due)
    months = sorted(set(months))
    closed = []
    for month in months:
        outcome, _ = await settle_month(svc, month, consumer=consumer)
        if outcome == "closed":
            closed.append(month_text(month))
    await resume_pending(svc, older_than=now - PENDING_STALE, consumer=consumer)
    return closed


def register_settlement_jobs(ag: Agencies) -> None:
    """Every process runs the sweep; the month's advisory lock lets one of them settle it."""

    async def step() -> list[str]:
        return await settle_due(ag.svc, consumer=ag.rt.instance_id)  # drains as this process's flusher

    ag.rt.background.append(Periodic("agency-settlement", step, SWEEP_SECONDS))


# --- a leaver ----------------------------------------------------------------------------------------


async def settle_leaver(ag: Agencies, agency_id: int, user_id: int, membership_id: int) -> None:
    """The final settlement of an ended membership: the month so far, paid now (called after the
    commit that ended it). Never raises: what it could not pay, the month end pays (still due)."""
    svc = ag.svc
    try:
        async with svc.pool.acquire() as conn:
            membership = await store.ended_membership(conn, membership_id)
            if (membership is None or membership["agency_id"] != agency_id or membership["user_id"] != user_id
                    or membership["left_at"] is None):  # fmt: skip
                log.warning("leaver settlement of a membership that did not end", extra={
                    "agency_id": agency_id, "user_id": user_id, "membership_id": membership_id})  # fmt: skip
                return
            month = month_of(membership["left_at"], svc.config.business_timezone)
            run = await store.run(conn, month)
        if run is not None and run["state"] == "closed":
            log.info("leaver's month already settled", extra={"month": month_text(month), "user_id": user_id})
            return
        for shard in range(svc.keys.economy_shards):  # the gifts before the leave, into the ledger
            for _batch in range(LEAVER_FLUSH_BATCHES):
                if not await flusher.flush_shard(svc, svc.wallets, shard, ag.rt.instance_id):
                    break
        row = await _settle_member(svc, await Rules.read(svc), month, agency_id, user_id, "leaver", membership_id)
        if row is not None:
            async with svc.pool.acquire() as conn:
                await audit_txn(conn, actor_id=None, action="agency.leaver_settlement", target_type="agency",
                                target_id=agency_id, details={"user_id": user_id, "membership_id": membership_id,
                                                              "month": month_text(month), "settlement_id": row["id"],
                                                              "usd_cents": row["reward_usd_cents"],
                                                              "diamonds": row["iecp_diamonds"]})  # fmt: skip
    except Exception:
        log.exception("leaver settlement failed; the month end pays what is due",
                      extra={"agency_id": agency_id, "user_id": user_id, "membership_id": membership_id})  # fmt: skip


async def settle_leavers(ag: Agencies, agency_id: int, user_ids: list[int]) -> None:
    """After a commit that ended these members' memberships of the agency (a removal, a leave, the
    agency closed): each one's final settlement."""
    for user_id in user_ids:
        async with ag.svc.pool.acquire() as conn:
            membership_id = await store.last_ended_membership(conn, agency_id, user_id)
        if membership_id is not None:
            await settle_leaver(ag, agency_id, user_id, membership_id)


# --- reads ---------------------------------------------------------------------------------------------


async def admin_runs(ag: Agencies, q: SettlementsQuery) -> dict[str, Any]:
    month = q.month_date()
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        rows = await store.runs_page(conn, month, month_of_key(before) if before is not None else None, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (month_key(r["month"]),))
    return {"items": [run_item(r) for r in items], "next_cursor": next_cursor}


async def agency_settlements(ag: Agencies, user_id: int, agency_id: int, q: SettlementsQuery) -> dict[str, Any]:
    """The owner's and the agency admins' (and staff's) per-member rows."""
    month = q.month_date()
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        staff = REVIEW_PERMISSION in await accounts_store.permission_names(conn, user_id)
        agency = check_visible(await get_agency(conn, agency_id), user_id, staff)
        standing = await member_of(conn, agency_id, user_id)
        admin = standing is not None and standing["role"] == "admin"
        if not (staff or admin or agency["owner_id"] == user_id):
            raise forbidden("Only the agency's owner and admins see its settlements.")
        rows = await store.member_rows_page(conn, agency_id, month, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [member_item(r) for r in items], "next_cursor": next_cursor}
