"""The reports domain at run time: the rooms it acts on (a platform mute, a deleted message), the
notifications it sends (a warning), and the automated rule the rooms feed it (the chat word filter,
through the rooms' `ChatWatch` port, which this implements)."""

from __future__ import annotations

import logging

from engine.config import Rate
from engine.notifications.live import Notifications
from engine.reports import store
from engine.reports.model import Target
from engine.rooms.live import LiveRooms
from engine.services import Services

log = logging.getLogger("flylive.reports")
# A user whose chat the word filter keeps refusing counts one hit a minute: the case is there once,
# and a flood of refused messages is not a flood of PostgreSQL writes.
FILTER_HIT_RATE = Rate(1, 60)


class Reports:
    """Built once per app (engine/app.py, `app[REPORTS]`) and handed to the reports actions."""

    def __init__(self, rooms: LiveRooms, notifications: Notifications) -> None:
        self.rooms = rooms
        self.notifications = notifications

    @property
    def svc(self) -> Services:
        return self.rooms.svc

    async def filtered(self, room_id: int, user_id: int, content: str) -> None:
        """The word filter refused the user's chat message: open (or count on) a case about the user."""
        svc = self.svc
        try:
            if not (await svc.limiter.hit("report_filter", str(user_id), FILTER_HIT_RATE)).allowed:
                return
            target = Target("user", str(user_id), user_id, snapshot={"room_id": room_id, "content": content[:500]})
            async with svc.pool.acquire() as conn, conn.transaction():
                case_id, _state = await store.upsert_case_txn(conn, target, source="word_filter", reason=None)
        except Exception:  # the refusal's ack must go out whatever happens here
            log.exception("word filter case not recorded", extra={"user_id": user_id, "room_id": room_id})
            return
        svc.metrics.reports_opened.labels("word_filter", "user").inc()
        log.info("word filter hit recorded", extra={"user_id": user_id, "room_id": room_id, "case_id": case_id})
