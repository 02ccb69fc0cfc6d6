"""What the moderation dashboard shows beside the REST queue (issue 15 §5): a case with its evidence,
reports and history, appeals with their case, and the statistics. Reads only: every decision goes
through engine/reports/staff.py, as the REST API's do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.errors import not_found
from engine.reports import admin_store, store
from engine.reports.live import Reports
from engine.reports.model import case_item
from engine.social.model import decode_cursor, page

CASE_REPORTS_SHOWN = 100


async def case_view(reports: Reports, case_id: int) -> dict[str, Any]:
    """The case, its reports (oldest first), its audit trail, its appeal and the subject's other cases."""
    async with reports.svc.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        if case is None:
            raise not_found("Report")
        filed = await store.case_reports(conn, case_id, None, CASE_REPORTS_SHOWN)
        history = await admin_store.case_history(conn, case_id)
        appeal = await admin_store.case_appeal(conn, case_id)
        subject = case["subject_user_id"]
        others = await admin_store.subject_cases(conn, subject, case_id) if subject is not None else []
    return {"case": case_item(case), "reports": filed, "history": history, "appeal": appeal, "others": others}


async def appeal_page(reports: Reports, state: str, cursor: str | None, limit: int) -> dict[str, Any]:
    (after,) = decode_cursor(cursor, int) or (None,)
    async with reports.svc.pool.acquire() as conn:
        rows = await admin_store.appeal_rows(conn, state, after, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": items, "next_cursor": next_cursor}


async def stats(reports: Reports, days: int) -> dict[str, Any]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    async with reports.svc.pool.acquire() as conn:
        return {**await admin_store.stats(conn, since), "days": days, "since": since}
