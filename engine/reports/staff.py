"""The moderation queue (staff holding `reports.review`): list cases by priority, assign them,
resolve them with an action applied at once, and review appeals. Each step is audited; an action's
live effect goes out after the case's transaction committed (a case is resolved at most once, so
two reviewers never both apply one)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine.accounts import staff as account_staff
from engine.accounts import store as accounts_store
from engine.accounts.actions import Client
from engine.audit.store import record_txn
from engine.errors import forbidden, not_found, validation_error
from engine.notifications.model import Notice
from engine.reports import store
from engine.reports.live import Reports
from engine.reports.model import (
    OPEN_STATES,
    AssignBody,
    QueueQuery,
    ResolveBody,
    ReviewBody,
    action_text,
    appeal_item,
    case_item,
    conflict,
    staff_report_item,
)  # fmt: skip
from engine.rooms import moderation
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.reports.staff")
REVIEW_PERMISSION = "reports.review"


async def queue(reports: Reports, q: QueueQuery) -> dict[str, Any]:
    after = decode_cursor(q.cursor, int, int, int, int)
    states: list[str] = [q.state] if q.state is not None else list(OPEN_STATES)
    async with reports.svc.pool.acquire() as conn:
        rows = await store.queue_page(conn, states=states, target_type=q.target_type, reason=q.reason,
                                      source=q.source, assignee=q.assignee, after=after,
                                      limit=q.limit + 1)  # fmt: skip
    items, next_cursor = page(rows, q.limit, _queue_position)
    return {"items": [case_item(r) for r in items], "next_cursor": next_cursor}


def _queue_position(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return int(row["high_priority"]), row["reporter_count"], row["strikes"], row["id"]


async def get_case(reports: Reports, case_id: int) -> dict[str, Any]:
    async with reports.svc.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
    if case is None:
        raise not_found("Report")
    return case_item(case)


async def case_reports(reports: Reports, case_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    (after,) = decode_cursor(cursor, int) or (None,)
    async with reports.svc.pool.acquire() as conn:
        if await store.get_case(conn, case_id) is None:
            raise not_found("Report")
        rows = await store.case_reports(conn, case_id, after, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [staff_report_item(r) for r in items], "next_cursor": next_cursor}


async def do_assign(reports: Reports, actor_id: int, case_id: int, body: AssignBody) -> dict[str, Any]:
    async with reports.svc.pool.acquire() as conn:
        if body.assignee_id is not None and REVIEW_PERMISSION not in await accounts_store.permission_names(
            conn, body.assignee_id
        ):
            raise validation_error({"assignee_id": ["The assignee must be a reviewer (reports.review)."]})
        async with conn.transaction():
            if not await store.assign_txn(conn, case_id, body.assignee_id):
                raise _not_open(await store.get_case(conn, case_id))
            await store.set_reports_state_txn(conn, case_id, "open" if body.assignee_id is None else "reviewing")
            await record_txn(conn, actor_id=actor_id, action="report.assign", target_type="report", target_id=case_id,
                             details={"assignee_id": body.assignee_id})  # fmt: skip
        case = await store.get_case(conn, case_id)
    log.info("report assigned", extra={"case_id": case_id, "by": actor_id, "assignee_id": body.assignee_id})
    assert case is not None
    return case_item(case)


def _not_open(case: dict[str, Any] | None) -> Exception:
    return not_found("Report") if case is None else conflict("report_resolved", "The report was resolved already.")


async def do_resolve(reports: Reports, actor_id: int, case_id: int, body: ResolveBody,
                     client: Client) -> dict[str, Any]:  # fmt: skip
    """Resolve the case with an action; the action is applied live once the case is claimed."""
    svc = reports.svc
    async with svc.pool.acquire() as conn:
        case = await store.get_case(conn, case_id)
        if case is None:
            raise not_found("Report")
        body.check(case, actor_id, await accounts_store.permission_names(conn, actor_id))
        until = body.until(dt.datetime.now(dt.UTC))
        async with conn.transaction():
            claimed = await store.claim_txn(conn, case_id, action=body.action, until=until, note=body.note,
                                            actor_id=actor_id)  # fmt: skip
            if claimed is None:
                raise _not_open(case)
            await store.set_reports_state_txn(conn, case_id, claimed["state"])
            await record_txn(conn, actor_id=actor_id, action="report.resolve", target_type="report",
                             target_id=case_id, ip=client.ip,
                             details={"action": body.action, "until": until.isoformat() if until else None,
                                      "note": body.note, "subject_user_id": case["subject_user_id"]})  # fmt: skip
    applied = await _apply(reports, actor_id, claimed, client)
    svc.metrics.reports_resolved.labels(body.action).inc()
    log.info("report resolved", extra={"case_id": case_id, "by": actor_id, "action": body.action, "applied": applied})
    return {**(await get_case(reports, case_id)), "applied": applied}


async def _apply(reports: Reports, actor_id: int, case: dict[str, Any], client: Client) -> bool:
    """The action's live effect; False where there was nothing left to act on (a message the room's
    history no longer holds)."""
    action, user_id, until, note = case["action"], case["subject_user_id"], case["action_until"], case["note"]
    svc = reports.svc
    if action == "dismiss":
        return True
    if action == "delete_message":
        deleted = await moderation.do_delete_message(reports.rooms, actor_id, int(case["room_id"]), case["target_id"],
                                                     reason=note)  # fmt: skip
        applied = deleted is not None
    elif action == "mute":
        await moderation.do_platform_mute(reports.rooms, actor_id, user_id, until, reason=note, case_id=case["id"])
        applied = True
    elif action in ("suspend", "ban"):
        status = "suspended" if action == "suspend" else "banned"
        await account_staff.do_set_status(svc, actor_id, user_id, status, until=until, reason=note, client=client)
        applied = True
    else:
        applied = True  # a warning is the notification below
    if user_id is not None:
        data = {"case_id": case["id"], "action": action, "until": until.isoformat() if until else None}
        text = action_text(action, until)
        await reports.notifications.notify(Notice(user_id, "system", text, target_type="report",
                                                  target_id=str(case["id"]), data=data))  # fmt: skip
    return applied


async def appeals(reports: Reports, state: str, cursor: str | None, limit: int) -> dict[str, Any]:
    (after,) = decode_cursor(cursor, int) or (None,)
    async with reports.svc.pool.acquire() as conn:
        rows = await store.appeal_page(conn, state, after, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [appeal_item(r) for r in items], "next_cursor": next_cursor}


async def do_review(reports: Reports, actor_id: int, appeal_id: int, body: ReviewBody,
                    client: Client) -> dict[str, Any]:  # fmt: skip
    """Uphold or overturn an appeal; overturning lifts the action where it can be lifted (a mute, a
    suspension, a ban; a warning has nothing to lift and a deleted message is not restored)."""
    svc = reports.svc
    state = "upheld" if body.decision == "uphold" else "overturned"
    async with svc.pool.acquire() as conn, conn.transaction():
        pending = await store.get_appeal(conn, appeal_id)
        if pending is None:
            raise not_found("Appeal")
        if pending["user_id"] == actor_id:
            raise forbidden("You cannot review your own appeal.")
        appeal = await store.review_appeal_txn(conn, appeal_id, state, actor_id, body.note)
        if appeal is None:
            raise conflict("appeal_reviewed", "The appeal was reviewed already.")
        case = await store.get_case(conn, int(appeal["case_id"]), lock=True)
        assert case is not None
        if state == "overturned":
            await store.lift_case_txn(conn, case["id"])
        await record_txn(conn, actor_id=actor_id, action=f"report.appeal_{body.decision}", target_type="report",
                         target_id=case["id"], ip=client.ip,
                         details={"appeal_id": appeal_id, "note": body.note, "action": case["action"]})  # fmt: skip
    lifted = await _lift(reports, actor_id, case, client) if state == "overturned" else False
    svc.metrics.reports_resolved.labels(f"appeal_{body.decision}").inc()
    log.info("appeal reviewed", extra={"appeal_id": appeal_id, "by": actor_id, "decision": body.decision,
                                       "lifted": lifted})  # fmt: skip
    text = "Your appeal was accepted: the action was lifted." if state == "overturned" else "Your appeal was rejected."
    await reports.notifications.notify(Notice(int(appeal["user_id"]), "system", text, target_type="report",
                                              target_id=str(case["id"]),
                                              data={"case_id": case["id"], "appeal": state}))  # fmt: skip
    return {**appeal_item(appeal), "lifted": lifted}


async def _lift(reports: Reports, actor_id: int, case: dict[str, Any], client: Client) -> bool:
    action, user_id = case["action"], case["subject_user_id"]
    if action == "mute":
        return await moderation.do_lift_platform_mute(reports.rooms, actor_id, user_id, case_id=case["id"])
    if action in ("suspend", "ban"):
        reason = f"appeal against report {case['id']} overturned"
        await account_staff.do_set_status(reports.svc, actor_id, user_id, "active", until=None, reason=reason,
                                          client=client)  # fmt: skip
        return True
    return False
