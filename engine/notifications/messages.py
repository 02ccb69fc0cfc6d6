"""Typed schema of the notifications' server→client event: `notification:new`, to every socket of
the notified user on whichever engine process holds it."""

from __future__ import annotations

from typing import Any

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Actor(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str
    avatar_image: str | None


class NotificationNew(Event):
    """A notification was stored for the user (as `GET /api/v1/me/notifications` lists it)."""

    id: int
    kind: str
    """follow, dm, gift, system, agency, appreciation, recognition."""
    actor: Actor | None
    """Who caused it (with their current name and avatar), if anyone."""
    target_type: str | None
    target_id: str | None
    text: str
    data: dict[str, Any]
    created_at: str
    read_at: str | None
    """Always null when pushed."""


SERVER_EVENTS: dict[str, type[Event]] = {"notification:new": NotificationNew}
