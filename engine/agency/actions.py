"""Applying for an agency, staff review, the public list and view, the owner's edits, closing.
Each change is one transaction, audited in it; notifications and pushes go out after the commit."""

from __future__ import annotations

from typing import Any

from engine.accounts import store as accounts_store
from engine.agency import store
from engine.agency.live import Agencies
from engine.agency.model import (
    NAME_TAKEN,
    REVIEW_PERMISSION,
    AdminListQuery,
    CloseBody,
    CreateBody,
    ListQuery,
    UpdateBody,
    card,
    check_open,
    check_owner,
    check_visible,
    conflict,
    escape_like,
    private_view,
    public_view,
    review_text,
)  # fmt: skip
from engine.agency.seal import seal, unseal
from engine.agency.settlement import settle_leavers
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.errors import forbidden, not_found, validation_error
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page


async def is_staff(conn: Conn, user_id: int) -> bool:
    return REVIEW_PERMISSION in await accounts_store.permission_names(conn, user_id)


def _view(ag: Agencies, row: dict[str, Any], viewer: int, staff: bool) -> dict[str, Any]:
    if staff or row["owner_id"] == viewer:
        key = ag.docs_key
        return private_view(row, unseal(key, row["id"], row["id_front_sealed"]),
                            unseal(key, row["id"], row["id_back_sealed"]))  # fmt: skip
    return public_view(row)


async def do_create(ag: Agencies, user_id: int, body: CreateBody, ip: str | None) -> dict[str, Any]:
    body.check()
    svc = ag.svc
    await svc.limiter.check("agency_create", str(user_id), svc.config.agency_create_rate_limit)
    async with svc.pool.acquire() as conn:
        if not await store.user_exists(conn, body.referee_user_id):
            raise validation_error({"referee_user_id": ["The referee must be an existing user."]})
        async with conn.transaction():
            if await store.membership(conn, user_id) is not None:
                raise forbidden("You already belong to an agency.")
            agency_id = await store.next_agency_id(conn)
            key = ag.docs_key
            fields = {
                "name": body.name, "country": body.country.upper(), "phone": body.phone, "address": body.address,
                "logo_url": body.logo_url, "referee_user_id": body.referee_user_id,
                "id_front_sealed": seal(key, agency_id, body.id_front_url),
                "id_back_sealed": seal(key, agency_id, body.id_back_url),
            }  # fmt: skip
            refused = await store.insert_application_txn(conn, agency_id, user_id, fields)
            if refused == "agencies_name_ci":
                raise validation_error({"name": [NAME_TAKEN]})
            if refused is not None:
                raise conflict("agency_exists", "You already have an agency or a pending application.")
            await audit_txn(conn, actor_id=user_id, action="agency.apply", target_type="agency", target_id=agency_id,
                            ip=ip, details={"name": body.name})  # fmt: skip
            row = await store.get(conn, agency_id)
    assert row is not None
    return _view(ag, row, user_id, False)


async def list_public(ag: Agencies, q: ListQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    search = None
    if q.search is not None:
        if len(q.search.strip()) < 3:
            raise validation_error({"search": ["The search field must be 3 to 20 characters."]})
        search = escape_like(q.search.strip())
    async with ag.svc.pool.acquire() as conn:
        rows = await store.public_page(conn, search, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [card(r) for r in items], "next_cursor": next_cursor}


async def list_admin(ag: Agencies, q: AdminListQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        rows = await store.admin_page(conn, q.review_status, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [_view(ag, r, 0, True) for r in items], "next_cursor": next_cursor}


async def get_agency(ag: Agencies, viewer: int, agency_id: int) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn:
        staff = await is_staff(conn, viewer)
        row = check_visible(await store.get(conn, agency_id), viewer, staff)
    return _view(ag, row, viewer, staff)


async def do_review(ag: Agencies, actor_id: int, agency_id: int, reason: str | None,
                    ip: str | None) -> dict[str, Any]:  # fmt: skip
    """Approve (`reason` None) or reject a pending application; the applicant is notified either
    way. Approval makes the owner the agency's first member (role `owner`): the gift split sees
    them from the commit on (sql/0011's trigger makes every process forget their cached agency)."""
    approved = reason is None
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        row = await store.get(conn, agency_id, lock=True)
        if row is None:
            raise not_found("Agency")
        if row["review_status"] != "pending" or row["status"] == "closed":
            raise conflict("not_pending", "The application is not pending.")
        await store.review_txn(conn, agency_id, actor_id, reason)
        if approved and not await store.add_member_txn(conn, agency_id, row["owner_id"], "owner", actor_id):
            raise conflict("applicant_in_agency", "The applicant belongs to another agency now.")
        await audit_txn(conn, actor_id=actor_id, action="agency.approve" if approved else "agency.reject",
                        target_type="agency", target_id=agency_id, ip=ip, details={"reason": reason})  # fmt: skip
        notice = Notice(row["owner_id"], "agency", review_text(row["name"], approved, reason), actor_id=None,
                        target_type="agency", target_id=str(agency_id),
                        data={"agency_id": agency_id, "review_status": "approved" if approved else "rejected",
                              "reason": reason})  # fmt: skip
        stored = await ag.notifications.record_txn(conn, notice)
        row = await store.get(conn, agency_id)
    await ag.notifications.push(stored)
    assert row is not None
    return _view(ag, row, actor_id, True)


async def do_update(ag: Agencies, user_id: int, agency_id: int, body: UpdateBody, ip: str | None) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        staff = await is_staff(conn, user_id)
        row = check_visible(await store.get(conn, agency_id, lock=True), user_id, staff)
        check_owner(row, user_id)
        changes = body.changes(ag.svc.config.agency_member_limit_max, row["member_count"])
        check_open(row)
        if changes:
            await store.update_txn(conn, agency_id, changes)
            await audit_txn(conn, actor_id=user_id, action="agency.update", target_type="agency",
                            target_id=agency_id, ip=ip, details={"fields": sorted(changes)})  # fmt: skip
        after = await store.get(conn, agency_id)
    assert after is not None
    return _view(ag, after, user_id, staff)


async def do_close(ag: Agencies, user_id: int, agency_id: int, body: CloseBody, ip: str | None) -> dict[str, Any]:
    """The owner or staff close the agency (a pending application too: withdrawn): every member is
    released (their rows end, history kept) and told with `agency.dissolved`."""
    async with ag.svc.pool.acquire() as conn, conn.transaction():
        staff = await is_staff(conn, user_id)
        row = check_visible(await store.get(conn, agency_id, lock=True), user_id, staff)
        if not staff:
            check_owner(row, user_id)
        if row["status"] == "closed":
            raise conflict("agency_closed", "The agency is closed already.")
        dissolved = await dissolve_txn(ag, conn, row, user_id, body.reason, ip)
        after = await store.get(conn, agency_id)
    assert after is not None
    await dissolved.tell(ag)
    return _view(ag, after, user_id, staff)


class Dissolved:
    """What a closing tells after its commit: `agency.dissolved` and the stored notices."""

    def __init__(self, released: list[int], event: dict[str, Any], notices: list[dict[str, Any] | None]) -> None:
        self.released, self.event, self.notices = released, event, notices

    async def tell(self, ag: Agencies) -> None:
        await ag.left_channel(self.event["agency"]["id"], self.released)
        for member in self.released:
            await ag.push(member, "agency.dissolved", self.event)
        for stored in self.notices:
            await ag.notifications.push(stored)
        # Every released member's final settlement: the month so far in this agency.
        await settle_leavers(ag, self.event["agency"]["id"], self.released)


async def dissolve_txn(ag: Agencies, conn: Conn, row: dict[str, Any], actor_id: int, reason: str | None,
                       ip: str | None) -> Dissolved:  # fmt: skip
    """Close the agency (the caller holds its row): members released, requests cancelled, audited."""
    agency_id = row["id"]
    await store.close_txn(conn, agency_id, actor_id)
    released = await store.release_all_txn(conn, agency_id, actor_id, reason)
    await store.cancel_requests_txn(conn, agency_id)
    await audit_txn(conn, actor_id=actor_id, action="agency.close", target_type="agency", target_id=agency_id,
                    ip=ip, details={"reason": reason, "released": len(released)})  # fmt: skip
    text = f"The agency {row['name']} was closed."
    notices = [await ag.notifications.record_txn(conn, Notice(member, "agency", text, target_type="agency",
               target_id=str(agency_id), data={"agency_id": agency_id, "event": "dissolved"}))
               for member in released if member != actor_id]  # fmt: skip
    by = "owner" if row["owner_id"] == actor_id else "staff"
    event = {"agency": {"id": agency_id, "name": row["name"]}, "by": by, "reason": reason}
    return Dissolved(released, event, notices)
