"""Typed schema of the agency domain's server→client events (realtime-contract §3, `agency.*`).

Each goes to the sockets of the user it concerns (the Socket.IO room `user:<id>`), on whichever
engine process holds them.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class AgencyRef(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str


class AgencyDissolved(Event):
    """The agency was closed: the recipient is no longer a member of it."""

    agency: AgencyRef
    by: Literal["owner", "staff"]
    reason: str | None


SERVER_EVENTS: dict[str, type[Event]] = {"agency.dissolved": AgencyDissolved}
