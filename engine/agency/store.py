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
