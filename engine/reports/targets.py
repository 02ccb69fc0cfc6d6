"""One resolver per target type: is the target there, may the reporter see it, whose is it, and what
was it when reported. A target the reporter cannot see answers 404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from engine.accounts import store as accounts_store
from engine.accounts.model import iso_timestamp
from engine.db import Conn
from engine.errors import not_found, validation_error
from engine.inbox import store as inbox_store
from engine.reports.model import ReportBody, Target, cannot_report_self
from engine.rooms import store as rooms_store
from engine.rooms.live import LiveRooms
from engine.social import store as social_store

Resolver = Callable[[LiveRooms, Conn, int, ReportBody], Awaitable[Target]]


def _numeric(body: ReportBody) -> int:
    ref = body.target_id
    if isinstance(ref, int):
        return ref
    if ref.isascii() and ref.isdigit() and 0 < int(ref) < 2**63:
        return int(ref)
    raise validation_error({"target_id": [f"A {body.target_type} is named by its numeric id."]})


async def resolve_user(rooms: LiveRooms, conn: Conn, reporter: int, body: ReportBody) -> Target:
    """A user who blocked the reporter is hidden from them (404); one the reporter blocked is not:
    people report whom they blocked."""
    user_id = _numeric(body)
    if user_id == reporter:
        raise cannot_report_self()
    user = await accounts_store.get_user(conn, user_id)
    if user is None or (await social_store.relationship(conn, reporter, user_id)).blocked_by:
        raise not_found("User")
    return Target("user", str(user_id), user_id, snapshot={"name": user["name"]})


async def resolve_room(rooms: LiveRooms, conn: Conn, reporter: int, body: ReportBody) -> Target:
    """A room (not deleted); the action falls on its owner."""
    room_id = _numeric(body)
    room = await rooms_store.get_room(conn, room_id)
    if room is None:
        raise not_found("Room")
    if room["user_id"] == reporter:
        raise cannot_report_self()
    snapshot = {key: room[key] for key in ("name", "description", "announcement")}
    return Target("room", str(room_id), int(room["user_id"]), room_id, snapshot)


async def resolve_message(rooms: LiveRooms, conn: Conn, reporter: int, body: ReportBody) -> Target:
    """A message of a room's recent history (`chat:message`'s `id`), seen by a member of the room:
    the room named by `room_id`, else the one the reporter is in. Kept as it was, for the staff."""
    room_id = body.room_id or await rooms.state.room_of(reporter)
    if room_id is None or not await rooms.state.is_member(room_id, reporter):
        raise not_found("Message")
    message = await rooms.state.chat_message(room_id, body.target)
    if message is None:
        raise not_found("Message")
    sender = int(message["userId"])
    if sender == reporter:
        raise cannot_report_self()
    snapshot = {key: message.get(key) for key in ("userId", "userName", "content", "type", "timestamp")}
    return Target("message", body.target, sender, room_id, snapshot)


async def resolve_dm_message(rooms: LiveRooms, conn: Conn, reporter: int, body: ReportBody) -> Target:
    """A direct message (its id) of a thread the reporter is in; one unsent is gone (404). Its sender
    is acted on; its text and image are kept in the snapshot (the sender may unsend it later)."""
    message = await inbox_store.message_seen_by(conn, reporter, _numeric(body))
    if message is None or message["unsent_at"] is not None:
        raise not_found("Message")
    sender = int(message["sender_id"])
    if sender == reporter:
        raise cannot_report_self()
    snapshot = {"thread_id": message["thread_id"], "sender_id": sender, "text": message["text"],
                "image_url": message["image_url"], "created_at": iso_timestamp(message["created_at"])}  # fmt: skip
    return Target("dm_message", str(message["id"]), sender, snapshot=snapshot)


RESOLVERS: dict[str, Resolver] = {
    "user": resolve_user,
    "room": resolve_room,
    "message": resolve_message,
    "dm_message": resolve_dm_message,
}
