"""Agency membership (issue 13 §2): join requests, invitations, the members list, role changes,
removal. A user is in at most one agency at any instant (the partial unique index
agency_members_one_active); every join of one agency locks its row first, so the member limit holds
when approvals race. Each change is kept (agency_member_events) and audited in its transaction;
the events go out after the commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.agency import income_store, store
from engine.agency.actions import is_staff
from engine.agency.income_model import month_bounds, month_of
from engine.agency.live import Agencies
from engine.agency.model import (
    InviteBody,
    JoinRequestBody,
    MembersQuery,
    RequestRejectBody,
    RequestsQuery,
    agency_ref,
    check_manager,
    check_may_remove,
    check_may_set_role,
    check_visible,
    conflict,
    escape_like,
    invitation_item,
    is_public,
    member_item,
    request_item,
)  # fmt: skip
from engine.agency.settlement import settle_leavers
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.errors import forbidden, not_found, validation_error
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page


async def _agency(conn: Conn, viewer: int, agency_id: int, *, lock: bool = False) -> dict[str, Any]:
    """The agency as the viewer may see it (404 otherwise)."""
    return check_visible(await store.get(conn, agency_id, lock=lock), viewer, await is_staff(conn, viewer))


async def _role_of(conn: Conn, agency_id: int, user_id: int) -> str | None:
    row = await store.member(conn, agency_id, user_id)
    return str(row["role"]) if row else None


async def check_cooldown(ag: Agencies, conn: Conn, user_id: int) -> None:
    hours = ag.svc.config.agency_rejoin_cooldown_hours
    if hours and await store.left_within(conn, user_id, hours):
        raise conflict("cooldown", f"You left an agency less than {hours} hours ago.")


async def _join_txn(ag: Agencies, conn: Conn, agency: dict[str, Any], user_id: int, actor_id: int) -> None:
    """Add the user as a member (the caller holds the agency's row): refused when the agency is not
    open, is full, the user is in an agency already or left one too recently."""
    if not is_public(agency):
        raise conflict("agency_not_open", "The agency is not open.")
    await check_cooldown(ag, conn, user_id)
    if await store.member_count(conn, agency["id"]) >= agency["member_limit"]:
        raise conflict("agency_full", "The agency has reached its member limit.")
    if not await store.add_member_txn(conn, agency["id"], user_id, "member", actor_id):
        raise conflict("in_agency", "The user belongs to an agency already.")
    await store.cancel_user_requests_txn(conn, user_id)


async def _joined(ag: Agencies, agency: dict[str, Any], user_id: int) -> None:
    """After a join's commit: every member hears of it."""
    async with ag.svc.pool.acquire() as conn:
        members = await store.member_ids(conn, agency["id"])
        who = await store.person(conn, user_id)
    event = {"agency": agency_ref(agency), "user": who or {"id": user_id, "name": "", "avatar_image": None},
             "role": "member", "member_count": len(members)}  # fmt: skip
    for member in members:
        await ag.push(member, "agency.member_joined", event)


# --- join requests ----------------------------------------------------------------------------------


async def do_request_join(ag: Agencies, user_id: int, agency_id: int, body: JoinRequestBody) -> dict[str, Any]:
    svc = ag.svc
    await svc.limiter.check("agency_join", str(user_id), svc.config.agency_join_request_rate_limit)
    async with svc.pool.acquire() as conn, conn.transaction():
        agency = await _agency(conn, user_id, agency_id)
        if not is_public(agency) or not agency["is_recruiting"]:
            raise conflict("not_recruiting", "The agency is not taking members.")
        if await store.membership(conn, user_id) is not None:
            raise conflict("in_agency", "You belong to an agency already.")
        await check_cooldown(ag, conn, user_id)
        if agency["member_count"] >= agency["member_limit"]:
            raise conflict("agency_full", "The agency has reached its member limit.")
        request_id = await store.insert_request_txn(conn, agency_id, user_id, "join_request", body.message, None)
        if request_id is None:
            raise conflict("request_pending", "You asked to join this agency already.")
        await audit_txn(conn, actor_id=user_id, action="agency.join_request", target_type="agency",
                        target_id=agency_id, details={"request_id": request_id})  # fmt: skip
        who = await store.person(conn, user_id)
        row = await store.get_request(conn, request_id)
        managers = await store.managers(conn, agency_id)
        text = f"{who['name'] if who else 'Someone'} asked to join {agency['name']}."
        stored = await ag.notifications.record_txn(conn, Notice(agency["owner_id"], "agency", text, actor_id=user_id,
                                                   target_type="agency_request", target_id=str(request_id),
                                                   data={"agency_id": agency_id, "event": "join_request"}))  # fmt: skip
    assert row is not None
    event = {"agency": agency_ref(agency), "request_id": request_id, "user": who, "message": body.message}
    for manager in managers:
        await ag.push(manager, "agency.join_request", event)
    await ag.notifications.push(stored)
    return request_item(row)


async def join_requests(ag: Agencies, user_id: int, agency_id: int, q: RequestsQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        await _agency(conn, user_id, agency_id)
        check_manager(await _role_of(conn, agency_id, user_id))
        rows = await store.requests_page(conn, agency_id=agency_id, user_id=None, kind="join_request",
                                         status=q.status, before=before, limit=q.limit + 1)  # fmt: skip
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [request_item(r) for r in items], "next_cursor": next_cursor}


async def decided_txn(ag: Agencies, conn: Conn, request: dict[str, Any], actor_id: int, approved: bool,
                      reason: str | None, text: str) -> dict[str, Any] | None:  # fmt: skip
    """A join or leave request just decided: audit it, and store the requester's notice (`text`);
    the notice to push after the commit."""
    agency_id, request_id = request["agency_id"], request["id"]
    await audit_txn(
        conn,
        actor_id=actor_id,
        action=f"agency.{request['kind']}_{'approve' if approved else 'reject'}",
        target_type="agency",
        target_id=agency_id,
        details={"request_id": request_id, "user_id": request["user_id"], "reason": reason},
    )
    data = {"agency_id": agency_id, "request_id": request_id, "approved": approved, "reason": reason}
    notice = Notice(request["user_id"], "agency", text, target_type="agency", target_id=str(agency_id), data=data)
    return await ag.notifications.record_txn(conn, notice)


async def do_answer_request(ag: Agencies, user_id: int, agency_id: int, request_id: int,
                            reject: RequestRejectBody | None) -> dict[str, Any]:  # fmt: skip
    """Approve (`reject` None) or reject a pending join request; the requester is told either way."""
    approved = reject is None
    reason = reject.reason if reject is not None else None
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        # The agency's row first: concurrent approvals of one agency run one after the other.
        agency = await _agency(conn, user_id, agency_id, lock=True)
        check_manager(await _role_of(conn, agency_id, user_id))
        request = await store.get_request(conn, request_id, lock=True)
        if request is None or request["agency_id"] != agency_id or request["kind"] != "join_request":
            raise not_found("Join request")
        if request["status"] != "pending":
            raise conflict("not_pending", "The request is not pending.")
        if approved:
            await _join_txn(ag, conn, agency, request["user_id"], user_id)
        await store.finish_request_txn(conn, request_id, "approved" if approved else "rejected", user_id, reason)
        text = (f"Your request to join {agency['name']} has been approved." if approved
                else f"Your request to join {agency['name']} was not approved.")  # fmt: skip
        stored = await decided_txn(ag, conn, request, user_id, approved, reason, text)
        row = await store.get_request(conn, request_id)
    assert row is not None
    if approved:
        await ag.push(request["user_id"], "agency.join_request_approved",
                      {"agency": agency_ref(agency), "request_id": request_id})  # fmt: skip
        await _joined(ag, agency, request["user_id"])
    else:
        await ag.push(request["user_id"], "agency.join_request_rejected",
                      {"agency": agency_ref(agency), "request_id": request_id, "reason": reason})  # fmt: skip
    await ag.notifications.push(stored)
    return request_item(row)


# --- invitations -----------------------------------------------------------------------------------


async def do_invite(ag: Agencies, user_id: int, agency_id: int, body: InviteBody) -> dict[str, Any]:
    svc = ag.svc
    await svc.limiter.check("agency_join", str(user_id), svc.config.agency_join_request_rate_limit)
    async with svc.pool.acquire() as conn, conn.transaction():
        agency = await _agency(conn, user_id, agency_id)
        check_manager(await _role_of(conn, agency_id, user_id))
        if not is_public(agency):
            raise conflict("agency_not_open", "The agency is not open.")
        if await store.person(conn, body.user_id) is None:
            raise validation_error({"user_id": ["The user does not exist."]})
        if await store.membership(conn, body.user_id) is not None:
            raise conflict("in_agency", "The user belongs to an agency already.")
        invitation_id = await store.insert_request_txn(conn, agency_id, body.user_id, "invitation", None, user_id)
        if invitation_id is None:
            raise conflict("invitation_pending", "The user has a pending invitation from this agency.")
        await audit_txn(conn, actor_id=user_id, action="agency.invite", target_type="agency", target_id=agency_id,
                        details={"invitation_id": invitation_id, "user_id": body.user_id})  # fmt: skip
        inviter = await store.person(conn, user_id)
        stored = await ag.notifications.record_txn(
            conn,
            Notice(
                body.user_id,
                "agency",
                f"{agency['name']} invites you to join.",
                actor_id=user_id,
                target_type="agency_invitation",
                target_id=str(invitation_id),
                data={"agency_id": agency_id, "invitation_id": invitation_id},
            ),
        )
        row = await store.get_request(conn, invitation_id)
    assert row is not None
    await ag.push(body.user_id, "agency.invitation",
                  {"agency": agency_ref(agency), "invitation_id": invitation_id, "invited_by": inviter})  # fmt: skip
    await ag.notifications.push(stored)
    return invitation_item(row)


async def my_invitations(ag: Agencies, user_id: int, status: str, cursor: str | None, limit: int) -> dict[str, Any]:
    (before,) = decode_cursor(cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        rows = await store.requests_page(conn, agency_id=None, user_id=user_id, kind="invitation", status=status,
                                         before=before, limit=limit + 1)  # fmt: skip
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [invitation_item(r) for r in items], "next_cursor": next_cursor}


async def do_answer_invitation(ag: Agencies, user_id: int, invitation_id: int, accept: bool) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        request = await store.get_request(conn, invitation_id)
        if request is None or request["user_id"] != user_id or request["kind"] != "invitation":
            raise not_found("Invitation")
        agency = await store.get(conn, request["agency_id"], lock=True)  # before the invitation's row, as approvals
        request = await store.get_request(conn, invitation_id, lock=True)
        assert agency is not None and request is not None
        if request["status"] != "pending":
            raise conflict("not_pending", "The invitation is not pending.")
        if accept:
            await _join_txn(ag, conn, agency, user_id, user_id)
        await store.finish_request_txn(conn, invitation_id, "accepted" if accept else "declined", user_id, None)
        await audit_txn(
            conn,
            actor_id=user_id,
            action=f"agency.invitation_{'accept' if accept else 'decline'}",
            target_type="agency",
            target_id=agency["id"],
            details={"invitation_id": invitation_id},
        )
        row = await store.get_request(conn, invitation_id)
    assert row is not None
    if accept:
        await _joined(ag, agency, user_id)
    return invitation_item(row)


# --- members ----------------------------------------------------------------------------------------


async def members(ag: Agencies, user_id: int, agency_id: int, q: MembersQuery) -> dict[str, Any]:
    """The members list: for the agency's members and staff."""
    (before,) = decode_cursor(q.cursor, int) or (None,)
    name, exact = None, None
    if q.search is not None:
        text = q.search.strip()
        name = escape_like(text)
        exact = int(text) if text.isdigit() and len(text) < 19 else None
    async with ag.svc.pool.acquire() as conn:
        await _agency(conn, user_id, agency_id)
        if await _role_of(conn, agency_id, user_id) is None and not await is_staff(conn, user_id):
            raise forbidden("Only the agency's members may see its members.")
        rows = await store.members_page(conn, agency_id, name, exact, before, q.limit + 1)
        items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
        income = await month_coins(ag, conn, agency_id, [r["user_id"] for r in items])
    return {"items": [member_item(r, income.get(r["user_id"], 0)) for r in items], "next_cursor": next_cursor}


async def month_coins(ag: Agencies, conn: Conn, agency_id: int, user_ids: list[int]) -> dict[int, int]:
    """Each member's coins in this agency in the current business month (one query for the page)."""
    tz = ag.svc.config.business_timezone
    start, end = month_bounds(month_of(dt.datetime.now(dt.UTC), tz), tz)
    # The day cap only shapes valid seconds, which the list does not show.
    totals = await income_store.member_totals(conn, agency_id, start, end, tz, 0, user_ids)
    return {user_id: sums["coins"] for user_id, sums in totals.items()}


async def do_set_role(ag: Agencies, user_id: int, agency_id: int, target: int, role: str) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        await _agency(conn, user_id, agency_id, lock=True)
        actor_role = await _role_of(conn, agency_id, user_id)
        target_role = await _role_of(conn, agency_id, target)
        if target_role is None:
            raise not_found("Member")
        check_may_set_role(actor_role, target_role, role)
        if role != target_role:
            await store.set_role_txn(conn, agency_id, target, role, user_id)
            await audit_txn(
                conn,
                actor_id=user_id,
                action="agency.member_role",
                target_type="agency",
                target_id=agency_id,
                details={"user_id": target, "from": target_role, "to": role},
            )
        rows = await store.members_page(conn, agency_id, None, target, None, 1)
        income = await month_coins(ag, conn, agency_id, [target])
    return member_item(rows[0], income.get(target, 0))


async def do_remove(ag: Agencies, user_id: int, agency_id: int, target: int) -> dict[str, Any]:
    """A manager removes a member ranked below them: `agency.member_kicked` to the removed user and
    the managers. Nobody removes themselves: leaving is a leave request (engine/agency/leaving.py)."""
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        agency = await _agency(conn, user_id, agency_id, lock=True)
        actor_role = await _role_of(conn, agency_id, user_id)
        target_role = await _role_of(conn, agency_id, target)
        if target_role is None:
            raise not_found("Member")
        if target == user_id:
            raise forbidden("Ask to leave with a leave request.")
        check_may_remove(actor_role, target_role)
        await store.end_membership_txn(conn, agency_id, target, "kicked", user_id)
        await audit_txn(conn, actor_id=user_id, action="agency.member_kick", target_type="agency",
                        target_id=agency_id, details={"user_id": target})  # fmt: skip
        stored = await ag.notifications.record_txn(conn, Notice(target, "agency",
                                                   f"You were removed from {agency['name']}.",
                                                   target_type="agency", target_id=str(agency_id),
                                                   data={"agency_id": agency_id, "event": "kicked"}))  # fmt: skip
        managers = await store.managers(conn, agency_id)
        count = await store.member_count(conn, agency_id)
    event = {"agency": agency_ref(agency), "user_id": target, "by_user_id": user_id, "member_count": count}
    await ag.left_channel(agency_id, [target])
    for recipient in [target, *managers]:
        await ag.push(recipient, "agency.member_kicked", event)
    await ag.notifications.push(stored)
    await settle_leavers(ag, agency_id, [target])  # the month so far (docs/agency.md "Month-end settlement")
    return {"user_id": target, "removed": True, "reason": "kicked", "member_count": count}


async def left(ag: Agencies, agency: dict[str, Any], user_id: int) -> None:
    """After a member left (their leave request approved): the managers hear of it, and the leaver
    is paid the month so far (their final settlement)."""
    await ag.left_channel(agency["id"], [user_id])
    async with ag.svc.pool.acquire() as conn:
        managers = await store.managers(conn, agency["id"])
        count = await store.member_count(conn, agency["id"])
    event = {"agency": agency_ref(agency), "user_id": user_id, "member_count": count}
    for manager in managers:
        await ag.push(manager, "agency.member_left", event)
    await settle_leavers(ag, agency["id"], [user_id])
