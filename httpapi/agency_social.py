"""`/api/v1` routes of the agency's social side (issue 13 §4, docs/agency.md "Announcements and
chat"): announcements posted by the agency's owner and admins, read by its members (and staff) in
cursor pages (`?cursor=&limit=`, newest first), deleted by their author or the owner; agency events
(planned by the owner and admins, listed for members and staff, reminded of before the start). The chat
channel runs over the sockets (engine/agency/chat.py). The response types live here beside the
routes (the agency's §1–§2 types are in httpapi/schemas.py)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from engine.agency import announcements, events
from engine.agency.social_model import AnnouncementBody, AnnouncementsQuery, EventBody, EventsQuery
from engine.appkeys import AGENCIES
from httpapi.auth import caller_id, login_required
from httpapi.common import agency_id, client_of, path_id, read_body, read_query
from httpapi.contract import ApiRoutes, Id
from httpapi.responses import ok
from httpapi.schemas import AgencyPerson, Timestamp

routes = ApiRoutes()


class AgencyAnnouncement(msgspec.Struct):
    id: int
    agency_id: int
    title: str
    text: str
    author: AgencyPerson | None
    """None once the author's account is gone."""
    created_at: Timestamp


class AgencyAnnouncementPage(msgspec.Struct):
    items: list[AgencyAnnouncement]
    next_cursor: str | None


class AgencyAnnouncementDeleted(msgspec.Struct):
    id: int
    deleted: bool


class AgencyEvent(msgspec.Struct):
    id: int
    agency_id: int
    title: str
    starts_at: Timestamp
    room_id: int | None
    created_by: int | None
    reminded: bool
    """Whether the members have been reminded (AGENCY_EVENT_REMINDER_MINUTES before the start)."""
    created_at: Timestamp


class AgencyEventPage(msgspec.Struct):
    items: list[AgencyEvent]
    next_cursor: str | None


_AID = {"aid": Id}


@routes.api("POST", "/api/v1/agencies/{id}/announcements", summary="Post an announcement (the owner and admins; "
            "AGENCY_ANNOUNCEMENT_RATE_LIMIT): every other member gets a notification of kind `agency` and its "
            "`notification:new` push.", body=AnnouncementBody, response=AgencyAnnouncement, status=201,
            errors=(403, 404, 429))  # fmt: skip
@login_required
async def announce(request: web.Request) -> web.Response:
    body = await read_body(request, AnnouncementBody)
    ag = request.app[AGENCIES]
    return ok(await announcements.do_announce(ag, caller_id(request), agency_id(request), body, client_of(request).ip),
              status=201)  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/announcements", summary="The agency's announcements, newest first: for "
            "its members and staff.", query=AnnouncementsQuery, response=AgencyAnnouncementPage,
            errors=(403, 404))  # fmt: skip
@login_required
async def announcement_list(request: web.Request) -> web.Response:
    q = read_query(request, AnnouncementsQuery)
    return ok(await announcements.announcements(request.app[AGENCIES], caller_id(request), agency_id(request), q))


@routes.api("DELETE", "/api/v1/agencies/{id}/announcements/{aid}", summary="Delete an announcement: its author "
            "(while a member) or the agency's owner.", params=_AID, response=AgencyAnnouncementDeleted,
            errors=(403, 404))  # fmt: skip
@login_required
async def announcement_delete(request: web.Request) -> web.Response:
    aid = path_id(request, "aid", what="Announcement")
    return ok(await announcements.do_delete(request.app[AGENCIES], caller_id(request), agency_id(request), aid,
                                            client_of(request).ip))  # fmt: skip


@routes.api("POST", "/api/v1/agencies/{id}/events", summary="Plan an agency event (the owner and admins): "
            "`starts_at` in the future, `room_id` an existing room; every member is reminded with an `agency` "
            "notification AGENCY_EVENT_REMINDER_MINUTES before it starts.", body=EventBody, response=AgencyEvent,
            status=201, errors=(403, 404))  # fmt: skip
@login_required
async def event_create(request: web.Request) -> web.Response:
    body = await read_body(request, EventBody)
    return ok(await events.do_create(request.app[AGENCIES], caller_id(request), agency_id(request), body,
                                     client_of(request).ip), status=201)  # fmt: skip


@routes.api("GET", "/api/v1/agencies/{id}/events", summary="The agency's events for its members and staff: "
            "those still to start, soonest first (`past=true`: those started, latest first).", query=EventsQuery,
            response=AgencyEventPage, errors=(403, 404))  # fmt: skip
@login_required
async def event_list(request: web.Request) -> web.Response:
    q = read_query(request, EventsQuery)
    return ok(await events.events(request.app[AGENCIES], caller_id(request), agency_id(request), q))
