"""Rooms (issue 15 §6): the live rooms with their members and seats, one room's page, and the staff
actions on it — close the room, remove a user (a kick with a block of some minutes, or a ban from the
room), edit the room's profile. Thin over the rooms' own actions (engine/rooms/moderation.py,
profiles.py): staff holding rooms.moderate outrank the owner there, and each action audits itself."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from admin_ui.web import AdminRoutes, error_page, form, path_id, redirect, render, services
from engine.appkeys import ROOMS
from engine.errors import DomainError
from engine.rooms import admin_store, moderation, profiles
from engine.rooms import store as rooms_store
from engine.staff.model import StaffSession

routes = AdminRoutes()
PAGE_SIZE = 50
MAX_KICK_MINUTES = 7 * 24 * 60
EDITABLE_TEXT = ("name", "description", "announcement", "category", "greetings")


@routes.page("GET", "/admin/rooms", permission="rooms.moderate")
async def rooms(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    svc = services(request)
    q = request.query.get("q", "").strip()[:100]
    page = (
        int(request.query["page"]) if request.query.get("page", "").isdigit() and int(request.query["page"]) > 0 else 1
    )
    live = await admin_store.live_room_ids(svc.redis, svc.keys, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    total = await admin_store.live_room_total(svc.redis, svc.keys)
    async with svc.pool.acquire() as conn:
        found = await admin_store.search_rooms(conn, q, PAGE_SIZE) if q else []
        by_id = await admin_store.rooms_by_id(conn, [r for r, _ in live[:PAGE_SIZE]])
    counts = await rooms_store.live_counts(svc.redis, svc.keys, [r["id"] for r in found])
    seated = await admin_store.seated_counts(svc.redis, svc.keys, list(by_id))
    live_rows = [{**by_id[r], "members": n, "seated": seated.get(r, 0)} for r, n in live[:PAGE_SIZE] if r in by_id]
    return render(request, "rooms/list.html", staff, q=q, found=found, counts=counts, live=live_rows, total=total,
                  page=page, more=len(live) > PAGE_SIZE)  # fmt: skip


async def _room_page(request: web.Request, staff: StaffSession, room_id: int, *, status: int = 200,
                     error: str = "") -> web.Response:  # fmt: skip
    svc = services(request)
    async with svc.pool.acquire() as conn:
        room = await rooms_store.get_room(conn, room_id)
        bans = await rooms_store.list_bans(conn, room_id) if room else []
    if room is None:
        return error_page(request, staff, 404, f"There is no room {room_id}.")
    members = await admin_store.live_members(svc.redis, svc.keys, room_id)
    seats = await admin_store.live_seats(svc.redis, svc.keys, room_id)
    names = {m["user_id"]: (m["profile"] or {}).get("name", "") for m in members if isinstance(m["profile"], dict)}
    return render(request, "rooms/detail.html", staff, status=status, room=room, members=members, seats=seats,
                  names=names, bans=bans, error=error, max_kick=MAX_KICK_MINUTES)  # fmt: skip


@routes.page("GET", r"/admin/rooms/{id:\d+}", permission="rooms.moderate")
async def room(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    return await _room_page(request, staff, path_id(request, what="Room"))


@routes.page("POST", r"/admin/rooms/{id:\d+}/close", permission="rooms.moderate")
async def close(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    room_id = path_id(request, what="Room")
    reason = (await form(request)).get("reason", "").strip()
    if not 3 <= len(reason) <= 64:
        return await _room_page(request, staff, room_id, status=422, error="Give a reason (3 to 64 characters): "
                                "every member is told it.")  # fmt: skip
    await moderation.do_close(request.app[ROOMS], room_id, staff.user_id, reason)
    raise redirect(f"/admin/rooms/{room_id}", f"Room {room_id} closed; its members were told and released.")


@routes.page("POST", r"/admin/rooms/{id:\d+}/remove", permission="rooms.moderate")
async def remove(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """Take a user out of the room: a kick (blocked for some minutes) or a ban from the room."""
    room_id = path_id(request, what="Room")
    fields = await form(request)
    target = int(fields["user_id"]) if fields.get("user_id", "").isdigit() else 0
    minutes_raw = fields.get("minutes", "").strip()
    minutes = int(minutes_raw) if minutes_raw.isdigit() else 0
    reason = fields.get("reason", "").strip()[:255] or None
    how = fields.get("how", "kick")
    if target <= 0 or how not in ("kick", "ban") or (how == "kick" and not 1 <= minutes <= MAX_KICK_MINUTES):
        error = f"Choose a user, and a kick of 1 to {MAX_KICK_MINUTES} minutes or a ban."
        return await _room_page(request, staff, room_id, status=422, error=error)
    try:
        if how == "kick":
            await moderation.do_kick(request.app[ROOMS], room_id, staff.user_id, target, minutes, reason)
        else:
            await moderation.do_ban(request.app[ROOMS], room_id, staff.user_id, target, minutes or None, reason)
    except DomainError as exc:
        return await _room_page(request, staff, room_id, status=exc.status, error=exc.message)
    done = f"kicked for {minutes} minutes" if how == "kick" else "banned from the room"
    raise redirect(f"/admin/rooms/{room_id}", f"User {target} {done}.")


def _edit_body(fields: dict[str, str]) -> dict[str, Any]:
    # An emptied text field clears it (NULL, as the REST API's null does); the name is required.
    body: dict[str, Any] = {name: fields.get(name, "").strip() or None for name in EDITABLE_TEXT}
    body["name"] = body["name"] or ""
    seats = fields.get("seat_count", "").strip()
    body["seat_count"] = int(seats) if seats.isdigit() else seats
    body["is_hidden"] = fields.get("is_hidden") == "on"
    return body


@routes.page("POST", r"/admin/rooms/{id:\d+}/edit", permission="rooms.moderate")
async def edit(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    room_id = path_id(request, what="Room")
    body = _edit_body(await form(request))
    try:
        fields = msgspec.convert(body, profiles.RoomFields)
    except msgspec.ValidationError as exc:
        return await _room_page(request, staff, room_id, status=422, error=f"Not saved: {exc}.")
    try:
        await profiles.do_update(request.app[ROOMS], staff.user_id, room_id, fields, set(body))
    except DomainError as exc:
        detail = "; ".join(m for messages in (exc.fields or {}).values() for m in messages)
        return await _room_page(request, staff, room_id, status=exc.status, error=detail or exc.message)
    raise redirect(f"/admin/rooms/{room_id}", "Room saved.")


@routes.page("POST", r"/admin/rooms/{id:\d+}/unban", permission="rooms.moderate")
async def unban(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    room_id = path_id(request, what="Room")
    raw = (await form(request)).get("user_id", "")
    if not raw.isdigit():
        return await _room_page(request, staff, room_id, status=422, error="Choose a ban to lift.")
    lifted = await moderation.do_unban(request.app[ROOMS], room_id, staff.user_id, int(raw))
    raise redirect(f"/admin/rooms/{room_id}", f"Ban of user {raw} lifted." if lifted else "There was no such ban.")
