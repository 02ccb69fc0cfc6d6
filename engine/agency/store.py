"""PostgreSQL access for agencies, their membership and its history (sql/0005, sql/0018)."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine.db import Conn

# An agency with its owner's name and avatar and its live member count.
_AGENCY = """a.*, o.name AS owner_name, o.avatar_image AS owner_avatar,
             (SELECT count(*) FROM agency_members m WHERE m.agency_id = a.id AND m.left_at IS NULL)::int
                 AS member_count"""


async def next_agency_id(conn: Conn) -> int:
    return int(await conn.fetchval("SELECT nextval(pg_get_serial_sequence('agencies', 'id'))"))


async def insert_application_txn(conn: Conn, agency_id: int, owner_id: int, fields: dict[str, Any]) -> str | None:
    """Store a pending application; None, or the unique index that refused it
    ("agencies_name_ci": the name is taken; "agencies_one_per_owner": the user has an agency or a
    pending application)."""
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction survives a refusal
            await conn.execute(
                """INSERT INTO agencies (id, name, owner_id, status, review_status, country, phone, address,
                                         logo_url, id_front_sealed, id_back_sealed, referee_user_id)
                   VALUES ($1, $2, $3, 'inactive', 'pending', $4, $5, $6, $7, $8, $9, $10)""",
                agency_id, fields["name"], owner_id, fields["country"], fields["phone"], fields["address"],
                fields["logo_url"], fields["id_front_sealed"], fields["id_back_sealed"], fields["referee_user_id"],
            )  # fmt: skip
    except asyncpg.UniqueViolationError as e:
        return e.constraint_name or "unique"
    return None


async def get(conn: Conn, agency_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """The agency; `lock`: held FOR UPDATE until the transaction ends (membership changes of one
    agency are serialised on its row, so a member limit is never overrun)."""
    if lock:
        await conn.execute("SELECT 1 FROM agencies WHERE id = $1 FOR UPDATE", agency_id)
    row = await conn.fetchrow(f"SELECT {_AGENCY} FROM agencies a JOIN users o ON o.id = a.owner_id WHERE a.id = $1",
                              agency_id)  # fmt: skip
    return dict(row) if row else None


async def user_exists(conn: Conn, user_id: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL)",
                                    user_id))  # fmt: skip


async def membership(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """The user's current membership (any agency), if any."""
    row = await conn.fetchrow(
        "SELECT agency_id, role, joined_at FROM agency_members WHERE user_id = $1 AND left_at IS NULL", user_id
    )
    return dict(row) if row else None


async def public_page(conn: Conn, search: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Approved, open agencies, newest first; `search`: an escaped LIKE fragment of the name."""
    rows = await conn.fetch(
        f"""SELECT {_AGENCY} FROM agencies a JOIN users o ON o.id = a.owner_id
            WHERE a.review_status = 'approved' AND a.status <> 'closed'
              AND ($1::text IS NULL OR lower(a.name) LIKE '%' || lower($1) || '%')
              AND ($2::bigint IS NULL OR a.id < $2)
            ORDER BY a.id DESC LIMIT $3""",
        search, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def admin_page(conn: Conn, review_status: str | None, before: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_AGENCY} FROM agencies a JOIN users o ON o.id = a.owner_id
            WHERE ($1::text IS NULL OR a.review_status = $1) AND ($2::bigint IS NULL OR a.id < $2)
            ORDER BY a.id DESC LIMIT $3""",
        review_status, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def review_txn(conn: Conn, agency_id: int, actor_id: int, reason: str | None) -> None:
    """Approve (no reason) or reject a pending application (the caller holds its row)."""
    await conn.execute(
        """UPDATE agencies SET review_status = CASE WHEN $3::text IS NULL THEN 'approved' ELSE 'rejected' END,
                               status = CASE WHEN $3::text IS NULL THEN 'active' ELSE status END,
                               rejection_reason = $3, reviewed_by = $2, reviewed_at = now(), updated_at = now()
           WHERE id = $1""",
        agency_id, actor_id, reason,
    )  # fmt: skip


async def update_txn(conn: Conn, agency_id: int, changes: dict[str, Any]) -> None:
    # Column names come from UpdateBody.changes (a fixed set), never from the client.
    sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
    await conn.execute(f"UPDATE agencies SET {sets}, updated_at = now() WHERE id = $1", agency_id, *changes.values())


async def close_txn(conn: Conn, agency_id: int, actor_id: int) -> None:
    await conn.execute(
        """UPDATE agencies SET status = 'closed', closed_at = now(), closed_by = $2, updated_at = now()
           WHERE id = $1""",
        agency_id, actor_id,
    )  # fmt: skip


async def add_member_txn(conn: Conn, agency_id: int, user_id: int, role: str, actor_id: int | None) -> bool:
    """Make the user a member, with the history row; False when they are in an agency already (the
    partial unique index agency_members_one_active decides, whatever raced)."""
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO agency_members (agency_id, user_id, role) VALUES ($1, $2, $3)",
                               agency_id, user_id, role)  # fmt: skip
    except asyncpg.UniqueViolationError:
        return False
    await record_event_txn(conn, agency_id, user_id, "joined", role=role, actor_id=actor_id)
    return True


async def release_all_txn(conn: Conn, agency_id: int, actor_id: int, reason: str | None) -> list[int]:
    """End every membership of the agency (it was closed), with a history row each; who they were."""
    rows = await conn.fetch(
        """UPDATE agency_members SET left_at = now(), left_reason = 'dissolved'
           WHERE agency_id = $1 AND left_at IS NULL RETURNING user_id, role""",
        agency_id,
    )
    await conn.executemany(
        """INSERT INTO agency_member_events (agency_id, user_id, kind, role, actor_id, reason)
           VALUES ($1, $2, 'dissolved', $3, $4, $5)""",
        [(agency_id, r["user_id"], r["role"], actor_id, reason) for r in rows],
    )
    return [int(r["user_id"]) for r in rows]


async def cancel_requests_txn(conn: Conn, agency_id: int) -> None:
    await conn.execute(
        """UPDATE agency_requests SET status = 'cancelled', processed_at = now()
           WHERE agency_id = $1 AND status = 'pending'""",
        agency_id,
    )


async def record_event_txn(conn: Conn, agency_id: int, user_id: int, kind: str, *, role: str | None = None,
                           actor_id: int | None = None, reason: str | None = None) -> None:  # fmt: skip
    await conn.execute(
        """INSERT INTO agency_member_events (agency_id, user_id, kind, role, actor_id, reason)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        agency_id, user_id, kind, role, actor_id, reason,
    )  # fmt: skip


async def member_events(conn: Conn, agency_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM agency_member_events WHERE agency_id = $1 ORDER BY id", agency_id)
    return [dict(r) for r in rows]


# --- membership -----------------------------------------------------------------------------------


async def member(conn: Conn, agency_id: int, user_id: int) -> dict[str, Any] | None:
    """The user's current membership of this agency, if any."""
    row = await conn.fetchrow(
        "SELECT * FROM agency_members WHERE agency_id = $1 AND user_id = $2 AND left_at IS NULL", agency_id, user_id
    )
    return dict(row) if row else None


async def member_count(conn: Conn, agency_id: int) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM agency_members WHERE agency_id = $1 AND left_at IS NULL", agency_id))  # fmt: skip


async def managers(conn: Conn, agency_id: int) -> list[int]:
    """The members who handle requests (owner, admins, moderators)."""
    rows = await conn.fetch(
        """SELECT user_id FROM agency_members
           WHERE agency_id = $1 AND left_at IS NULL AND role IN ('owner', 'admin', 'moderator')""",
        agency_id,
    )
    return [int(r["user_id"]) for r in rows]


async def member_ids(conn: Conn, agency_id: int) -> list[int]:
    rows = await conn.fetch("SELECT user_id FROM agency_members WHERE agency_id = $1 AND left_at IS NULL", agency_id)
    return [int(r["user_id"]) for r in rows]


async def end_membership_txn(conn: Conn, agency_id: int, user_id: int, reason: str, actor_id: int) -> str | None:
    """End the user's membership (`reason`: left or kicked), with its history row; the role they
    had, or None when they were no member."""
    role = await conn.fetchval(
        """UPDATE agency_members SET left_at = now(), left_reason = $3
           WHERE agency_id = $1 AND user_id = $2 AND left_at IS NULL RETURNING role""",
        agency_id, user_id, reason,
    )  # fmt: skip
    if role is not None:
        await record_event_txn(conn, agency_id, user_id, reason, role=role, actor_id=actor_id)
    return str(role) if role is not None else None


async def set_role_txn(conn: Conn, agency_id: int, user_id: int, role: str, actor_id: int) -> None:
    await conn.execute("UPDATE agency_members SET role = $3 WHERE agency_id = $1 AND user_id = $2 AND left_at IS NULL",
                       agency_id, user_id, role)  # fmt: skip
    await record_event_txn(conn, agency_id, user_id, "role_changed", role=role, actor_id=actor_id)


async def members_page(conn: Conn, agency_id: int, name: str | None, user_id: int | None, before: int | None,
                       limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Current members, newest first; `name`: an escaped name prefix, `user_id`: an exact id (either matches)."""
    rows = await conn.fetch(
        """SELECT m.id, m.user_id, m.role, m.joined_at, u.name, u.avatar_image
           FROM agency_members m JOIN users u ON u.id = m.user_id
           WHERE m.agency_id = $1 AND m.left_at IS NULL AND ($4::bigint IS NULL OR m.id < $4)
             AND (($2::text IS NULL AND $3::bigint IS NULL)
                  OR lower(u.name) LIKE lower($2) || '%' OR u.id = $3)
           ORDER BY m.id DESC LIMIT $5""",
        agency_id, name, user_id, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# --- join requests and invitations ------------------------------------------------------------------

_REQUEST = """r.*, u.name AS user_name, u.avatar_image AS user_avatar, a.name AS agency_name,
              a.logo_url AS agency_logo, i.name AS inviter_name"""
_REQUEST_FROM = """agency_requests r JOIN users u ON u.id = r.user_id JOIN agencies a ON a.id = r.agency_id
                   LEFT JOIN users i ON i.id = r.invited_by"""


async def insert_request_txn(conn: Conn, agency_id: int, user_id: int, kind: str, message: str | None,
                             invited_by: int | None) -> int | None:  # fmt: skip
    """A pending join request or invitation; None when one of that kind is pending already."""
    try:
        async with conn.transaction():
            return int(await conn.fetchval(
                """INSERT INTO agency_requests (agency_id, user_id, kind, message, invited_by)
                   VALUES ($1, $2, $3, $4, $5) RETURNING id""",
                agency_id, user_id, kind, message, invited_by,
            ))  # fmt: skip
    except asyncpg.UniqueViolationError:
        return None


async def get_request(conn: Conn, request_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    if lock:
        await conn.execute("SELECT 1 FROM agency_requests WHERE id = $1 FOR UPDATE", request_id)
    row = await conn.fetchrow(f"SELECT {_REQUEST} FROM {_REQUEST_FROM} WHERE r.id = $1", request_id)
    return dict(row) if row else None


async def finish_request_txn(conn: Conn, request_id: int, status: str, actor_id: int, reason: str | None) -> None:
    await conn.execute(
        """UPDATE agency_requests SET status = $2, processed_by = $3, reason = $4, processed_at = now()
           WHERE id = $1""",
        request_id, status, actor_id, reason,
    )  # fmt: skip


async def cancel_user_requests_txn(conn: Conn, user_id: int) -> None:
    """The user joined an agency: their other pending requests and invitations lapse."""
    await conn.execute(
        """UPDATE agency_requests SET status = 'cancelled', processed_at = now()
           WHERE user_id = $1 AND status = 'pending'""",
        user_id,
    )


async def requests_page(conn: Conn, *, agency_id: int | None, user_id: int | None, kind: str, status: str,
                        before: int | None, limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """An agency's or a user's requests of one kind and status, newest first."""
    rows = await conn.fetch(
        f"""SELECT {_REQUEST} FROM {_REQUEST_FROM}
            WHERE ($1::bigint IS NULL OR r.agency_id = $1) AND ($2::bigint IS NULL OR r.user_id = $2)
              AND r.kind = $3 AND r.status = $4 AND ($5::bigint IS NULL OR r.id < $5)
            ORDER BY r.id DESC LIMIT $6""",
        agency_id, user_id, kind, status, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def person(conn: Conn, user_id: int) -> dict[str, Any] | None:
    """A live account's id, name and avatar (as events show people)."""
    row = await conn.fetchrow("SELECT id, name, avatar_image FROM users WHERE id = $1 AND deleted_at IS NULL", user_id)
    return dict(row) if row else None


async def left_within(conn: Conn, user_id: int, hours: int) -> bool:
    """Whether the user left an agency of their own accord (a leave request approved) within `hours`."""
    return bool(await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM agency_members WHERE user_id = $1 AND left_reason = 'left'
                          AND left_at > now() - make_interval(hours => $2))""",
        user_id, hours,
    ))  # fmt: skip
