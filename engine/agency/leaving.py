"""Leaving an agency (issue 13 §2): a member asks with a reason; the owner approves or rejects it
— and staff do for the owner's own request, whose approval closes the agency (there is no transfer
of ownership). An approved leaver may join another agency only after AGENCY_REJOIN_COOLDOWN_HOURS,
and is paid the month so far after the commit (`membership.left` → the final settlement,
engine/agency/settlement.py; the owner's own: every released member, through `Dissolved.tell`)."""

from __future__ import annotations

from typing import Any

from engine.agency import store
from engine.agency.actions import Dissolved, dissolve_txn, is_staff
from engine.agency.live import Agencies
from engine.agency.membership import decided_txn, left
from engine.agency.model import LeaveBody, RequestRejectBody, RequestsQuery, check_visible, conflict, request_item
from engine.audit.store import record_txn as audit_txn
from engine.errors import forbidden, not_found
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page


async def do_request_leave(ag: Agencies, user_id: int, agency_id: int, body: LeaveBody) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        agency = check_visible(await store.get(conn, agency_id), user_id, await is_staff(conn, user_id))
        if await store.member(conn, agency_id, user_id) is None:
            raise forbidden("Only the agency's members may ask to leave it.")
        request_id = await store.insert_request_txn(conn, agency_id, user_id, "leave_request", body.reason, None)
        if request_id is None:
            raise conflict("request_pending", "You asked to leave already.")
        await audit_txn(conn, actor_id=user_id, action="agency.leave_request", target_type="agency",
                        target_id=agency_id, details={"request_id": request_id})  # fmt: skip
        stored = None
        if user_id != agency["owner_id"]:
            stored = await ag.notifications.record_txn(
                conn,
                Notice(
                    agency["owner_id"],
                    "agency",
                    f"A member asks to leave {agency['name']}.",
                    actor_id=user_id,
                    target_type="agency_request",
                    target_id=str(request_id),
                    data={"agency_id": agency_id, "event": "leave_request"},
                ),
            )
        row = await store.get_request(conn, request_id)
    await ag.notifications.push(stored)
    assert row is not None
    return request_item(row)


async def leave_requests(ag: Agencies, user_id: int, agency_id: int, q: RequestsQuery) -> dict[str, Any]:
    """The owner's and staff's list."""
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        staff = await is_staff(conn, user_id)
        agency = check_visible(await store.get(conn, agency_id), user_id, staff)
        if not staff and agency["owner_id"] != user_id:
            raise forbidden("Only the agency's owner and staff see its leave requests.")
        rows = await store.requests_page(conn, agency_id=agency_id, user_id=None, kind="leave_request",
                                         status=q.status, before=before, limit=q.limit + 1)  # fmt: skip
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [request_item(r) for r in items], "next_cursor": next_cursor}


async def do_answer_leave(ag: Agencies, user_id: int, agency_id: int, request_id: int,
                          reject: RequestRejectBody | None) -> dict[str, Any]:  # fmt: skip
    """A member's request: the owner (or staff) decide; the owner's own: staff only."""
    approved = reject is None
    reason = reject.reason if reject is not None else None
    dissolved: Dissolved | None = None
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        staff = await is_staff(conn, user_id)
        agency = check_visible(await store.get(conn, agency_id, lock=True), user_id, staff)
        request = await store.get_request(conn, request_id, lock=True)
        if request is None or request["agency_id"] != agency_id or request["kind"] != "leave_request":
            raise not_found("Leave request")
        owners_own = request["user_id"] == agency["owner_id"]
        if not staff and (owners_own or agency["owner_id"] != user_id):
            raise forbidden("Only the owner (or staff, for the owner's own request) decides.")
        if request["status"] != "pending":
            raise conflict("not_pending", "The request is not pending.")
        await store.finish_request_txn(conn, request_id, "approved" if approved else "rejected", user_id, reason)
        if approved and owners_own:
            dissolved = await dissolve_txn(ag, conn, agency, user_id, request["message"], None)
        elif approved:
            await store.end_membership_txn(conn, agency_id, request["user_id"], "left", user_id)
        text = (f"Your request to leave {agency['name']} was approved." if approved
                else f"Your request to leave {agency['name']} was not approved.")  # fmt: skip
        stored = await decided_txn(ag, conn, request, user_id, approved, reason, text)
        row = await store.get_request(conn, request_id)
    if dissolved is not None:
        await dissolved.tell(ag)
    elif approved:
        await left(ag, agency, request["user_id"])
    await ag.notifications.push(stored)
    assert row is not None
    return request_item(row)
