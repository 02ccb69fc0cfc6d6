"""The agency's social side (issue 13 §4, docs/agency.md "Announcements, chat and events"): announcement
bodies and how they read on the wire, the chat channel's payloads and who may do what. No I/O."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.errors import forbidden
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

TITLE_MAX = 100
TEXT_MAX = 2000
CHAT_CONTENT_MAX = 500
AgencyRef = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class AnnouncementBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/agencies/{id}/announcements (the owner and admins)."""

    title: Annotated[str, Meta(min_length=1, max_length=TITLE_MAX,
                               extra={"msg": "The title field must be 1 to 100 characters."})]  # fmt: skip
    text: Annotated[str, Meta(min_length=1, max_length=TEXT_MAX,
                              extra={"msg": "The text field must be 1 to 2000 characters."})]  # fmt: skip

    def fields_errors(self) -> dict[str, list[str]]:
        errors = {}
        if not self.title.strip():
            errors["title"] = ["The title field is required."]
        if not self.text.strip():
            errors["text"] = ["The text field is required."]
        return errors


class AnnouncementsQuery(msgspec.Struct):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def check_may_announce(role: str | None) -> None:
    if role not in ("owner", "admin"):
        raise forbidden("Only the agency's owner and admins may post announcements.")


def check_may_delete(role: str | None, author_id: int | None, user_id: int) -> None:
    """The author (while still a member) or the agency's owner."""
    if role == "owner" or (role is not None and author_id == user_id):
        return
    raise forbidden("Only the announcement's author and the agency's owner may delete it.")


def announcement_item(row: dict[str, Any]) -> dict[str, Any]:
    author = None
    if row["author_id"] is not None and row["author_name"] is not None:
        author = {"id": row["author_id"], "name": row["author_name"], "avatar_image": row["author_avatar"]}
    return {"id": row["id"], "agency_id": row["agency_id"], "title": row["title"], "text": row["text"],
            "author": author, "created_at": iso_timestamp(row["created_at"])}  # fmt: skip


# --- the chat channel ----------------------------------------------------------------------------


def chat_room(agency_id: int) -> str:
    """The Socket.IO room of the agency's chat channel (its members' sockets that joined it)."""
    return f"agency:{agency_id}"


class ChatJoinPayload(msgspec.Struct):
    agencyId: AgencyRef


class ChatMessagePayload(msgspec.Struct):
    agencyId: AgencyRef
    content: Annotated[str, Meta(min_length=1, max_length=CHAT_CONTENT_MAX)]


# --- events ------------------------------------------------------------------------------------------

EVENT_AHEAD_MAX_DAYS = 365


class EventBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/agencies/{id}/events (the owner and admins)."""

    title: Annotated[str, Meta(min_length=1, max_length=TITLE_MAX,
                               extra={"msg": "The title field must be 1 to 100 characters."})]  # fmt: skip
    starts_at: Annotated[dt.datetime, Meta(tz=True)]
    """ISO 8601 with a time zone; in the future, within a year."""
    room_id: Annotated[int, Meta(ge=1, le=2**63 - 1)] | None = None
    """The room the event happens in (an existing room)."""

    def fields_errors(self, now: dt.datetime) -> dict[str, list[str]]:
        errors = {}
        if not self.title.strip():
            errors["title"] = ["The title field is required."]
        if self.starts_at <= now:
            errors["starts_at"] = ["The event must start in the future."]
        elif self.starts_at > now + dt.timedelta(days=EVENT_AHEAD_MAX_DAYS):
            errors["starts_at"] = ["The event must start within a year."]
        return errors


class EventsQuery(msgspec.Struct):
    past: bool = False
    """false (the default): the events still to start, soonest first; true: those started, latest first."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def event_item(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "agency_id": row["agency_id"], "title": row["title"],
            "starts_at": iso_timestamp(row["starts_at"]), "room_id": row["room_id"],
            "created_by": row["created_by"], "reminded": row["reminded_at"] is not None,
            "created_at": iso_timestamp(row["created_at"])}  # fmt: skip


def micros(value: dt.datetime) -> int:
    """A timestamp as whole microseconds since the epoch (an event page's cursor)."""
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)


def reminder_text(agency_name: str, title: str) -> str:
    return f"{agency_name}: {title} starts soon."
