"""What a user does with their notifications: page through them, mark them read, count the unread,
choose which kinds they get; and the retention that deletes old ones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import RETENTION_BATCH, RETENTION_MAX_BATCHES, delete_in_batches
from engine.notifications import store
from engine.notifications.model import PreferencesBody, ReadBody, item, preferences
from engine.services import Services
from engine.social.model import decode_cursor, page


async def list_page(svc: Services, user_id: int, *, unread: bool, cursor: str | None, limit: int) -> dict[str, Any]:
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.page(conn, user_id, unread=unread, before=before, limit=limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [item(r) for r in items], "next_cursor": next_cursor}


async def mark_read(svc: Services, user_id: int, body: ReadBody) -> dict[str, Any]:
    """Ids that are not the user's (someone else's, deleted by retention, never existed) are ignored
    alike: marking read is idempotent, and the answer tells nothing about other users' rows."""
    body.check()
    async with svc.pool.acquire() as conn, conn.transaction():
        if body.ids is not None:
            marked = await store.mark_read(conn, user_id, sorted(set(body.ids)))
        else:
            marked = await store.mark_all_read(conn, user_id)
        unread = await store.unread_count(conn, user_id)
    return {"marked": marked, "unread_count": unread}


async def unread_count(svc: Services, user_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        return {"unread_count": await store.unread_count(conn, user_id)}


async def get_preferences(svc: Services, user_id: int) -> dict[str, bool]:
    async with svc.pool.acquire() as conn:
        return preferences(await store.preference_rows(conn, user_id))


async def update_preferences(svc: Services, user_id: int, body: PreferencesBody) -> dict[str, bool]:
    async with svc.pool.acquire() as conn, conn.transaction():
        if changes := body.changes():
            await store.set_preferences(conn, user_id, changes)
        return preferences(await store.preference_rows(conn, user_id))


async def purge_old(svc: Services, *, batch: int = RETENTION_BATCH, max_batches: int = RETENTION_MAX_BATCHES) -> int:
    """Delete notifications older than NOTIFICATION_RETENTION_DAYS, a batch per transaction; how many went."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=svc.config.notification_retention_days)
    return await delete_in_batches(svc.pool, store.delete_older_than, cutoff, batch=batch, max_batches=max_batches)
