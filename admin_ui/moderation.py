"""The moderation section (issue 15 §5), `/admin/moderation` (rooms.moderate; the queue, cases and
appeals also need reports.review, as the REST queue does): the report queue by priority with
filters, a case with its evidence, reports and history, and its actions (warn, mute, suspend, ban,
delete the message, dismiss — the REST resolve action; kick from the room and close the room — the
rooms' own moderation actions), appeals, the live chat word filter, and the statistics."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

from admin_ui.web import AdminRoutes, client_of, convert, error_page, form, path_id, redirect, render, services
from engine.appkeys import REPORTS, ROOMS
from engine.errors import DomainError, validation_error
from engine.reports import dashboard
from engine.reports import staff as report_staff
from engine.reports.model import REASONS, AssignBody, QueueQuery, ResolveBody, ReviewBody
from engine.rooms import moderation as room_moderation
from engine.rooms import word_filter
from engine.staff.model import StaffSession

routes = AdminRoutes()
SECTION = "rooms.moderate"
REVIEW = report_staff.REVIEW_PERMISSION
PAGE_SIZE = 50
T = TypeVar("T")
STATES = ("open", "reviewing", "actioned", "dismissed")
TARGET_TYPES = ("user", "room", "message", "dm_message")
SOURCES = ("report", "word_filter", "report_threshold")
ACTIONS = (("warn", "Warn"), ("mute", "Mute in every room (minutes)"), ("suspend", "Suspend (minutes)"),
           ("ban", "Ban the account"), ("delete_message", "Delete the message"), ("dismiss", "Dismiss"))  # fmt: skip
STATS_DAYS = (1, 7, 30)


def _convert(data: dict[str, Any], kind: type[T]) -> T:
    """A form's fields into the REST body's Struct; an empty field is left to the Struct's default."""
    return convert({k: v for k, v in data.items() if v not in (None, "")}, kind, strict=False)


def _reviewer(request: web.Request, staff: StaffSession) -> web.Response | None:
    if staff.can(REVIEW):
        return None
    return error_page(request, staff, 403, f"You need the “{REVIEW}” permission to review reports.")


@routes.page("GET", "/admin/moderation", permission=SECTION)
async def queue(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    q = request.query
    assignee = {"me": str(staff.user_id), "none": "0"}.get(q.get("assignee", ""))
    filters = {"state": q.get("state"), "target_type": q.get("target_type"), "reason": q.get("reason"),
               "source": q.get("source"), "assignee": assignee, "cursor": q.get("cursor"),
               "limit": PAGE_SIZE}  # fmt: skip
    page = await report_staff.queue(request.app[REPORTS], _convert(filters, QueueQuery))
    kept = {k: v for k, v in q.items() if k != "cursor" and v}
    return render(request, "moderation/queue.html", staff, cases=page["items"], next_cursor=page["next_cursor"],
                  query=kept, states=STATES, target_types=TARGET_TYPES, reasons=REASONS, sources=SOURCES,
                  chosen=q)  # fmt: skip


@routes.page("GET", "/admin/moderation/cases/{id}", permission=SECTION)
async def case(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    view = await dashboard.case_view(request.app[REPORTS], path_id(request))
    return render(request, "moderation/case.html", staff, actions=ACTIONS, may_suspend=staff.can("users.suspend"),
                  **view)  # fmt: skip


@routes.page("POST", "/admin/moderation/cases/{id}/assign", permission=SECTION)
async def assign(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    case_id, fields = path_id(request), await form(request)
    assignee = staff.user_id if fields.get("to") == "me" else None
    await report_staff.do_assign(request.app[REPORTS], staff.user_id, case_id, AssignBody(assignee_id=assignee))
    raise redirect(f"/admin/moderation/cases/{case_id}",
                   "Assigned to you." if assignee else "Handed back to the queue.")  # fmt: skip


@routes.page("POST", "/admin/moderation/cases/{id}/resolve", permission=SECTION)
async def resolve(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    case_id, fields = path_id(request), await form(request)
    body = _convert({"action": fields.get("action"), "minutes": fields.get("minutes"),
                     "note": fields.get("note", "").strip()}, ResolveBody)  # fmt: skip
    done = await report_staff.do_resolve(request.app[REPORTS], staff.user_id, case_id, body, client_of(request))
    told = "" if done["applied"] else " (nothing left to act on: the message is no longer in the room's history)"
    raise redirect(f"/admin/moderation/cases/{case_id}", f"Case resolved: {body.action}{told}.")


@routes.page("POST", "/admin/moderation/cases/{id}/kick", permission=SECTION)
async def kick(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    """Kick the case's subject out of the case's room for some minutes (the rooms' own kick)."""
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    case_id, fields = path_id(request), await form(request)
    case = (await dashboard.case_view(request.app[REPORTS], case_id))["case"]
    if case["room_id"] is None or case["subject_user_id"] is None:
        raise validation_error({"action": ["The case names no room and account to kick from it."]})
    minutes = _minutes(fields.get("minutes", ""), 1, 10_080)
    reason = fields.get("reason", "").strip()[:200] or None
    await room_moderation.do_kick(request.app[ROOMS], int(case["room_id"]), staff.user_id,
                                  int(case["subject_user_id"]), minutes, reason)  # fmt: skip
    raise redirect(f"/admin/moderation/cases/{case_id}", f"Kicked from room {case['room_id']} for {minutes} min.")


@routes.page("POST", "/admin/moderation/cases/{id}/close-room", permission=SECTION)
async def close_room(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    case_id, fields = path_id(request), await form(request)
    case = (await dashboard.case_view(request.app[REPORTS], case_id))["case"]
    if case["room_id"] is None:
        raise validation_error({"action": ["The case names no room."]})
    reason = fields.get("reason", "").strip()[:200] or "closed by a moderator"
    await room_moderation.do_close(request.app[ROOMS], int(case["room_id"]), staff.user_id, reason)
    raise redirect(f"/admin/moderation/cases/{case_id}", f"Room {case['room_id']} closed.")


def _minutes(raw: str, low: int, high: int) -> int:
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise validation_error({"minutes": [f"Minutes: a whole number from {low} to {high}."]})
    return int(raw)


@routes.page("GET", "/admin/moderation/appeals", permission=SECTION)
async def appeals(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    state = request.query.get("state", "pending")
    if state not in ("pending", "upheld", "overturned"):
        state = "pending"
    try:
        page = await dashboard.appeal_page(request.app[REPORTS], state, request.query.get("cursor"), PAGE_SIZE)
    except DomainError:
        page = {"items": [], "next_cursor": None}  # a mangled cursor: the first page
    return render(request, "moderation/appeals.html", staff, appeals=page["items"], next_cursor=page["next_cursor"],
                  state=state)  # fmt: skip


@routes.page("POST", "/admin/moderation/appeals/{id}/review", permission=SECTION)
async def review(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    if (denied := _reviewer(request, staff)) is not None:
        return denied
    appeal_id, fields = path_id(request), await form(request)
    body = _convert({"decision": fields.get("decision"), "note": fields.get("note", "").strip()}, ReviewBody)
    done = await report_staff.do_review(request.app[REPORTS], staff.user_id, appeal_id, body, client_of(request))
    lifted = " and the action lifted" if done["lifted"] else ""
    what = f"overturned{lifted}" if body.decision == "overturn" else "upheld"
    raise redirect("/admin/moderation/appeals", f"Appeal {appeal_id} {what}.")


@routes.page("GET", "/admin/moderation/words", permission=SECTION)
async def words(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    listing = await word_filter.words(services(request))
    return render(request, "moderation/words.html", staff, words=listing["items"], configured=listing["configured"])


@routes.page("POST", "/admin/moderation/words/add", permission=SECTION)
async def add_words(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    text = (await form(request)).get("words", "")[:20_000]
    added = await word_filter.do_add(services(request), staff.user_id, text, client_of(request).ip)
    raise redirect("/admin/moderation/words", f"Added {len(added)} word(s): {', '.join(added)[:200]}"
                   if added else "Those words were in the filter already.")  # fmt: skip


@routes.page("POST", "/admin/moderation/words/remove", permission=SECTION)
async def remove_words(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    # One checkbox per word, all named "words" (form() keeps one value per name).
    text = " ".join(str(w) for w in (await request.post()).getall("words", []))[:20_000]
    removed = await word_filter.do_remove(services(request), staff.user_id, text, client_of(request).ip)
    raise redirect("/admin/moderation/words", f"Removed {len(removed)} word(s).")


@routes.page("GET", "/admin/moderation/stats", permission=SECTION)
async def stats(request: web.Request, staff: StaffSession) -> web.StreamResponse:
    raw = request.query.get("days", "7")
    days = int(raw) if raw.isdigit() and int(raw) in STATS_DAYS else 7
    figures = await dashboard.stats(request.app[REPORTS], days)
    return render(request, "moderation/stats.html", staff, figures=figures, choices=STATS_DAYS)
