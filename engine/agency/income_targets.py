"""Monthly coin targets (issue 13 §3): the admin's active set, an agency's share (ASP) set by staff,
and the watcher that tells a member and their agency's owner, once, when a target is crossed.

The watcher (a Periodic on every process) takes income rows queued by sql/0021's trigger
(FOR UPDATE SKIP LOCKED, so processes share them), recomputes each concerned member's month and
records every target reached in agency_target_completions, whose unique key
(month, agency, member, target) is what makes each crossing told once; the notices are stored in
that same transaction and the `income_target.*` events pushed after its commit.
"""

from __future__ import annotations

import logging
from typing import Any

from engine.agency import income_store, store
from engine.agency import member_income_store as mstore
from engine.agency.income import SWEEP_SECONDS, figures_txn, sweep_exchanges
from engine.agency.income_model import Target, month_of, month_text, share_bps_of
from engine.agency.live import Agencies
from engine.agency.member_income_model import (
    ShareBody,
    TargetsBody,
    member_text,
    owner_text,
    target_ref,
    targets_view,
)
from engine.audit.store import record_txn as audit_txn
from engine.economy import store as economy_store
from engine.errors import not_found
from engine.jobs import Periodic
from engine.notifications.model import Notice

log = logging.getLogger("flylive.agency.targets")
WATCH_SECONDS = 2.0
WATCH_BATCH = 500


async def targets(ag: Agencies) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn:
        settings = await economy_store.settings(conn)
        return targets_view(await income_store.targets(conn), bool(settings["agency_targets_cumulative"]))


async def do_replace_targets(ag: Agencies, actor_id: int, body: TargetsBody, ip: str | None) -> dict[str, Any]:
    levels = body.levels()
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        await mstore.replace_targets_txn(conn, levels, actor_id)
        await audit_txn(conn, actor_id=actor_id, action="agency.targets", target_type="settings", ip=ip,
                        details={"targets": [list(level) for level in levels]})  # fmt: skip
    log.info("agency targets replaced", extra={"actor_id": actor_id, "targets": len(levels)})
    return await targets(ag)


async def do_set_share(ag: Agencies, actor_id: int, agency_id: int, body: ShareBody, ip: str | None) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        settings = await economy_store.settings(conn)
        body.check(settings["agency_share_max_bps"])
        row = await mstore.set_share_txn(conn, agency_id, body.share_bps)
        if row is None:
            raise not_found("Agency")
        await audit_txn(conn, actor_id=actor_id, action="agency.share", target_type="agency", target_id=agency_id,
                        ip=ip, details={"share_bps": body.share_bps})  # fmt: skip
    return {"agency_id": agency_id, "share_bps": share_bps_of(row["share_bps"], settings),
            "custom": row["share_bps"] is not None, "default_bps": settings["agency_share_default_bps"],
            "max_bps": settings["agency_share_max_bps"]}  # fmt: skip


class _Crossing:
    def __init__(self, month: str, agency: dict[str, Any], member: dict[str, Any], target: Target, coins: int) -> None:
        self.month, self.agency, self.member, self.target, self.coins = month, agency, member, target, coins

    def event(self, for_owner: bool) -> dict[str, Any]:
        base = {"agency": {"id": self.agency["id"], "name": self.agency["name"]}, "month": self.month,
                "target": target_ref(self.target), "coins": self.coins}  # fmt: skip
        return {**base, "member": self.member} if for_owner else base

    def notices(self) -> list[Notice]:
        data = {"agency_id": self.agency["id"], "month": self.month, "target_id": self.target.id,
                "user_id": self.member["id"]}  # fmt: skip
        to_member = Notice(self.member["id"], "agency", member_text(self.agency["name"], self.target, self.month),
                           target_type="agency", target_id=str(self.agency["id"]),
                           data={**data, "event": "income_target.member_completed"})  # fmt: skip
        to_owner = Notice(self.agency["owner_id"], "agency", owner_text(self.member["name"], self.target, self.month),
                          actor_id=self.member["id"], target_type="agency", target_id=str(self.agency["id"]),
                          data={**data, "event": "income_target.completed"})  # fmt: skip
        return [to_member, to_owner]


async def watch_targets(ag: Agencies) -> int:
    """One pass over the queued income rows; how many target crossings it told."""
    svc = ag.svc
    tz = svc.config.business_timezone
    crossings: list[_Crossing] = []
    stored: list[dict[str, Any] | None] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        claimed = await mstore.claim_pending_txn(conn, WATCH_BATCH)
        if not claimed:
            return 0
        settings = await economy_store.settings(conn)
        active = await income_store.targets(conn)
        concerned = sorted({(r["agency_id"], r["user_id"], month_of(r["happened_at"], tz)) for r in claimed})
        agencies: dict[int, dict[str, Any] | None] = {}
        for agency_id, user_id, month in concerned:
            figures = await figures_txn(conn, tz, agency_id, user_id, month, settings, active)
            for target in figures.reached:
                if not await mstore.insert_completion_txn(conn, month_text(month), agency_id, user_id, target,
                                                          figures.coins):  # fmt: skip
                    continue
                if agency_id not in agencies:
                    agencies[agency_id] = await store.get(conn, agency_id)
                agency = agencies[agency_id]
                member = await store.person(conn, user_id)
                if agency is None or member is None:
                    continue
                crossing = _Crossing(month_text(month), agency, member, target, figures.coins)
                crossings.append(crossing)
                stored += [await ag.notifications.record_txn(conn, notice) for notice in crossing.notices()]
    for crossing in crossings:
        await ag.push(crossing.member["id"], "income_target.member_completed", crossing.event(False))
        await ag.push(crossing.agency["owner_id"], "income_target.completed", crossing.event(True))
        log.info("income target crossed", extra={"agency_id": crossing.agency["id"], "month": crossing.month,
                 "user_id": crossing.member["id"], "target_coins": crossing.target.coins})  # fmt: skip
    svc.metrics.income_targets_completed.inc(len(crossings))
    await ag.notifications.push_all([s for s in stored if s is not None])
    return len(crossings)


def register_income_jobs(ag: Agencies) -> None:
    """Every process watches for target crossings and finishes interrupted salary exchanges."""
    ag.rt.background.append(Periodic("agency-income-targets", lambda: watch_targets(ag), WATCH_SECONDS))
    ag.rt.background.append(Periodic("salary-exchange-sweep", lambda: sweep_exchanges(ag), SWEEP_SECONDS))
