"""PostgreSQL access for feature flags and the maintenance row (sql/0036_system.sql)."""

from __future__ import annotations

import datetime as dt

from engine.config import Rate
from engine.db import Conn
from engine.flags.model import Flag, Maintenance

_FLAG_COLUMNS = "name, description, enabled, rollout_percent, updated_at, updated_by"


def _flag(row: object) -> Flag:
    r = dict(row)  # type: ignore[call-overload]
    return Flag(r["name"], r["description"], r["enabled"], int(r["rollout_percent"]), r["updated_at"],
                r["updated_by"])  # fmt: skip


async def all_flags(conn: Conn) -> list[Flag]:
    return [_flag(r) for r in await conn.fetch(f"SELECT {_FLAG_COLUMNS} FROM feature_flags ORDER BY name")]


async def flag_for_update_txn(conn: Conn, name: str) -> Flag | None:
    row = await conn.fetchrow(f"SELECT {_FLAG_COLUMNS} FROM feature_flags WHERE name = $1 FOR UPDATE", name)
    return _flag(row) if row is not None else None


async def upsert_flag_txn(conn: Conn, name: str, description: str, enabled: bool, rollout_percent: int,
                          actor_id: int) -> Flag:  # fmt: skip
    row = await conn.fetchrow(
        f"""INSERT INTO feature_flags (name, description, enabled, rollout_percent, updated_by)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, enabled = EXCLUDED.enabled,
                rollout_percent = EXCLUDED.rollout_percent, updated_by = EXCLUDED.updated_by, updated_at = now()
            RETURNING {_FLAG_COLUMNS}""",
        name, description, enabled, rollout_percent, actor_id,
    )  # fmt: skip
    return _flag(row)


async def delete_flag_txn(conn: Conn, name: str) -> bool:
    return await conn.fetchval("DELETE FROM feature_flags WHERE name = $1 RETURNING true", name) is not None


def _maintenance(row: object) -> Maintenance:
    r = dict(row)  # type: ignore[call-overload]
    return Maintenance(r["active"], r["message"], r["started_at"], r["ends_at"])


async def maintenance(conn: Conn) -> Maintenance:
    row = await conn.fetchrow("SELECT active, message, started_at, ends_at FROM system_maintenance")
    return _maintenance(row) if row is not None else Maintenance(active=False)


async def maintenance_for_update_txn(conn: Conn) -> Maintenance:
    row = await conn.fetchrow("SELECT active, message, started_at, ends_at FROM system_maintenance FOR UPDATE")
    return _maintenance(row) if row is not None else Maintenance(active=False)


async def set_maintenance_txn(conn: Conn, active: bool, message: str, ends_at: dt.datetime | None,
                              actor_id: int) -> Maintenance:  # fmt: skip
    """On: keeps the first start time when it was already on (a changed message is not a new start)."""
    row = await conn.fetchrow(
        """UPDATE system_maintenance SET active = $1, message = $2, ends_at = $3, updated_by = $4, updated_at = now(),
               started_at = CASE WHEN NOT $1 THEN NULL WHEN active THEN started_at ELSE now() END
           RETURNING active, message, started_at, ends_at""",
        active, message, ends_at, actor_id,
    )  # fmt: skip
    return _maintenance(row)


async def rate_overrides(conn: Conn) -> dict[str, Rate]:
    rows = await conn.fetch("SELECT scope, capacity, period_seconds FROM rate_limit_overrides")
    return {r["scope"]: Rate(int(r["capacity"]), float(r["period_seconds"])) for r in rows}


async def rate_override_rows(conn: Conn) -> list[dict[str, object]]:
    rows = await conn.fetch(
        """SELECT o.scope, o.capacity, o.period_seconds, o.updated_at, u.name AS updated_by_name
           FROM rate_limit_overrides o LEFT JOIN users u ON u.id = o.updated_by ORDER BY o.scope"""
    )
    return [dict(r) for r in rows]


async def rate_override_for_update_txn(conn: Conn, scope: str) -> Rate | None:
    row = await conn.fetchrow(
        "SELECT capacity, period_seconds FROM rate_limit_overrides WHERE scope = $1 FOR UPDATE", scope
    )
    return Rate(int(row["capacity"]), float(row["period_seconds"])) if row is not None else None


async def set_rate_override_txn(conn: Conn, scope: str, rate: Rate, actor_id: int) -> None:
    await conn.execute(
        """INSERT INTO rate_limit_overrides (scope, capacity, period_seconds, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (scope) DO UPDATE SET capacity = EXCLUDED.capacity, period_seconds = EXCLUDED.period_seconds,
               updated_by = EXCLUDED.updated_by, updated_at = now()""",
        scope, rate.capacity, rate.period, actor_id,
    )  # fmt: skip


async def delete_rate_override_txn(conn: Conn, scope: str) -> bool:
    return await conn.fetchval("DELETE FROM rate_limit_overrides WHERE scope = $1 RETURNING true", scope) is not None
