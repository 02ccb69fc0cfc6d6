"""Agency events (issue 13 §4): the owner and admins plan one (a title, its start, optionally its
room); members and staff list them; every current member is reminded with an `agency` notification
AGENCY_EVENT_REMINDER_MINUTES before the start, once: the sweep (a Periodic on every process)
claims due events in the transaction that stores the reminders (FOR UPDATE SKIP LOCKED), so two
engine processes never remind of one event twice, and a sweep that fails stores nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.agency import social_store
from engine.agency.announcements import standing
from engine.agency.live import Agencies
from engine.agency.social_model import (
    EventBody,
    EventsQuery,
    check_may_announce,
    event_item,
    from_micros,
    micros,
    reminder_text,
)
from engine.audit.store import record_txn as audit_txn
from engine.errors import forbidden, validation_error
from engine.jobs import Periodic
from engine.notifications.model import Notice
from engine.social.model import decode_cursor, page

REMINDER_SWEEP_SECONDS = 30.0
REMINDER_BATCH = 100


async def do_create(ag: Agencies, user_id: int, agency_id: int, body: EventBody, ip: str | None) -> dict[str, Any]:
    if errors := body.fields_errors(dt.datetime.now(dt.UTC)):
        raise validation_error(errors)
    async with ag.svc.pool.acquire() as conn:
        _agency, role, _staff = await standing(conn, user_id, agency_id)
        check_may_announce(role)
        if body.room_id is not None and not await social_store.room_exists(conn, body.room_id):
            raise validation_error({"room_id": ["The room does not exist."]})
        async with conn.transaction():
            row = await social_store.insert_event_txn(conn, agency_id, user_id, body.title.strip(), body.starts_at,
                                                      body.room_id)  # fmt: skip
            await audit_txn(conn, actor_id=user_id, action="agency.event", target_type="agency", target_id=agency_id,
                            ip=ip, details={"event_id": row["id"]})  # fmt: skip
    return event_item(row)


async def events(ag: Agencies, user_id: int, agency_id: int, q: EventsQuery) -> dict[str, Any]:
    after = decode_cursor(q.cursor, int, int)
    async with ag.svc.pool.acquire() as conn:
        _agency, role, staff = await standing(conn, user_id, agency_id)
        if role is None and not staff:
            raise forbidden("Only the agency's members may see its events.")
        position = (from_micros(after[0]), after[1]) if after is not None else None
        rows = await social_store.events_page(conn, agency_id, q.past, position, q.limit + 1)
    items, next_cursor = page(rows, q.limit, lambda r: (micros(r["starts_at"]), r["id"]))
    return {"items": [event_item(r) for r in items], "next_cursor": next_cursor}


async def remind_due(ag: Agencies) -> int:
    """One sweep: remind the members of every due event; how many events were reminded of."""
    svc = ag.svc
    async with svc.pool.acquire() as conn, conn.transaction():
        due = await social_store.claim_due_events_txn(conn, svc.config.agency_event_reminder_minutes, REMINDER_BATCH)
        stored: list[dict[str, Any]] = []
        for event in due:
            data = {"agency_id": event["agency_id"], "event": "event_reminder", "event_id": event["id"],
                    "starts_at": event["starts_at"].isoformat(), "room_id": event["room_id"]}  # fmt: skip
            notice = Notice(0, "agency", reminder_text(event["agency_name"], event["title"]),
                            target_type="agency_event", target_id=str(event["id"]), data=data)  # fmt: skip
            stored += await ag.notifications.record_for_txn(conn, list(event["member_ids"]), notice)
    await ag.notifications.push_all(stored)
    return len(due)


def register_agency_jobs(ag: Agencies) -> None:
    """Every process sweeps (from its start); concurrent sweeps skip each other's rows."""
    ag.rt.background.append(Periodic("agency-event-reminders", lambda: remind_due(ag), REMINDER_SWEEP_SECONDS))
