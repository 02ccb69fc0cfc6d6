"""Typed schemas of the inbox's server→client events (realtime-contract §3: the relayed Inbox names,
to the user's sockets on whichever engine process holds them; and `dm:typing`, to the peer's
thread room)."""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class DmPeer(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str
    signature: str | None
    avatar_image: str | None


class DmMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A message as `GET /api/v1/threads/{id}/messages` lists it."""

    id: int
    thread_id: int
    sender_id: int
    client_id: str
    text: str | None
    image_url: str | None
    created_at: str
    unsent: bool


class DmThread(msgspec.Struct, forbid_unknown_fields=True):
    """A thread as `GET /api/v1/me/threads` lists it, for the recipient of the event."""

    id: int
    peer: DmPeer
    status: str
    """open, or request (the requester may send one message until the peer accepts)."""
    requester_id: int
    created_at: str
    accepted_at: str | None
    last_message: DmMessage | None
    unread_count: int
    last_read_message_id: int
    peer_last_read_message_id: int


class DmMessageReceived(Event):
    """A message to the user (the peer of its sender)."""

    thread_id: int
    message: DmMessage


class DmMessageUnsent(Event):
    """The peer unsent a message: drop its content."""

    thread_id: int
    message_id: int


class DmThreadRequest(Event):
    """Someone the user's `messages` setting does not let in asks to talk (accept to reply)."""

    thread: DmThread


class DmThreadAccepted(Event):
    """The peer accepted the user's message request."""

    thread_id: int
    user_id: int


class DmThreadSeen(Event):
    """The peer saw the thread up to `last_read_message_id`."""

    thread_id: int
    user_id: int
    last_read_message_id: int


class OfficialMessageReceived(Event):
    """Staff wrote to the user, or to everyone (`audience`)."""

    id: int
    audience: str
    user_id: int | None
    title: str
    text: str
    image_url: str | None
    created_at: str


class DmTyping(Event):
    """The peer is typing in the thread (to the sockets that have it open: `dm:thread.opened`)."""

    threadId: int
    userId: int


SERVER_EVENTS: dict[str, type[Event]] = {
    "dm.message.received": DmMessageReceived,
    "dm.message.unsent": DmMessageUnsent,
    "dm.thread.request": DmThreadRequest,
    "dm.thread.accepted": DmThreadAccepted,
    "dm.thread.seen": DmThreadSeen,
    "official.message.received": OfficialMessageReceived,
    "dm:typing": DmTyping,
}
