"""Notifications at run time: store one and push it as `notification:new` to every socket of its
user, on whichever engine process holds them (the Socket.IO room `user:<id>`, through the Redis
manager). Stored whether or not the user is online; a kind the user switched off is neither."""

from __future__ import annotations

from typing import Any

from engine.db import Conn
from engine.jobs import Periodic
from engine.notifications import actions, store
from engine.notifications.model import Notice, item
from engine.realtime.server import RealtimeServer, user_room
from engine.services import Services

RETENTION_SWEEP_SECONDS = 3600.0


class Notifications:
    """Built once per app (engine/app.py, `app[NOTIFICATIONS]`) and handed to the domains that notify."""

    def __init__(self, rt: RealtimeServer) -> None:
        self.rt = rt

    @property
    def svc(self) -> Services:
        return self.rt.services

    async def record_txn(self, conn: Conn, notice: Notice, *, once_until_read: bool = False) -> dict[str, Any] | None:
        """Store the notice in the caller's transaction; what to `push` after the commit (None: the
        user switched the kind off, or `once_until_read` and an unread one from the actor is there)."""
        stored = await store.insert_txn(conn, notice, once_until_read=once_until_read)
        self.svc.metrics.notifications.labels(notice.kind, "stored" if stored is not None else "skipped").inc()
        return stored

    async def record_for_txn(self, conn: Conn, user_ids: list[int], notice: Notice) -> list[dict[str, Any]]:
        """The same notice for many users, in one statement of the caller's transaction; what to
        `push_all` after the commit (those who switched the kind off are left out)."""
        stored = await store.insert_for_users_txn(conn, user_ids, notice) if user_ids else []
        counter = self.svc.metrics.notifications
        counter.labels(notice.kind, "stored").inc(len(stored))
        if len(user_ids) > len(stored):
            counter.labels(notice.kind, "skipped").inc(len(user_ids) - len(stored))
        return stored

    async def push_all(self, stored: list[dict[str, Any]]) -> None:
        for row in stored:
            await self.push(row)

    async def push(self, stored: dict[str, Any] | None) -> None:
        if stored is not None:
            await self.rt.sio.emit("notification:new", item(stored), room=user_room(stored["user_id"]))

    async def notify(self, notice: Notice) -> dict[str, Any] | None:
        """Store and push a notice on its own."""
        async with self.svc.pool.acquire() as conn:
            stored = await self.record_txn(conn, notice)
        await self.push(stored)
        return stored


def register_notification_jobs(notifications: Notifications) -> None:
    """Retention: every process sweeps hourly (from its start); concurrent sweeps skip each other's rows."""
    rt = notifications.rt
    rt.background.append(
        Periodic("notification-retention", lambda: actions.purge_old(notifications.svc), RETENTION_SWEEP_SECONDS)
    )
