"""Agency leaderboards (issue 13 §4), the data the rankings issue reuses: monthly coins per agency
(approved, open agencies) and per member within an agency, ranked most coins first, ties by id,
numbered 1, 2, 3… across cursor pages. A month is a business month (`BUSINESS_TIMEZONE`).

`agency_ranking` and `member_ranking` take either the agency runtime (they borrow a connection and
read the time zone from its config) or an open connection plus `tz=`, and check nobody's rights:
the REST views below do (`agencies_board`, `agency_board`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.agency import leaderboard_store
from engine.agency.analytics_model import LeaderboardQuery, check_may_see_board, ranking_cursor, ranking_page
from engine.agency.announcements import standing
from engine.agency.income_model import month_bounds, month_of, month_text, parse_month
from engine.agency.live import Agencies
from engine.db import Conn
from engine.social.model import DEFAULT_LIMIT


async def _ranked(source: Agencies | Conn, tz: str | None, read: Any, month: dt.date, limit: int,
                  cursor: str | None, key: str) -> dict[str, Any]:  # fmt: skip
    after = ranking_cursor(cursor)
    keyset = (after[0], after[1]) if after else None
    if isinstance(source, Agencies):
        zone = tz or source.svc.config.business_timezone
        start, end = month_bounds(month, zone)
        async with source.svc.pool.acquire() as conn:
            rows = await read(conn, start, end, keyset, limit + 1)
    else:
        if tz is None:
            raise ValueError("tz is required with a connection")
        start, end = month_bounds(month, tz)
        rows = await read(source, start, end, keyset, limit + 1)
    items, next_cursor = ranking_page(rows, limit, after, key)
    return {"month": month_text(month), "items": items, "next_cursor": next_cursor}


async def agency_ranking(source: Agencies | Conn, month: dt.date, limit: int = DEFAULT_LIMIT,
                         cursor: str | None = None, *, tz: str | None = None) -> dict[str, Any]:  # fmt: skip
    """`{month, items: [{rank, agency_id, name, logo_url, country, coins}], next_cursor}`: the agencies
    whose members earned coins in the month (a gift's value to its recipients, agency_income_events)."""
    return await _ranked(source, tz, leaderboard_store.agency_coins_page, month, limit, cursor, "agency_id")


async def member_ranking(source: Agencies | Conn, agency_id: int, month: dt.date, limit: int = DEFAULT_LIMIT,
                         cursor: str | None = None, *, tz: str | None = None) -> dict[str, Any]:  # fmt: skip
    """`{month, items: [{rank, user_id, name, avatar_image, coins}], next_cursor}`: the members who
    earned coins in this agency in the month (one who left since keeps what they earned here)."""

    async def read(conn: Conn, start: dt.datetime, end: dt.datetime, after: Any, limit: int) -> Any:
        return await leaderboard_store.member_coins_page(conn, agency_id, start, end, after, limit)

    return await _ranked(source, tz, read, month, limit, cursor, "user_id")


def _month(ag: Agencies, q: LeaderboardQuery) -> dt.date:
    if q.month is None:
        return month_of(dt.datetime.now(dt.UTC), ag.svc.config.business_timezone)
    return parse_month(q.month)


async def agencies_board(ag: Agencies, q: LeaderboardQuery) -> dict[str, Any]:
    """GET /api/v1/agencies/leaderboard: for any signed-in user."""
    return await agency_ranking(ag, _month(ag, q), q.limit, q.cursor)


async def agency_board(ag: Agencies, user_id: int, agency_id: int, q: LeaderboardQuery) -> dict[str, Any]:
    """GET /api/v1/agencies/{id}/leaderboard: for the agency's members (and its owner) and staff."""
    async with ag.svc.pool.acquire() as conn:
        agency, role, staff = await standing(conn, user_id, agency_id)
        check_may_see_board(role, agency["owner_id"] == user_id, staff)
    return await member_ranking(ag, agency_id, _month(ag, q), q.limit, q.cursor)
