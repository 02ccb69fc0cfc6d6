"""Agency analytics (issue 13 §4, docs/agency.md "Analytics and leaderboards"): the per-day table
(members, joins, leaves, coins, mic time, active members), range totals and top members; the
Member Active Days page; the comparison of 2–10 members; the same figures as CSV. For the agency's
owner and admins, and staff. Read-only: nothing here changes state."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from engine.agency import analytics_store
from engine.agency.analytics_model import (
    DAY_COLUMNS,
    MEMBER_COLUMNS,
    TOP_MEMBERS,
    ActiveDaysQuery,
    CompareQuery,
    DayRange,
    RangeQuery,
    active_days_cursor,
    active_days_page,
    analytics_view,
    business_today,
    check_may_read,
    compare_view,
    csv_line,
    day_range,
    day_table,
    parse_user_ids,
)
from engine.agency.announcements import standing
from engine.agency.live import Agencies
from engine.db import Conn
from engine.economy.store import settings as economy_settings
from engine.errors import not_found

CSV_BATCH = 200


class CsvExport(NamedTuple):
    filename: str
    lines: AsyncIterator[str]


async def _readable(ag: Agencies, conn: Conn, user_id: int, agency_id: int, first: dt.date | None,
                    last: dt.date | None) -> DayRange:  # fmt: skip
    """The range asked for, once the user may read the agency's analytics (404, 403, then 422)."""
    agency, role, staff = await standing(conn, user_id, agency_id)
    check_may_read(role, agency["owner_id"] == user_id, staff)
    tz = ag.svc.config.business_timezone
    return day_range(first, last, business_today(dt.datetime.now(dt.UTC), tz), tz)


async def _figures(ag: Agencies, conn: Conn, agency_id: int, rng: DayRange) -> dict[str, Any]:
    tz = ag.svc.config.business_timezone
    members = await analytics_store.membership_days(conn, agency_id, rng.first, rng.last, tz)
    income = await analytics_store.income_days(conn, agency_id, rng.start, rng.end, tz)
    active = await analytics_store.active_members(conn, agency_id, rng.start, rng.end)
    top = await analytics_store.top_members(conn, agency_id, rng.start, rng.end, TOP_MEMBERS)
    return analytics_view(agency_id, rng, tz, day_table(rng.days(), members, income), active, top)


async def analytics(ag: Agencies, user_id: int, agency_id: int, q: RangeQuery) -> dict[str, Any]:
    async with ag.svc.pool.acquire() as conn:
        rng = await _readable(ag, conn, user_id, agency_id, q.from_, q.to)
        return await _figures(ag, conn, agency_id, rng)


async def _cap(conn: Conn) -> int:
    return (await economy_settings(conn))["agency_valid_seconds_per_day"]


async def active_days(ag: Agencies, user_id: int, agency_id: int, q: ActiveDaysQuery) -> dict[str, Any]:
    """Member Active Days: everyone who was a member during the range, most active first."""
    after = active_days_cursor(q.cursor)
    async with ag.svc.pool.acquire() as conn:
        rng = await _readable(ag, conn, user_id, agency_id, q.from_, q.to)
        rows = await analytics_store.member_activity_page(conn, agency_id, rng.start, rng.end,
                                                          ag.svc.config.business_timezone, await _cap(conn),
                                                          after, q.limit + 1)  # fmt: skip
    page = active_days_page(rows, q.limit)
    return {"from": rng.first.isoformat(), "to": rng.last.isoformat(), **page}


async def compare(ag: Agencies, user_id: int, agency_id: int, q: CompareQuery) -> dict[str, Any]:
    """2–10 members side by side. An id of someone who was not a member of this agency during the
    range is 404 (as any foreign id), after the ids' shape was checked (422)."""
    user_ids = parse_user_ids(q.user_ids)
    tz = ag.svc.config.business_timezone
    async with ag.svc.pool.acquire() as conn:
        rng = await _readable(ag, conn, user_id, agency_id, q.from_, q.to)
        people = await analytics_store.members_in_range(conn, agency_id, user_ids, rng.start, rng.end)
        if missing := [u for u in user_ids if u not in people]:
            raise not_found(f"Member {missing[0]} of this agency in that period")
        daily = await analytics_store.member_days(conn, agency_id, user_ids, rng.start, rng.end, tz)
        cap = await _cap(conn)
    return compare_view(rng, user_ids, people, daily, cap)


def _filename(agency_id: int, what: str, rng: DayRange) -> str:
    return f"agency-{agency_id}-{what}-{rng.first.isoformat()}-{rng.last.isoformat()}.csv"


async def days_csv(ag: Agencies, user_id: int, agency_id: int, q: RangeQuery) -> CsvExport:
    """The per-day table as CSV lines (a header, then one line per day, oldest first): the same
    figures as `analytics`. Checked and read before the first byte goes out, so a refusal is JSON."""
    async with ag.svc.pool.acquire() as conn:
        rng = await _readable(ag, conn, user_id, agency_id, q.from_, q.to)
        figures = await _figures(ag, conn, agency_id, rng)

    async def lines() -> AsyncIterator[str]:
        yield csv_line(DAY_COLUMNS)
        for row in figures["days"]:
            yield csv_line(row[c] for c in DAY_COLUMNS)

    return CsvExport(_filename(agency_id, "analytics", rng), lines())


async def members_csv(ag: Agencies, user_id: int, agency_id: int, q: RangeQuery) -> CsvExport:
    """Member Active Days as CSV (names quoted by the csv module), read in keyset batches while it is
    written, so a large agency's history is never held whole."""
    tz = ag.svc.config.business_timezone
    async with ag.svc.pool.acquire() as conn:
        rng = await _readable(ag, conn, user_id, agency_id, q.from_, q.to)
        cap = await _cap(conn)

    async def lines() -> AsyncIterator[str]:
        yield csv_line(MEMBER_COLUMNS)
        after: tuple[int, int] | None = None
        while True:
            async with ag.svc.pool.acquire() as conn:
                rows = await analytics_store.member_activity_page(conn, agency_id, rng.start, rng.end, tz, cap,
                                                                  after, CSV_BATCH + 1)  # fmt: skip
            page = active_days_page(rows, CSV_BATCH)
            for item in page["items"]:
                yield csv_line(item[c] if item[c] is not None else "" for c in MEMBER_COLUMNS)
            if page["next_cursor"] is None:
                return
            last = page["items"][-1]
            after = (last["active_days"], last["user_id"])

    return CsvExport(_filename(agency_id, "members", rng), lines())
