"""PostgreSQL access for accounts, roles and owned rooms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.accounts.vip_model import VipPrivileges, decode_privileges
from engine.db import Conn

_USER_COLUMNS = """id, name, email, phone, signature, password_hash, country, gender, dob, avatar_image,
    animated_src, static_src, status, suspended_until, is_blocked, blocked_at, block_reason,
    social_provider, social_provider_id, wealth_xp, charm_xp, room_xp, vip_level, vip_expires_at, wealth_level,
    charm_level, created_at, updated_at, deleted_at, bio, interests, social_links, birthday_visibility, cosmetics"""

# Columns PATCH /api/update-profile may write: the SQL below interpolates only these names.
PROFILE_COLUMNS = frozenset({"name", "phone", "country", "gender", "dob", "signature", "avatar_image", "bio",
                             "interests", "social_links", "birthday_visibility", "cosmetics"})  # fmt: skip


async def taken_signatures(conn: Conn, candidates: list[str]) -> set[str]:
    rows = await conn.fetch("SELECT signature FROM users WHERE signature = ANY($1::text[])", candidates)
    return {r["signature"] for r in rows}


async def phone_taken(conn: Conn, phone: str, except_user: int | None = None) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE phone = $1 AND id IS DISTINCT FROM $2)", phone, except_user
        )
    )


async def insert_user_txn(
    conn: Conn,
    *,
    name: str,
    phone: str,
    signature: str,
    password_hash: str,
    country: str,
    gender: int,
    dob: dt.date,
    email: str | None,
) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"""INSERT INTO users (name, phone, signature, password_hash, country, gender, dob, email)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_USER_COLUMNS}""",
        name,
        phone,
        signature,
        password_hash,
        country,
        gender,
        dob,
        email,
    )
    assert row is not None
    return dict(row)


async def insert_owned_room_txn(conn: Conn, user_id: int, name: str, country: str | None) -> None:
    # The room takes the owner's handle; a room already renamed to it gets a suffix instead.
    await conn.execute(
        """INSERT INTO rooms (user_id, name, country)
           SELECT $1::bigint, CASE WHEN EXISTS (SELECT 1 FROM rooms WHERE name = $2::text)
                  THEN $2::text || '_' || $1::bigint ELSE $2::text END, $3""",
        user_id,
        name,
        country,
    )


async def get_user(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL", user_id)
    return dict(row) if row else None


async def get_user_by_phone(conn: Conn, phone: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE phone = $1 AND deleted_at IS NULL", phone)
    return dict(row) if row else None


async def set_password_hash(conn: Conn, user_id: int, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", user_id, password_hash)


async def update_profile_column(conn: Conn, user_id: int, column: str, value: Any) -> None:
    if column not in PROFILE_COLUMNS:
        raise ValueError(f"not a profile column: {column}")
    await conn.execute(f"UPDATE users SET {column} = $2, updated_at = now() WHERE id = $1", user_id, value)


async def update_profile_columns(conn: Conn, user_id: int, values: dict[str, Any]) -> None:
    """Change several profile columns in one statement."""
    if not set(values) <= PROFILE_COLUMNS:
        raise ValueError(f"not profile columns: {set(values) - PROFILE_COLUMNS}")
    if values:
        assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(values, start=2))
        await conn.execute(
            f"UPDATE users SET {assignments}, updated_at = now() WHERE id = $1", user_id, *values.values()
        )


async def owned_room(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT id, user_id, theme_id, popularity_index, country, name, greetings, logo,
                  can_tourists_speak, can_tourists_send_text, can_tourists_send_files, is_hidden, type,
                  created_at, updated_at, deleted_at
           FROM rooms WHERE user_id = $1 AND deleted_at IS NULL""",
        user_id,
    )
    return dict(row) if row else None


async def active_frame(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT i.id, i.animated_src, i.static_src, u.expires_at, u.quantity, u.is_active, u.purchased_at,
                  u.updated_at
           FROM user_items u JOIN mall_items i ON i.id = u.item_id
           WHERE u.user_id = $1 AND u.category = 'frame' AND u.is_active""",
        user_id,
    )
    return dict(row) if row else None


async def roles_with_permissions(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT r.id, r.name, ur.granted_at,
                  coalesce(array_agg(p.name ORDER BY p.name) FILTER (WHERE p.name IS NOT NULL), '{}') AS permissions
           FROM user_roles ur
           JOIN roles r ON r.id = ur.role_id
           LEFT JOIN role_permissions rp ON rp.role_id = r.id
           LEFT JOIN permissions p ON p.id = rp.permission_id
           WHERE ur.user_id = $1
           GROUP BY r.id, r.name, ur.granted_at ORDER BY r.id""",
        user_id,
    )
    return [dict(r) for r in rows]


async def permission_names(conn: Conn, user_id: int) -> frozenset[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT p.name FROM user_roles ur
           JOIN role_permissions rp ON rp.role_id = ur.role_id
           JOIN permissions p ON p.id = rp.permission_id
           WHERE ur.user_id = $1""",
        user_id,
    )
    return frozenset(r["name"] for r in rows)


async def grant_role_txn(conn: Conn, user_id: int, role: str, granted_by: int | None) -> bool:
    """Give `user_id` the role; False when the role does not exist."""
    role_id = await conn.fetchval("SELECT id FROM roles WHERE name = $1", role)
    if role_id is None:
        return False
    await conn.execute(
        """INSERT INTO user_roles (user_id, role_id, granted_by) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, role_id) DO NOTHING""",
        user_id,
        role_id,
        granted_by,
    )
    return True


async def set_status(
    conn: Conn,
    user_id: int,
    status: str,
    *,
    until: dt.datetime | None,
    reason: str | None,
) -> bool:
    result = await conn.execute(
        """UPDATE users SET status = $2, suspended_until = $3, block_reason = $4,
                  is_blocked = ($2 = 'banned'),
                  blocked_at = CASE WHEN $2 = 'active' THEN NULL ELSE now() END, updated_at = now()
           WHERE id = $1 AND deleted_at IS NULL""",
        user_id,
        status,
        until,
        reason,
    )
    return result.endswith(" 1")


async def remove_role_txn(conn: Conn, user_id: int, role: str) -> None:
    await conn.execute(
        "DELETE FROM user_roles WHERE user_id = $1 AND role_id = (SELECT id FROM roles WHERE name = $2)",
        user_id,
        role,
    )


async def vip_tier_privileges(conn: Conn) -> dict[int, VipPrivileges]:
    """Every VIP tier's privileges by level (what the rooms' hot cache keeps: engine/rooms/cache.py)."""
    rows = await conn.fetch("SELECT level, privileges FROM vip_tiers ORDER BY level")
    return {int(r["level"]): decode_privileges(r["privileges"]) for r in rows}
