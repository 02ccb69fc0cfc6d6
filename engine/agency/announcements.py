"""Agency announcements (issue 13 §4): the owner and admins post them (AGENCY_ANNOUNCEMENT_RATE_LIMIT
per user); every current member but the author gets a stored notification of kind `agency` (one
statement for all of them) and its `notification:new` push after the commit. Members (and staff)
read them in cursor pages; the author or the owner delete one."""

from __future__ import annotations

from typing import Any

from engine.agency import social_store, store
from engine.agency.actions import is_staff
from engine.agency.live import Agencies
from engine.agency.model import check_visible
from engine.agency.social_model import (
    AnnouncementBody,
    AnnouncementsQuery,
    announcement_item,
    check_may_announce,
    check_may_delete,
)
from engine.audit.store import record_txn as audit_txn
from engine.db import Conn
from engine.errors import forbidden, not_found, validation_error
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page


async def standing(conn: Conn, user_id: int, agency_id: int) -> tuple[dict[str, Any], str | None, bool]:
    """The agency as the user may see it (404 otherwise), their role in it and whether they are staff."""
    staff = await is_staff(conn, user_id)
    agency = check_visible(await store.get(conn, agency_id), user_id, staff)
    return agency, await social_store.active_role(conn, agency_id, user_id), staff


async def do_announce(ag: Agencies, user_id: int, agency_id: int, body: AnnouncementBody,
                      ip: str | None) -> dict[str, Any]:  # fmt: skip
    if errors := body.fields_errors():
        raise validation_error(errors)
    svc = ag.svc
    async with svc.pool.acquire() as conn:
        agency, role, _staff = await standing(conn, user_id, agency_id)
        check_may_announce(role)
        await svc.limiter.check("agency_announce", str(user_id), svc.config.agency_announcement_rate_limit)
        async with conn.transaction():
            announcement_id = await social_store.insert_announcement_txn(conn, agency_id, user_id, body.title.strip(),
                                                                         body.text.strip())  # fmt: skip
            await audit_txn(conn, actor_id=user_id, action="agency.announce", target_type="agency",
                            target_id=agency_id, ip=ip, details={"announcement_id": announcement_id})  # fmt: skip
            recipients = [m for m in await store.member_ids(conn, agency_id) if m != user_id]
            notice = Notice(0, "agency", f"{agency['name']}: {body.title.strip()}", actor_id=user_id,
                            target_type="agency_announcement", target_id=str(announcement_id),
                            data={"agency_id": agency_id, "event": "announcement",
                                  "announcement_id": announcement_id})  # fmt: skip
            stored = await ag.notifications.record_for_txn(conn, recipients, notice)
            row = await social_store.announcement(conn, announcement_id)
    assert row is not None
    await ag.notifications.push_all(stored)
    return announcement_item(row)


async def announcements(ag: Agencies, user_id: int, agency_id: int, q: AnnouncementsQuery) -> dict[str, Any]:
    (before,) = decode_cursor(q.cursor, int) or (None,)
    async with ag.svc.pool.acquire() as conn:
        _agency, role, staff = await standing(conn, user_id, agency_id)
        if role is None and not staff:
            raise forbidden("Only the agency's members may read its announcements.")
        rows = await social_store.announcements_page(conn, agency_id, before, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (r["id"],))
    return {"items": [announcement_item(r) for r in items], "next_cursor": next_cursor}


async def do_delete(ag: Agencies, user_id: int, agency_id: int, announcement_id: int, ip: str | None) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn:
        _agency, role, staff = await standing(conn, user_id, agency_id)
        row = await social_store.announcement(conn, announcement_id)
        # Another agency's announcement, or one of an agency the user is no member of: not there to them.
        if row is None or row["agency_id"] != agency_id or (role is None and not staff):
            raise not_found("Announcement")
        check_may_delete(role, row["author_id"], user_id)
        async with conn.transaction():
            await social_store.delete_announcement_txn(conn, announcement_id)
            await audit_txn(conn, actor_id=user_id, action="agency.announcement_delete", target_type="agency",
                            target_id=agency_id, ip=ip,
                            details={"announcement_id": announcement_id, "author_id": row["author_id"]})  # fmt: skip
    return {"id": announcement_id, "deleted": True}
