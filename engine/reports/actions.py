"""What users do with reports: file one (merged into their open report on the same target), list
theirs with what became of them, and appeal an action taken against them."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.accounts.actions import Client, verify_credentials
from engine.db import Conn
from engine.errors import not_found
from engine.reports import store
from engine.reports.live import Reports
from engine.reports.model import (
    AppealBody,
    ReportBody,
    SignedOutAppealBody,
    Target,
    appeal_item,
    check_appealable,
    conflict,
    report_item,
)
from engine.reports.targets import RESOLVERS
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.reports")


async def do_report(reports: Reports, reporter: int, body: ReportBody) -> tuple[dict[str, Any], bool]:
    """File a report; the report and whether it is new (False: merged into the reporter's open one)."""
    svc = reports.svc
    await svc.limiter.check("reports", str(reporter), svc.config.report_rate_limit)
    async with svc.pool.acquire() as conn:
        target = await RESOLVERS[body.target_type](reports.rooms, conn, reporter, body)
        async with conn.transaction():
            case_id, state = await store.upsert_case_txn(conn, target, source="report", reason=body.reason)
            row = await store.insert_report_txn(conn, case_id, state, reporter, target, body.reason, body.details,
                                                body.evidence_urls)  # fmt: skip
            created = bool(row["created"])
            await store.note_report_txn(conn, case_id, body.reason, new_reporter=created)
            escalated = await _check_threshold_txn(reports, conn, target) if created else None
        report = await store.get_report(conn, int(row["id"]))
    assert report is not None
    svc.metrics.reports_opened.labels("report" if created else "merged", target.type).inc()
    if escalated is not None:
        svc.metrics.reports_opened.labels("report_threshold", "user").inc()
        log.info("report threshold reached", extra={"user_id": target.subject_user_id, "case_id": escalated})
    return report_item(report), created


async def _check_threshold_txn(reports: Reports, conn: Conn, target: Target) -> int | None:
    """The automatic rule: REPORT_AUTO_THRESHOLD distinct reporters of one user (on any of their
    targets) within REPORT_AUTO_WINDOW_HOURS open a high-priority case on the user (or raise the
    user's open case to high priority); its id when the rule fired."""
    config = reports.svc.config
    user_id = target.subject_user_id
    if user_id is None or config.report_auto_threshold <= 0:
        return None
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=config.report_auto_window_hours)
    reporters = await store.distinct_reporters(conn, user_id, since)
    if reporters < config.report_auto_threshold:
        return None
    snapshot = {"distinct_reporters": reporters, "window_hours": config.report_auto_window_hours}
    rule = Target("user", str(user_id), user_id, snapshot=snapshot)
    case_id, _state = await store.upsert_case_txn(conn, rule, source="report_threshold", reason=None,
                                                  high_priority=True)  # fmt: skip
    return case_id


async def my_reports(reports: Reports, reporter: int, *, state: str | None, cursor: str | None,
                     limit: int) -> dict[str, Any]:  # fmt: skip
    (before,) = decode_cursor(cursor, int) or (None,)
    async with reports.svc.pool.acquire() as conn:
        rows = await store.reporter_page(conn, reporter, state, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [report_item(r) for r in items], "next_cursor": next_cursor}


async def do_appeal(reports: Reports, user_id: int, case_id: int, body: AppealBody) -> dict[str, Any]:
    """The subject of an actioned case appeals it, once, within the window (staff review it)."""
    async with reports.svc.pool.acquire() as conn, conn.transaction():
        case = await store.get_case(conn, case_id, lock=True)
        if case is None:
            raise not_found("Report")
        check_appealable(case, user_id, dt.datetime.now(dt.UTC))
        appeal = await store.insert_appeal_txn(conn, case_id, user_id, body.details)
        if appeal is None:
            raise conflict("already_appealed", "This action was appealed already.")
    log.info("action appealed", extra={"case_id": case_id, "user_id": user_id, "appeal_id": appeal["id"]})
    return appeal_item(appeal)


async def do_signed_out_appeal(reports: Reports, body: SignedOutAppealBody, client: Client) -> dict[str, Any]:
    """An appeal by an account that cannot sign in (suspended, banned): its phone and password
    stand for the token, under the login rate limits; the rules are those of `do_appeal`."""
    user = await verify_credentials(reports.svc, body.phone, body.password, client)
    case_id = body.case_id
    if case_id is None:
        async with reports.svc.pool.acquire() as conn:
            case_id = await store.newest_action_in_force(conn, user["id"])
        if case_id is None:
            raise conflict("nothing_to_appeal", "There is no action in force to appeal.")
    return await do_appeal(reports, user["id"], case_id, AppealBody(details=body.details))
