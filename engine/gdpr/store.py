"""PostgreSQL access for consents, export jobs and account deletions (sql/0017_gdpr.sql), and the
registry-driven reads (export) and writes (purge) over every domain's tables.

Every table and column name interpolated below comes from engine/gdpr/registry.py, never from a
request; values are parameters.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from engine.db import Conn
from engine.gdpr.registry import Anonymise, Delete, Ref, Table

# --- consents -----------------------------------------------------------------------------------


async def insert_consents_txn(conn: Conn, user_id: int, pairs: list[tuple[str, str]], source: str) -> None:
    """Record the accepted versions (accepting one twice keeps the first record)."""
    if pairs:
        await conn.execute(
            """INSERT INTO user_consents (user_id, policy, version, source)
               SELECT $1, p, v, $4 FROM unnest($2::text[], $3::text[]) AS c (p, v)
               ON CONFLICT (user_id, policy, version) DO NOTHING""",
            user_id, [p for p, _ in pairs], [v for _, v in pairs], source,
        )  # fmt: skip


async def accepted(conn: Conn, user_id: int) -> set[tuple[str, str]]:
    rows = await conn.fetch("SELECT policy, version FROM user_consents WHERE user_id = $1", user_id)
    return {(r["policy"], r["version"]) for r in rows}


async def consents(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT policy, version, source, accepted_at FROM user_consents WHERE user_id = $1 ORDER BY id", user_id
    )
    return [dict(r) for r in rows]


# --- export jobs --------------------------------------------------------------------------------

_JOB = """id, user_id, state, tables_total, tables_done, rows_exported, archive_bytes, created_at, finished_at,
          expires_at, archive IS NOT NULL AS has_archive"""


async def open_export(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_JOB} FROM gdpr_exports WHERE user_id = $1 AND state IN ('queued', 'running')", user_id
    )
    return dict(row) if row else None


async def insert_export(conn: Conn, user_id: int, tables_total: int) -> dict[str, Any] | None:
    """A queued job; None when the user has one open already (the partial unique index decides)."""
    try:
        row = await conn.fetchrow(
            f"INSERT INTO gdpr_exports (user_id, tables_total) VALUES ($1, $2) RETURNING {_JOB}", user_id, tables_total
        )
    except asyncpg.UniqueViolationError:
        return None
    return dict(row) if row else None


async def get_export(conn: Conn, export_id: int, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_JOB} FROM gdpr_exports WHERE id = $1 AND user_id = $2", export_id, user_id)
    return dict(row) if row else None


async def claim_export(conn: Conn, lease_seconds: float) -> tuple[dict[str, Any], uuid.UUID] | None:
    """Take the oldest queued job, or a running one whose holder's lease ran out (it died). SKIP
    LOCKED: two processes claiming at once take different jobs; the claim token then fences off a
    holder that lost its lease."""
    claim = uuid.uuid4()
    row = await conn.fetchrow(
        f"""UPDATE gdpr_exports SET state = 'running', claim = $1, attempts = attempts + 1, tables_done = 0,
                   rows_exported = 0, started_at = now(), lease_until = now() + make_interval(secs => $2)
            WHERE id = (SELECT id FROM gdpr_exports
                        WHERE state = 'queued' OR (state = 'running' AND lease_until < now())
                        ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING {_JOB}""",
        claim, lease_seconds,
    )  # fmt: skip
    return (dict(row), claim) if row else None


async def export_rows(conn: Conn, table: Table, user_id: int) -> tuple[str, int]:
    """The user's rows of one table as a JSON array (PostgreSQL's own encoding of every type), and how many."""
    row = await conn.fetchrow(
        f"""SELECT coalesce(json_agg(to_jsonb(t) - $2::text[]), '[]')::text AS rows, count(*) AS n
            FROM {table.name} t WHERE {table.export_condition()}""",
        user_id, list(table.omit),
    )  # fmt: skip
    assert row is not None
    return row["rows"], int(row["n"])


async def progress(conn: Conn, export_id: int, claim: uuid.UUID, done: int, rows: int, lease_seconds: float) -> bool:
    """Record progress and extend the lease; False when the claim is no longer this holder's."""
    result = await conn.execute(
        """UPDATE gdpr_exports SET tables_done = $3, rows_exported = $4, lease_until = now() + make_interval(secs => $5)
           WHERE id = $1 AND claim = $2 AND state = 'running'""",
        export_id, claim, done, rows, lease_seconds,
    )  # fmt: skip
    return result.endswith(" 1")


async def finish(conn: Conn, export_id: int, claim: uuid.UUID, archive: bytes, link_ttl: int) -> bool:
    result = await conn.execute(
        """UPDATE gdpr_exports SET state = 'done', archive = $3::bytea, archive_bytes = octet_length($3::bytea),
                  tables_done = tables_total, finished_at = now(), expires_at = now() + make_interval(secs => $4),
                  claim = NULL, lease_until = NULL
           WHERE id = $1 AND claim = $2 AND state = 'running'""",
        export_id, claim, archive, link_ttl,
    )  # fmt: skip
    return result.endswith(" 1")


async def fail(conn: Conn, export_id: int, claim: uuid.UUID, error: str) -> None:
    await conn.execute(
        """UPDATE gdpr_exports SET state = 'failed', error = $3, finished_at = now(), claim = NULL, lease_until = NULL
           WHERE id = $1 AND claim = $2 AND state = 'running'""",
        export_id, claim, error[:500],
    )  # fmt: skip


async def archive_of(conn: Conn, export_id: int, user_id: int) -> tuple[bytes, dt.datetime] | None:
    row = await conn.fetchrow(
        """SELECT archive, expires_at FROM gdpr_exports
           WHERE id = $1 AND user_id = $2 AND state = 'done' AND archive IS NOT NULL""",
        export_id, user_id,
    )  # fmt: skip
    return (bytes(row["archive"]), row["expires_at"]) if row else None


async def drop_expired_archives(conn: Conn) -> int:
    """Free the archives whose link has expired (the job row stays, without its data)."""
    return int(
        await conn.fetchval(
            """WITH gone AS (UPDATE gdpr_exports SET archive = NULL
                             WHERE archive IS NOT NULL AND expires_at < now() RETURNING 1)
               SELECT count(*) FROM gone"""
        )
    )


# --- deletions ----------------------------------------------------------------------------------


async def request_deletion_txn(conn: Conn, user_id: int, grace_days: int) -> dt.datetime:
    """Hide the account (deleted_at: it answers 404 as a deleted one) and schedule its purge."""
    await conn.execute("UPDATE users SET deleted_at = now(), updated_at = now() WHERE id = $1", user_id)
    purge_after = await conn.fetchval(
        """INSERT INTO account_deletions (user_id, purge_after) VALUES ($1, now() + make_interval(days => $2))
           ON CONFLICT (user_id) DO UPDATE SET state = 'pending', requested_at = now(),
               purge_after = excluded.purge_after, cancelled_at = NULL
           RETURNING purge_after""",
        user_id, grace_days,
    )  # fmt: skip
    assert isinstance(purge_after, dt.datetime)
    return purge_after


async def pending_by_phone(conn: Conn, phone: str) -> dict[str, Any] | None:
    """The account with this phone whose deletion is pending and still in its grace period."""
    row = await conn.fetchrow(
        """SELECT u.id, u.password_hash FROM users u JOIN account_deletions d ON d.user_id = u.id
           WHERE u.phone = $1 AND u.deleted_at IS NOT NULL AND d.state = 'pending' AND d.purge_after > now()""",
        phone,
    )
    return dict(row) if row else None


async def cancel_deletion_txn(conn: Conn, user_id: int) -> bool:
    """Cancel a pending deletion still in its grace period (the row lock orders it against a purge)."""
    cancelled = await conn.fetchval(
        """UPDATE account_deletions SET state = 'cancelled', cancelled_at = now()
           WHERE user_id = $1 AND state = 'pending' AND purge_after > now() RETURNING true""",
        user_id,
    )
    if cancelled:
        await conn.execute("UPDATE users SET deleted_at = NULL, updated_at = now() WHERE id = $1", user_id)
    return bool(cancelled)


async def deletion_of(conn: Conn, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM account_deletions WHERE user_id = $1", user_id)
    return dict(row) if row else None


async def rooms_chatted_in(conn: Conn, user_id: int) -> list[int]:
    """The rooms whose live chat may still hold the user's messages: their own and those the
    activity log has them visiting (a message needs a visit: a member chats)."""
    rows = await conn.fetch(
        """SELECT id FROM rooms WHERE user_id = $1
           UNION SELECT room_id FROM user_activity
           WHERE user_id = $1 AND kind = 'room_visit' AND room_id IS NOT NULL""",
        user_id,
    )  # fmt: skip
    return [int(r[0]) for r in rows]


async def claim_due_purge_txn(conn: Conn) -> int | None:
    """One deletion past its grace period, locked for this transaction (others skip it)."""
    value = await conn.fetchval(
        """SELECT user_id FROM account_deletions WHERE state = 'pending' AND purge_after <= now()
           ORDER BY purge_after LIMIT 1 FOR UPDATE SKIP LOCKED"""
    )
    return int(value) if value is not None else None


async def follow_edges_txn(conn: Conn, user_id: int) -> list[dict[str, Any]]:
    """Every other user in the user's follow graph: whether the user follows them and they the user."""
    rows = await conn.fetch(
        """SELECT other, bool_or(mine) AS i_follow, bool_or(NOT mine) AS follows_me FROM (
               SELECT following_id AS other, true AS mine FROM user_followers WHERE follower_id = $1
               UNION ALL SELECT follower_id, false FROM user_followers WHERE following_id = $1) e
           GROUP BY other ORDER BY other""",
        user_id,
    )
    return [dict(r) for r in rows]


async def apply_rule_txn(conn: Conn, table: Table, ref: Ref, user_id: int) -> int:
    """Apply the registry's rule for the rows where `ref` names the user; how many rows it touched."""
    rule = ref.rule
    if isinstance(rule, Delete):
        extra = f" AND ({rule.where})" if rule.where else ""
        result = await conn.execute(f"DELETE FROM {table.name} t WHERE {ref.condition()}{extra}", user_id)
    elif isinstance(rule, Anonymise):
        assignments = ", ".join(f"{column} = {expression}" for column, expression in rule.set.items())
        result = await conn.execute(f"UPDATE {table.name} t SET {assignments} WHERE {ref.condition()}", user_id)
    else:
        return 0
    return int(result.rsplit(" ", 1)[-1])


async def mark_purged_txn(conn: Conn, user_id: int) -> None:
    await conn.execute("UPDATE account_deletions SET state = 'purged', purged_at = now() WHERE user_id = $1", user_id)


# --- the schema, for the coverage test and the rule check ---------------------------------------


async def user_columns(conn: Conn) -> set[tuple[str, str]]:
    """Every column that may hold a user id: each foreign key to users(id), and each integer column
    named `*_id` that has no foreign key at all (ids kept without one, as the ledger's account_id)."""
    rows = await conn.fetch(
        """SELECT c.conrelid::regclass::text AS tbl, a.attname AS col
           FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
           UNION
           SELECT col.table_name, col.column_name FROM information_schema.columns col
           JOIN information_schema.tables tab USING (table_schema, table_name)
           WHERE col.table_schema = current_schema() AND tab.table_type = 'BASE TABLE'
             AND col.column_name LIKE '%\\_id' AND col.data_type IN ('bigint', 'integer', 'smallint')
             AND NOT EXISTS (
                 SELECT 1 FROM pg_constraint c
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.contype = 'f' AND c.conrelid = format('%I', col.table_name)::regclass
                   AND a.attname = col.column_name)"""
    )  # fmt: skip
    return {(r["tbl"], r["col"]) for r in rows}


async def table_columns(conn: Conn) -> dict[str, set[str]]:
    rows = await conn.fetch(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
    )
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["table_name"], set()).add(r["column_name"])
    return out
