"""What the moderation dashboard reads beside the queue (issue 15 §5): a case's history (its audit
trail), the subject's other cases, appeals with their case, and the moderation statistics.
PostgreSQL only; read-only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn


async def case_history(conn: Conn, case_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """What was done to the case (assign, resolve, appeal decisions), oldest first, with who did it."""
    rows = await conn.fetch(
        """SELECT a.at, a.actor_id, u.name AS actor_name, a.action, a.details
           FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
           WHERE a.target_type = 'report' AND a.target_id = $1 ORDER BY a.id LIMIT $2""",
        str(case_id), limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def subject_cases(conn: Conn, user_id: int, exclude: int, limit: int = 20) -> list[dict[str, Any]]:
    """The subject's other cases, newest first (a repeat offender's record)."""
    rows = await conn.fetch(
        """SELECT id, target_type, source, state, reasons, action, action_until, lifted_at, resolved_at, created_at
           FROM moderation_cases WHERE subject_user_id = $1 AND id <> $2 ORDER BY id DESC LIMIT $3""",
        user_id, exclude, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def case_appeal(conn: Conn, case_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM moderation_appeals WHERE case_id = $1", case_id)
    return dict(row) if row else None


async def appeal_rows(conn: Conn, state: str, after: int | None, limit: int) -> list[dict[str, Any]]:
    """Appeals in one state, oldest first, each with its case's action and the appellant's name."""
    rows = await conn.fetch(
        """SELECT a.*, u.name AS user_name, c.action, c.action_until, c.note AS case_note, c.target_type
           FROM moderation_appeals a JOIN moderation_cases c ON c.id = a.case_id
           LEFT JOIN users u ON u.id = a.user_id
           WHERE a.state = $1 AND ($2::bigint IS NULL OR a.id > $2) ORDER BY a.id LIMIT $3""",
        state, after, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def stats(conn: Conn, since: dt.datetime) -> dict[str, Any]:
    """The queue now, and what was decided since `since`."""
    queue = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE state = 'open')::int AS open,
                  count(*) FILTER (WHERE state = 'reviewing')::int AS reviewing,
                  count(*) FILTER (WHERE state IN ('open', 'reviewing') AND high_priority)::int AS high_priority,
                  count(*) FILTER (WHERE state IN ('open', 'reviewing') AND assignee_id IS NULL)::int AS unassigned,
                  min(created_at) FILTER (WHERE state IN ('open', 'reviewing')) AS oldest_open
           FROM moderation_cases"""
    )
    decided = await conn.fetch(
        """SELECT action, count(*)::int AS n FROM moderation_cases
           WHERE resolved_at >= $1 GROUP BY action ORDER BY n DESC, action""",
        since,
    )
    opened = await conn.fetch(
        """SELECT source, count(*)::int AS n FROM moderation_cases WHERE created_at >= $1
           GROUP BY source ORDER BY n DESC, source""",
        since,
    )
    reasons = await conn.fetch(
        """SELECT reason, count(*)::int AS n FROM reports WHERE created_at >= $1
           GROUP BY reason ORDER BY n DESC, reason LIMIT 12""",
        since,
    )
    timing = await conn.fetchrow(
        """SELECT count(*)::int AS resolved,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at))
                      AS median_seconds
           FROM moderation_cases WHERE resolved_at >= $1""",
        since,
    )
    appeals = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
                  count(*) FILTER (WHERE state = 'upheld' AND reviewed_at >= $1)::int AS upheld,
                  count(*) FILTER (WHERE state = 'overturned' AND reviewed_at >= $1)::int AS overturned
           FROM moderation_appeals""",
        since,
    )
    moderators = await conn.fetch(
        """SELECT c.resolved_by, u.name, count(*)::int AS n FROM moderation_cases c
           LEFT JOIN users u ON u.id = c.resolved_by
           WHERE c.resolved_at >= $1 GROUP BY c.resolved_by, u.name ORDER BY n DESC LIMIT 10""",
        since,
    )
    assert queue is not None and timing is not None and appeals is not None
    return {
        "queue": dict(queue), "decided": [dict(r) for r in decided], "opened": [dict(r) for r in opened],
        "reasons": [dict(r) for r in reasons], "resolved": timing["resolved"],
        "median_seconds": timing["median_seconds"], "appeals": dict(appeals),
        "moderators": [dict(r) for r in moderators],
    }  # fmt: skip
