"""Official messages: staff write to one user or to everyone (`messages.official`), audited; a user
pages through theirs. A message to everyone is one row (`user_id` NULL) that every user's list
reads, and one push to every socket on every engine process (`official.message.received`)."""

from __future__ import annotations

from typing import Any

from engine.accounts import store as accounts_store
from engine.audit.store import record_txn
from engine.inbox import store
from engine.inbox.live import Inbox
from engine.inbox.model import OfficialBody, official_item
from engine.services import Services
from engine.social.follows import user_not_found
from engine.social.model import decode_cursor, page


async def do_send_official(inbox: Inbox, staff_id: int, body: OfficialBody, ip: str | None) -> dict[str, Any]:
    body.check()
    async with inbox.svc.pool.acquire() as conn, conn.transaction():
        if body.user_id is not None and await accounts_store.get_user(conn, body.user_id) is None:
            raise user_not_found(body.user_id)
        row = await store.insert_official_txn(conn, staff_id, body.user_id, body.title, body.text, body.image_url)
        await record_txn(conn, actor_id=staff_id, action="official_message.send",
                         target_type="user" if body.user_id is not None else "everyone", target_id=body.user_id,
                         ip=ip, details={"official_message_id": row["id"], "title": body.title})  # fmt: skip
    item = official_item(row)
    if body.user_id is not None:
        await inbox.push(body.user_id, "official.message.received", item)
    else:
        await inbox.push_everyone("official.message.received", item)
    return item


async def official_messages(svc: Services, user_id: int, cursor: str | None, limit: int) -> dict[str, Any]:
    """The user's official messages (to them and to everyone), newest first."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.official_page(conn, user_id, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [official_item(r) for r in items], "next_cursor": next_cursor}


async def sent_official_messages(svc: Services, cursor: str | None, limit: int) -> dict[str, Any]:
    """Every official message sent, newest first (staff)."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.official_sent_page(conn, before, limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["id"],))
    return {"items": [{**official_item(r), "sender_id": r["sender_id"]} for r in items], "next_cursor": next_cursor}
