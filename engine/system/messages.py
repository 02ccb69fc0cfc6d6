"""Typed schema of the system's server→client events, gathered by engine/messages.py."""

from __future__ import annotations

from typing import Literal

import msgspec


class SystemMaintenance(msgspec.Struct, forbid_unknown_fields=True):
    """Maintenance began, changed or ended (to every socket; on connect too while it is on). While
    `active`, new `room:join` calls are refused with `Under maintenance` (staff may still join);
    members already in a room stay."""

    active: bool
    message: str
    started_at: str | None
    ends_at: str | None


class SystemAnnouncement(msgspec.Struct, forbid_unknown_fields=True):
    """A message from FlyLive's staff to everyone connected (every socket, every engine process)."""

    id: int
    message: str
    level: Literal["info", "warning", "critical"]
    sent_at: str


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "system:maintenance": SystemMaintenance,
    "system:announcement": SystemAnnouncement,
}
