"""Every server→client Socket.IO event of the engine, by name, with its typed schema.

Tests decode what clients really received with `decode_event`; docs/asyncapi.yaml is generated from
this registry and the registered client events.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.agency.income_messages import SERVER_EVENTS as INCOME_TARGET_EVENTS
from engine.agency.messages import SERVER_EVENTS as AGENCY_EVENTS
from engine.agency.owner_messages import SERVER_EVENTS as AGENCY_OWNER_EVENTS
from engine.agency.social_messages import SERVER_EVENTS as AGENCY_CHAT_EVENTS
from engine.gifts.messages import SERVER_EVENTS as GIFT_EVENTS
from engine.inbox.messages import SERVER_EVENTS as INBOX_EVENTS
from engine.media.messages import SERVER_EVENTS as MEDIA_EVENTS
from engine.notifications.messages import SERVER_EVENTS as NOTIFICATION_EVENTS
from engine.progression.badges_messages import SERVER_EVENTS as BADGE_EVENTS
from engine.progression.levels_messages import SERVER_EVENTS as LEVEL_EVENTS
from engine.progression.recognition_messages import SERVER_EVENTS as RECOGNITION_EVENTS
from engine.progression.rewards_messages import SERVER_EVENTS as REWARD_EVENTS
from engine.rooms.messages import SERVER_EVENTS as ROOM_EVENTS
from engine.social.messages import SERVER_EVENTS as SOCIAL_EVENTS
from engine.system.messages import SERVER_EVENTS as SYSTEM_EVENTS
from engine.vip.messages import SERVER_EVENTS as VIP_EVENTS

SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    **ROOM_EVENTS,
    **GIFT_EVENTS,
    **MEDIA_EVENTS,
    **SOCIAL_EVENTS,
    **NOTIFICATION_EVENTS,
    **INBOX_EVENTS,
    **AGENCY_EVENTS,
    **AGENCY_CHAT_EVENTS,
    **INCOME_TARGET_EVENTS,
    **AGENCY_OWNER_EVENTS,
    **REWARD_EVENTS,
    **VIP_EVENTS,
    **LEVEL_EVENTS,
    **BADGE_EVENTS,
    **RECOGNITION_EVENTS,
    **SYSTEM_EVENTS,
}


def decode_event(name: str, data: Any) -> msgspec.Struct:
    """Check a received payload against its schema (raises msgspec.ValidationError, or KeyError when unknown);
    the events inside a `room:batch` are checked against theirs too."""
    decoded = msgspec.convert(data, SERVER_EVENTS[name])
    for inner in getattr(decoded, "events", ()) if name == "room:batch" else ():
        decode_event(inner.event, inner.data)
    return decoded
