"""Typed schema of the agency chat channel's server→client event (engine/agency/chat.py): to the
Socket.IO room `agency:<id>` (the members' sockets that joined the channel), on every engine process."""

from __future__ import annotations

import msgspec


class AgencyChatMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A member wrote in the agency's chat channel → every socket in the channel, the sender's too."""

    agencyId: int
    id: str
    userId: int
    userName: str
    content: str
    timestamp: int
    """Milliseconds since the epoch (the engine's clock)."""


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {"agency:chat.message": AgencyChatMessage}
