"""Rankings REST (issue 14 §3, docs/progression.md "Rankings"): the live boards with the caller's own
place, the history of closed periods, the legacy room leaderboard (backend-contract "Coins Activity
page"), and the staff rebuild from the ledger."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.appkeys import RANKINGS, SERVICES
from engine.audit.store import record_txn
from engine.errors import DomainError, validation_error
from engine.progression import rankings_store
from engine.progression.rankings_model import BOARDS, SUBJECT, Board, parse_start
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import path_id, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import json_response, ok

routes = ApiRoutes()
log = logging.getLogger("flylive.http")
Country = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2")]
LEGACY_PAGE = 20


def _board(request: web.Request) -> Board:
    board = request.match_info["board"]
    if board not in BOARDS:
        raise DomainError("not_found", f"No ranking board {board[:32]}", status=404)
    return board


class BoardQuery(msgspec.Struct):
    period: Literal["daily", "weekly", "monthly", "all_time"] = "daily"
    country: Country | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


@routes.api("GET", "/api/v1/rankings/{board}", summary="A live ranking board (wealth, charm, room, agency).",
            query=BoardQuery, response=schemas.RankingBoard, errors=(404,))  # fmt: skip
@login_required
async def board(request: web.Request) -> web.Response:
    """The top of the board for the current period (business time zone), global or one country's,
    and `me`: the caller's rank and score (themself; their room on `room`; their agency on `agency`)."""
    q = read_query(request, BoardQuery)
    return ok(await request.app[RANKINGS].board(_board(request), q.period, q.country, q.limit, caller_id(request)))


class HistoryQuery(msgspec.Struct):
    period: Literal["daily", "weekly", "monthly"] = "daily"
    start: dt.date | None = None
    cursor: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}:\d{1,9}$")] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


@routes.api("GET", "/api/v1/rankings/{board}/history", summary="Closed periods' top N, newest first.",
            query=HistoryQuery, response=schemas.RankingHistoryPage, errors=(404,))  # fmt: skip
@login_required
async def history(request: web.Request) -> web.Response:
    board_name = _board(request)
    q = read_query(request, HistoryQuery)
    svc = request.app[SERVICES]
    if q.start and parse_start(q.period, q.start.isoformat(), svc.config.business_timezone) is None:
        raise validation_error({"start": [f"Not the first day of a {q.period} period."]})
    after = None
    if q.cursor:
        day, rank = q.cursor.split(":")
        after = (dt.date.fromisoformat(day), int(rank))
    column = {"user": "user_id", "room": "room_id", "agency": "agency_id"}[SUBJECT[board_name]]
    async with svc.pool.acquire() as conn:
        rows = await rankings_store.history_page(conn, board_name, q.period, q.start, after, q.limit)
        profiles = await rankings_store.profiles(conn, SUBJECT[board_name], [r[column] for r in rows if r[column]])
    items = [{"board": r["board"], "period": r["period"], "period_start": r["period_start"].isoformat(),
              "period_end": r["period_end"].isoformat(), "rank": r["rank_position"], "id": r[column],
              "score": r["score"], "name": (profiles.get(r[column]) or {}).get("name"),
              "avatar_url": (profiles.get(r[column]) or {}).get("avatar_url")} for r in rows]  # fmt: skip
    last = rows[-1] if len(rows) == q.limit else None
    next_cursor = f"{last['period_start'].isoformat()}:{last['rank_position']}" if last else None
    return ok({"items": items, "next_cursor": next_cursor})


class LegacyLeaderboardQuery(msgspec.Struct):
    period: Literal["daily", "weekly", "monthly"] = "daily"
    page: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1


@routes.api("GET", "/api/rooms/{id}/leaderboard", summary="Top senders in a room (legacy): today, this week or month.",
            query=LegacyLeaderboardQuery, response=schemas.LegacyRoomLeaderboard)  # fmt: skip
@login_required
async def room_leaderboard(request: web.Request) -> web.Response:
    """20 per page, most coins spent first, in the business day, ISO week or month."""
    room_id = path_id(request, what="Room")
    q = read_query(request, LegacyLeaderboardQuery)
    async with request.app[SERVICES].pool.acquire() as conn:
        if not await rankings_store.room_exists(conn, room_id):
            raise DomainError("not_found", f"No query results for model [Room] {room_id}", status=404)
    offset = (q.page - 1) * LEGACY_PAGE
    # The legacy API answers bare bodies, without the /api/v1 envelope.
    return json_response(await request.app[RANKINGS].room_leaderboard(room_id, q.period, offset, LEGACY_PAGE))


@routes.api("POST", "/api/v1/admin/rankings/rebuild",
            summary="Recompute the current periods of every board from the PostgreSQL ledger (staff).",
            response=schemas.RankingsRebuilt)  # fmt: skip
@permission_required("settings.manage")
async def rebuild(request: web.Request) -> web.Response:
    actor = caller_id(request)
    written = await request.app[RANKINGS].rebuild()
    async with request.app[SERVICES].pool.acquire() as conn:
        await record_txn(conn, actor_id=actor, action="rankings.rebuild", target_type="rankings", details=written)
    log.info("rankings rebuilt by staff", extra={"actor_id": actor, **written})
    return ok({"members": written})
