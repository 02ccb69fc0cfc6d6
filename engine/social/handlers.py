"""Socket.IO events of the social domain."""

from __future__ import annotations

from typing import Any

from engine.realtime.acks import Ack
from engine.realtime.events import socket_event
from engine.realtime.server import RealtimeServer
from engine.social.live import Social
from engine.social.sync import ProfileSyncPayload, do_profile_sync


def register_social_events(social: Social) -> None:
    @socket_event(social.rt, "user:profileSync", ProfileSyncPayload)
    async def profile_sync(_rt: RealtimeServer, sid: str, session: dict[str, Any], p: ProfileSyncPayload) -> Ack:
        return await do_profile_sync(social, int(session["user_id"]), p)
