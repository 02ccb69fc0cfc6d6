"""PostgreSQL access for direct messages and official messages (sql/0014_inbox.sql): the one
module that reads or writes them.

Every change inside a thread (a send, an unsend, `seen`, accepting) runs under the thread's row
lock (`lock_thread_txn`), so each participant's unread count and last-read position stay exact
however many sends race, and the thread's last message is the newest one.
"""

from __future__ import annotations

from typing import Any

from engine.db import Conn

# Neither participant blocked the other (me: the viewer's member row).
_NO_BLOCK = """NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = me.user_id AND b.blocked_id = me.peer_id)
    AND NOT EXISTS (SELECT 1 FROM user_blocks b WHERE b.blocker_id = me.peer_id AND b.blocked_id = me.user_id)"""

# A thread as the viewer ($1) sees it: their side, the peer's last-read position, the peer's card
# and the last message.
_VIEW = f"""SELECT t.id, t.status, t.requester_id, t.created_at, t.accepted_at, me.activity, me.unread_count,
                   me.last_read_message_id, pm.last_read_message_id AS peer_last_read_message_id, me.peer_id,
                   u.name AS peer_name, u.signature AS peer_signature, u.avatar_image AS peer_avatar,
                   m.id AS m_id, m.sender_id AS m_sender_id, m.client_id AS m_client_id, m.text AS m_text,
                   m.image_url AS m_image_url, m.created_at AS m_created_at, m.unsent_at AS m_unsent_at
            FROM dm_thread_members me
            JOIN dm_threads t ON t.id = me.thread_id
            JOIN dm_thread_members pm ON pm.thread_id = me.thread_id AND pm.user_id = me.peer_id
            JOIN users u ON u.id = me.peer_id AND u.deleted_at IS NULL
            LEFT JOIN dm_messages m ON m.id = t.last_message_id
            WHERE me.user_id = $1 AND {_NO_BLOCK}"""

_MESSAGE_COLUMNS = "id, thread_id, sender_id, client_id, text, image_url, created_at, unsent_at"


# --- threads ------------------------------------------------------------------------------------


async def insert_thread_txn(conn: Conn, low: int, high: int, requester: int, status: str) -> int | None:
    """Create the pair's thread with both members' rows; None when the pair has one already (the
    unique pair decides between concurrent creators)."""
    thread_id = await conn.fetchval(
        """INSERT INTO dm_threads (user_low, user_high, requester_id, status, accepted_at)
           VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'open' THEN now() END)
           ON CONFLICT (user_low, user_high) DO NOTHING RETURNING id""",
        low, high, requester, status,
    )  # fmt: skip
    if thread_id is None:
        return None
    await conn.execute(
        """WITH a AS (SELECT nextval('dm_activity_seq') AS v)
           INSERT INTO dm_thread_members (thread_id, user_id, peer_id, activity)
           SELECT $1, u, p, a.v FROM a, (VALUES ($2::bigint, $3::bigint), ($3, $2)) AS m (u, p)""",
        thread_id, low, high,
    )  # fmt: skip
    return int(thread_id)


async def thread_of_pair(conn: Conn, low: int, high: int) -> int | None:
    value = await conn.fetchval("SELECT id FROM dm_threads WHERE user_low = $1 AND user_high = $2", low, high)
    return None if value is None else int(value)


async def view(conn: Conn, viewer: int, thread_id: int) -> dict[str, Any] | None:
    """The thread as the viewer sees it; None when it is not theirs, or a block stands between them."""
    row = await conn.fetchrow(f"{_VIEW} AND me.thread_id = $2", viewer, thread_id)
    return dict(row) if row is not None else None


async def lock_thread_txn(conn: Conn, viewer: int, thread_id: int) -> dict[str, Any] | None:
    """Lock the thread row for a change by the viewer; the thread and the peer, or None when it is
    not the viewer's or a block stands between the two (read under the lock's snapshot)."""
    row = await conn.fetchrow(
        f"""SELECT t.id, t.status, t.requester_id, t.last_message_id, me.peer_id, me.last_read_message_id
            FROM dm_threads t JOIN dm_thread_members me ON me.thread_id = t.id
            WHERE t.id = $2 AND me.user_id = $1 AND {_NO_BLOCK}
            FOR UPDATE OF t""",
        viewer, thread_id,
    )  # fmt: skip
    return dict(row) if row is not None else None


async def accept_txn(conn: Conn, thread_id: int) -> None:
    await conn.execute("UPDATE dm_threads SET status = 'open', accepted_at = now() WHERE id = $1", thread_id)


async def inbox_page(conn: Conn, user_id: int, *, status: str | None, before: int | None,
                     limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The user's threads, newest activity first (keyset on the activity number)."""
    rows = await conn.fetch(
        f"""{_VIEW} AND ($2::bigint IS NULL OR me.activity < $2) AND ($3::text IS NULL OR t.status = $3)
            ORDER BY me.activity DESC LIMIT $4""",
        user_id, before, status, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def participant_peer(conn: Conn, user_id: int, thread_id: int) -> int | None:
    """The user's peer in the thread; None when it is not the user's, or a block stands between them."""
    value = await conn.fetchval(
        f"SELECT me.peer_id FROM dm_thread_members me WHERE me.thread_id = $2 AND me.user_id = $1 AND {_NO_BLOCK}",
        user_id,
        thread_id,
    )
    return None if value is None else int(value)


# --- messages -----------------------------------------------------------------------------------


async def insert_message_txn(conn: Conn, thread_id: int, sender: int, client_id: str, text: str | None,
                             image_url: str | None) -> dict[str, Any] | None:  # fmt: skip
    """Store a message; None when the sender already sent one with this client_id here."""
    row = await conn.fetchrow(
        f"""INSERT INTO dm_messages (thread_id, sender_id, client_id, text, image_url) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (thread_id, sender_id, client_id) DO NOTHING RETURNING {_MESSAGE_COLUMNS}""",
        thread_id, sender, client_id, text, image_url,
    )  # fmt: skip
    return dict(row) if row is not None else None


async def message_by_client_id(conn: Conn, thread_id: int, sender: int, client_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_MESSAGE_COLUMNS} FROM dm_messages WHERE thread_id = $1 AND sender_id = $2 AND client_id = $3",
        thread_id,
        sender,
        client_id,
    )
    return dict(row) if row is not None else None


async def sent_count(conn: Conn, thread_id: int, sender: int, cap: int) -> int:
    """How many messages the sender stored in the thread (counting stops at `cap`)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM (SELECT 1 FROM dm_messages WHERE thread_id = $1 AND sender_id = $2 LIMIT $3) s",
            thread_id,
            sender,
            cap,
        )
    )


async def record_sent_txn(conn: Conn, thread_id: int, sender: int, message_id: int) -> None:
    """After a message: it is the thread's last, the thread moves to the top of both inboxes, and the
    peer has one more unread; the sender has read everything up to it (under the lock every message
    of the peer is older). A thread's new activity number is above its old one whenever the
    transaction commits, so a page read meanwhile never lists it twice: it either stays where it
    was or moves before the page's cursor."""
    await conn.execute("UPDATE dm_threads SET last_message_id = $2 WHERE id = $1", thread_id, message_id)
    await conn.execute(
        """WITH a AS (SELECT nextval('dm_activity_seq') AS v)
           UPDATE dm_thread_members SET activity = a.v,
                  unread_count = CASE WHEN user_id <> $2 THEN unread_count + 1 ELSE 0 END,
                  last_read_message_id = CASE WHEN user_id = $2 THEN $3 ELSE last_read_message_id END
           FROM a WHERE thread_id = $1""",
        thread_id, sender, message_id,
    )  # fmt: skip


async def message_txn(conn: Conn, thread_id: int, message_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_MESSAGE_COLUMNS} FROM dm_messages WHERE thread_id = $1 AND id = $2", thread_id, message_id
    )
    return dict(row) if row is not None else None


async def message_seen_by(conn: Conn, viewer: int, message_id: int) -> dict[str, Any] | None:
    """A message of a thread the viewer is in (a report's target: engine/reports/targets.py), or None."""
    row = await conn.fetchrow(
        """SELECT m.id, m.thread_id, m.sender_id, m.client_id, m.text, m.image_url, m.created_at, m.unsent_at
           FROM dm_messages m
            JOIN dm_thread_members tm ON tm.thread_id = m.thread_id AND tm.user_id = $1
            WHERE m.id = $2""",
        viewer,
        message_id,
    )
    return dict(row) if row is not None else None


async def unsend_txn(conn: Conn, thread_id: int, message_id: int, peer: int) -> dict[str, Any]:
    """Erase the message's content and mark it unsent; if the peer had not read it, one unread fewer."""
    row = await conn.fetchrow(
        f"""UPDATE dm_messages SET text = NULL, image_url = NULL, unsent_at = now()
            WHERE id = $1 RETURNING {_MESSAGE_COLUMNS}""",
        message_id,
    )
    assert row is not None  # the caller holds the thread's lock and read the message
    await conn.execute(
        """UPDATE dm_thread_members SET unread_count = greatest(unread_count - 1, 0)
           WHERE thread_id = $1 AND user_id = $2 AND last_read_message_id < $3""",
        thread_id, peer, message_id,
    )  # fmt: skip
    return dict(row)


async def seen_txn(conn: Conn, thread_id: int, user_id: int, up_to: int) -> tuple[int, int]:
    """The user saw the thread up to message `up_to` (never moving back): their last-read position
    and unread count after it (the peer's messages after the position, not unsent)."""
    row = await conn.fetchrow(
        """UPDATE dm_thread_members me SET last_read_message_id = greatest(me.last_read_message_id, $3),
                  unread_count = (SELECT count(*) FROM dm_messages m
                                  WHERE m.thread_id = $1 AND m.sender_id = me.peer_id AND m.unsent_at IS NULL
                                    AND m.id > greatest(me.last_read_message_id, $3))
           WHERE me.thread_id = $1 AND me.user_id = $2
           RETURNING last_read_message_id, unread_count""",
        thread_id, user_id, up_to,
    )  # fmt: skip
    assert row is not None  # the caller holds the thread's lock as one of its members
    return int(row["last_read_message_id"]), int(row["unread_count"])


async def messages_page(conn: Conn, thread_id: int, *, before: int | None, after: int | None,
                        limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Newest first before `before` (or from the newest); with `after`, oldest first after it."""
    if after is not None:
        rows = await conn.fetch(
            f"SELECT {_MESSAGE_COLUMNS} FROM dm_messages WHERE thread_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            thread_id,
            after,
            limit,
        )
    else:
        rows = await conn.fetch(
            f"""SELECT {_MESSAGE_COLUMNS} FROM dm_messages WHERE thread_id = $1 AND ($2::bigint IS NULL OR id < $2)
                ORDER BY id DESC LIMIT $3""",
            thread_id,
            before,
            limit,
        )
    return [dict(r) for r in rows]


# --- official messages --------------------------------------------------------------------------

_OFFICIAL_COLUMNS = "id, user_id, sender_id, title, text, image_url, created_at"


async def insert_official_txn(conn: Conn, sender: int, user_id: int | None, title: str, text: str,
                              image_url: str | None) -> dict[str, Any]:  # fmt: skip
    row = await conn.fetchrow(
        f"""INSERT INTO official_messages (user_id, sender_id, title, text, image_url) VALUES ($1, $2, $3, $4, $5)
            RETURNING {_OFFICIAL_COLUMNS}""",
        user_id, sender, title, text, image_url,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def official_page(conn: Conn, user_id: int, before: int | None, limit: int) -> list[dict[str, Any]]:
    """The user's official messages and those to everyone, newest first (two index ranges merged)."""
    rows = await conn.fetch(
        f"""SELECT {_OFFICIAL_COLUMNS} FROM (
                (SELECT * FROM official_messages WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3)
                UNION ALL
                (SELECT * FROM official_messages WHERE user_id IS NULL AND ($2::bigint IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3)) o
            ORDER BY id DESC LIMIT $3""",
        user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def official_sent_page(conn: Conn, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Every official message, newest first (for staff)."""
    rows = await conn.fetch(
        f"""SELECT {_OFFICIAL_COLUMNS} FROM official_messages WHERE $1::bigint IS NULL OR id < $1
            ORDER BY id DESC LIMIT $2""",
        before,
        limit,
    )
    return [dict(r) for r in rows]
