"""What a user does in their inbox: open a thread (or a message request), accept one, send, unsend,
mark seen, and page through threads and messages. Each change commits under the thread's lock
(engine/inbox/store.py); its push goes out after the commit, to the peer's sockets on any process.

Notifications: a message request stores a `dm` notification for its recipient; a plain message
stores one only when the recipient has no unread `dm` notification from the sender yet (one per
burst of messages, not one per message), and marking the thread seen marks those read. Both
respect the recipient's preferences (kind `dm` off: neither stored nor pushed).

Catching up after a reconnect (messages are in PostgreSQL; pushes missed while offline are not
replayed): `GET /api/v1/me/threads` gives each thread's last message and unread count, newest
activity first; for a thread whose last message is newer than the client's newest, page forward
with `GET /api/v1/threads/{id}/messages?after=<newest id held>` until `has_more` is false. Unsends
happen within 5 minutes of a send, so re-reading the newest page (no `before`) shows any tombstone
of a message the client already had.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.accounts import store as accounts_store
from engine.db import Conn
from engine.errors import validation_error
from engine.inbox import store
from engine.inbox.live import Inbox
from engine.inbox.model import (
    MessageBody,
    SeenBody,
    check_may_accept,
    check_may_send,
    check_may_unsend,
    message_item,
    message_not_found,
    pair,
    thread_item,
    thread_not_found,
)
from engine.notifications import store as notifications
from engine.notifications.model import Notice
from engine.services import Services
from engine.social import store as social
from engine.social.follows import user_not_found
from engine.social.model import allows, decode_cursor, page


async def _visible(conn: Conn, user_id: int, thread_id: int) -> dict[str, Any]:
    row = await store.view(conn, user_id, thread_id)
    if row is None:
        raise thread_not_found(thread_id)
    return row


async def _locked(conn: Conn, user_id: int, thread_id: int) -> dict[str, Any]:
    thread = await store.lock_thread_txn(conn, user_id, thread_id)
    if thread is None:
        raise thread_not_found(thread_id)
    return thread


async def do_open_thread(inbox: Inbox, user_id: int, peer_id: int) -> dict[str, Any]:
    """The pair's thread (idempotent): open when the peer's `messages` setting lets the user in,
    else a message request the peer must accept. Someone missing or in a block with the user: 404."""
    svc = inbox.svc
    if peer_id == user_id:
        raise validation_error({"peer_id": ["You cannot message yourself."]})
    low, high = pair(user_id, peer_id)
    async with svc.pool.acquire() as conn:
        existing = await store.thread_of_pair(conn, low, high)
        if existing is not None:
            row = await store.view(conn, user_id, existing)
            if row is None:
                raise user_not_found(peer_id)
            return thread_item(row)
    await svc.limiter.check("dm_thread", str(user_id), svc.config.dm_thread_rate_limit)
    stored = None
    async with svc.pool.acquire() as conn, conn.transaction():
        # Under the pair's lock a block or unfollow of the two is seen whole (engine/social/store.py).
        await social.lock_pair_txn(conn, user_id, peer_id)
        rel = await social.relationship(conn, user_id, peer_id)
        peer = await social.privacy(conn, peer_id)
        if rel.blocked or await accounts_store.get_user(conn, peer_id) is None:
            raise user_not_found(peer_id)
        status = "open" if allows(peer.messages, rel) else "request"
        created = await store.insert_thread_txn(conn, low, high, user_id, status)
        thread_id = created if created is not None else await store.thread_of_pair(conn, low, high)
        assert thread_id is not None
        if created is not None and status == "request":
            notice = Notice(user_id=peer_id, kind="dm", actor_id=user_id, target_type="dm_thread",
                            target_id=str(thread_id), text="wants to send you a message.",
                            data={"thread_id": thread_id, "request": True})  # fmt: skip
            stored = await inbox.notifications.record_txn(conn, notice)
        mine = await _visible(conn, user_id, thread_id)
        theirs = await _visible(conn, peer_id, thread_id) if created is not None and status == "request" else None
    if theirs is not None:
        await inbox.push(peer_id, "dm.thread.request", {"thread": thread_item(theirs)})
        await inbox.notifications.push(stored)
    return thread_item(mine)


async def do_accept(inbox: Inbox, user_id: int, thread_id: int) -> dict[str, Any]:
    """Accept a message request (idempotent; an open thread stays open)."""
    async with inbox.svc.pool.acquire() as conn, conn.transaction():
        thread = await _locked(conn, user_id, thread_id)
        check_may_accept(thread, user_id)
        accepted = thread["status"] == "request"
        if accepted:
            await store.accept_txn(conn, thread_id)
        row = await _visible(conn, user_id, thread_id)
    if accepted:
        await inbox.push(thread["peer_id"], "dm.thread.accepted", {"thread_id": thread_id, "user_id": user_id})
    return thread_item(row)


async def do_send(inbox: Inbox, user_id: int, thread_id: int, body: MessageBody) -> dict[str, Any]:
    """Store a message (a retry with the same client_id returns the first one, pushed once)."""
    svc = inbox.svc
    body.check()
    await svc.limiter.check("dm", str(user_id), svc.config.dm_rate_limit)
    stored = None
    async with svc.pool.acquire() as conn, conn.transaction():
        thread = await _locked(conn, user_id, thread_id)
        peer = thread["peer_id"]
        if (again := await store.message_by_client_id(conn, thread_id, user_id, body.client_id)) is not None:
            return message_item(again)
        sent = await store.sent_count(conn, thread_id, user_id, 1) if thread["status"] == "request" else 0
        check_may_send(thread, user_id, sent)
        message = await store.insert_message_txn(conn, thread_id, user_id, body.client_id, body.text, body.image_url)
        assert message is not None  # the client_id was free, and the thread's lock is held
        notice = Notice(user_id=peer, kind="dm", actor_id=user_id, target_type="dm_thread",
                        target_id=str(thread_id), text="sent you a message.",
                        data={"thread_id": thread_id, "message_id": message["id"]})  # fmt: skip
        stored = await inbox.notifications.record_txn(conn, notice, once_until_read=True)
        await store.record_sent_txn(conn, thread_id, user_id, message["id"])
    item = message_item(message)
    await inbox.push(peer, "dm.message.received", {"thread_id": thread_id, "message": item})
    await inbox.notifications.push(stored)
    return item


async def do_unsend(inbox: Inbox, user_id: int, thread_id: int, message_id: int) -> dict[str, Any]:
    """Unsend one's own message within 5 minutes (idempotent): its content is erased."""
    async with inbox.svc.pool.acquire() as conn, conn.transaction():
        thread = await _locked(conn, user_id, thread_id)
        message = await store.message_txn(conn, thread_id, message_id)
        if message is None:
            raise message_not_found(message_id)
        check_may_unsend(message, user_id, dt.datetime.now(dt.UTC))
        if message["unsent_at"] is not None:
            return message_item(message)
        gone = await store.unsend_txn(conn, thread_id, message_id, thread["peer_id"])
    await inbox.push(thread["peer_id"], "dm.message.unsent", {"thread_id": thread_id, "message_id": message_id})
    return message_item(gone)


async def do_seen(inbox: Inbox, user_id: int, thread_id: int, body: SeenBody) -> dict[str, Any]:
    """The user saw the thread up to a message (default the newest; never moving back). The peer
    hears it (`dm.thread.seen`) once the thread is open: a requester learns nothing of a request's
    recipient before the acceptance."""
    async with inbox.svc.pool.acquire() as conn, conn.transaction():
        thread = await _locked(conn, user_id, thread_id)
        last = thread["last_message_id"] or 0
        up_to = last if body.message_id is None else min(body.message_id, last)
        position, unread = await store.seen_txn(conn, thread_id, user_id, up_to)
        if unread == 0:
            await notifications.mark_read_from_txn(conn, user_id, "dm", thread["peer_id"])
    moved = position > thread["last_read_message_id"]
    if moved and thread["status"] == "open":
        await inbox.push(thread["peer_id"], "dm.thread.seen",
                         {"thread_id": thread_id, "user_id": user_id, "last_read_message_id": position})  # fmt: skip
    return {"thread_id": thread_id, "last_read_message_id": position, "unread_count": unread}


async def threads(svc: Services, user_id: int, *, status: str | None, cursor: str | None,
                  limit: int) -> dict[str, Any]:  # fmt: skip
    """The user's threads, newest activity first. A thread that has activity while the client pages
    moves to the head of the list (before the pages already read; its push tells the client), so
    no thread is listed twice and none that stayed put is skipped."""
    (before,) = decode_cursor(cursor, int) or (None,)
    async with svc.pool.acquire() as conn:
        rows = await store.inbox_page(conn, user_id, status=status, before=before, limit=limit + 1)
    items, next_cursor = page(rows, limit, lambda r: (r["activity"],))
    return {"items": [thread_item(r) for r in items], "next_cursor": next_cursor}


async def thread(svc: Services, user_id: int, thread_id: int) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        return thread_item(await _visible(conn, user_id, thread_id))


async def messages(svc: Services, user_id: int, thread_id: int, *, before: int | None, after: int | None,
                   limit: int) -> dict[str, Any]:  # fmt: skip
    """A page of the thread's messages: newest first before `before` (or from the newest), or oldest
    first after `after` (catching up); `has_more`: there are more in that direction."""
    if before is not None and after is not None:
        message = "Send before or after, not both."
        raise validation_error({"before": [message], "after": [message]})
    async with svc.pool.acquire() as conn:
        if await store.participant_peer(conn, user_id, thread_id) is None:
            raise thread_not_found(thread_id)
        rows = await store.messages_page(conn, thread_id, before=before, after=after, limit=limit + 1)
    return {"items": [message_item(r) for r in rows[:limit]], "has_more": len(rows) > limit}
