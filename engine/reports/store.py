"""PostgreSQL access for reports, moderation cases and appeals (sql/0015_reports.sql)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine.db import Conn
from engine.reports.model import Target

_OPEN = "('open', 'reviewing')"


async def upsert_case_txn(conn: Conn, target: Target, *, source: str, reason: str | None,
                          high_priority: bool = False) -> tuple[int, str]:  # fmt: skip
    """The target's open case (its id and state: open or reviewing), opened now if it has none (the
    partial unique index merges concurrent reports into one case whatever their order); its row stays
    locked until the transaction ends. An automatic rule that finds the case open raises its
    priority, a word filter hit counts."""
    row = await conn.fetchrow(
        f"""INSERT INTO moderation_cases (target_type, target_id, subject_user_id, room_id, source, high_priority,
                                          reasons, snapshot, filter_hits)
            VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::text IS NULL THEN '{{}}'::text[] ELSE ARRAY[$7] END,
                    $8, CASE WHEN $5 = 'word_filter' THEN 1 ELSE 0 END)
            ON CONFLICT (target_type, target_id) WHERE state IN {_OPEN} DO UPDATE
            SET high_priority = moderation_cases.high_priority OR excluded.high_priority,
                filter_hits = moderation_cases.filter_hits + excluded.filter_hits, updated_at = now()
            RETURNING id, state""",
        target.type, target.id, target.subject_user_id, target.room_id, source, high_priority, reason,
        target.snapshot,
    )  # fmt: skip
    assert row is not None
    return int(row["id"]), str(row["state"])


async def insert_report_txn(conn: Conn, case_id: int, state: str, reporter_id: int, target: Target, reason: str,
                            details: str | None, evidence_urls: list[str]) -> dict[str, Any]:  # fmt: skip
    """File the report in its case's state, or merge it into the reporter's open report on the same
    target (its reason, details and evidence replaced by the newer ones); `created` says which."""
    row = await conn.fetchrow(
        f"""INSERT INTO reports (case_id, reporter_id, target_type, target_id, reason, details, evidence_urls, state)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (reporter_id, target_type, target_id) WHERE state IN {_OPEN} DO UPDATE
            SET reason = excluded.reason, details = coalesce(excluded.details, reports.details),
                evidence_urls = CASE WHEN cardinality(excluded.evidence_urls) > 0 THEN excluded.evidence_urls
                                     ELSE reports.evidence_urls END,
                updated_at = now()
            RETURNING *, (xmax = 0) AS created""",
        case_id, reporter_id, target.type, target.id, reason, details, evidence_urls, state,
    )  # fmt: skip
    assert row is not None
    return dict(row)


async def note_report_txn(conn: Conn, case_id: int, reason: str, *, new_reporter: bool) -> None:
    """The report's reason among the case's, and one more reporter unless it was a merge."""
    await conn.execute(
        """UPDATE moderation_cases SET reporter_count = reporter_count + $3::int, updated_at = now(),
               reasons = CASE WHEN $2 = ANY(reasons) THEN reasons ELSE reasons || $2 END
           WHERE id = $1""",
        case_id,
        reason,
        int(new_reporter),
    )


async def distinct_reporters(conn: Conn, subject_user_id: int, since: dt.datetime) -> int:
    """How many people reported the user (on any of their targets) since `since`."""
    return int(
        await conn.fetchval(
            """SELECT count(DISTINCT r.reporter_id) FROM moderation_cases c JOIN reports r ON r.case_id = c.id
               WHERE c.subject_user_id = $1 AND r.created_at >= $2""",
            subject_user_id,
            since,
        )
    )


_REPORT = """r.*, c.action, c.action_until, c.resolved_at, c.lifted_at"""


async def get_report(conn: Conn, report_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_REPORT} FROM reports r JOIN moderation_cases c ON c.id = r.case_id WHERE r.id = $1", report_id
    )
    return dict(row) if row else None


async def reporter_page(conn: Conn, reporter_id: int, state: str | None, before: int | None,
                        limit: int) -> list[dict[str, Any]]:  # fmt: skip
    rows = await conn.fetch(
        f"""SELECT {_REPORT} FROM reports r JOIN moderation_cases c ON c.id = r.case_id
            WHERE r.reporter_id = $1 AND ($2::text IS NULL OR r.state = $2) AND ($3::bigint IS NULL OR r.id < $3)
            ORDER BY r.id DESC LIMIT $4""",
        reporter_id, state, before, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def case_reports(conn: Conn, case_id: int, after: int | None, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_REPORT} FROM reports r JOIN moderation_cases c ON c.id = r.case_id
            WHERE r.case_id = $1 AND ($2::bigint IS NULL OR r.id > $2) ORDER BY r.id LIMIT $3""",
        case_id, after, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


# A case with its subject's name and their strikes (actioned cases not overturned): repeat offenders.
_CASE = """SELECT c.*, u.name AS subject_name,
               (SELECT count(*) FROM moderation_cases o WHERE o.subject_user_id = c.subject_user_id
                AND o.state = 'actioned' AND o.lifted_at IS NULL)::int AS strikes
           FROM moderation_cases c LEFT JOIN users u ON u.id = c.subject_user_id"""


async def get_case(conn: Conn, case_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    if lock:
        row = await conn.fetchrow("SELECT * FROM moderation_cases WHERE id = $1 FOR UPDATE", case_id)
    else:
        row = await conn.fetchrow(f"{_CASE} WHERE c.id = $1", case_id)
    return dict(row) if row else None


async def newest_action_in_force(conn: Conn, user_id: int) -> int | None:
    """The id of the newest actioned, not overturned case about the user (the one to appeal)."""
    case_id = await conn.fetchval(
        """SELECT id FROM moderation_cases WHERE subject_user_id = $1 AND state = 'actioned' AND lifted_at IS NULL
           ORDER BY resolved_at DESC, id DESC LIMIT 1""",
        user_id,
    )  # fmt: skip
    return int(case_id) if case_id is not None else None


async def queue_page(conn: Conn, *, states: list[str], target_type: str | None, reason: str | None,
                     source: str | None, assignee: int | None, after: tuple[int, int, int, int] | None,
                     limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Cases by priority: high first, then more reporters, then more strikes, then oldest; keyset on
    those four (strikes can change between pages: a case may then show twice or not at all)."""
    hp, count, strikes, after_id = after if after is not None else (0, 0, 0, 0)
    rows = await conn.fetch(
        f"""SELECT * FROM ({_CASE}
                WHERE c.state = ANY($1::text[]) AND ($2::text IS NULL OR c.target_type = $2)
                  AND ($3::text IS NULL OR $3 = ANY(c.reasons)) AND ($4::text IS NULL OR c.source = $4)
                  AND ($5::bigint IS NULL OR ($5 = 0 AND c.assignee_id IS NULL) OR c.assignee_id = $5)) q
            WHERE NOT $6 OR (-(q.high_priority::int), -q.reporter_count, -q.strikes, q.id)
                            > (-$7::int, -$8::int, -$9::int, $10::bigint)
            ORDER BY q.high_priority DESC, q.reporter_count DESC, q.strikes DESC, q.id LIMIT $11""",
        states, target_type, reason, source, assignee, after is not None, hp, count, strikes, after_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def assign_txn(conn: Conn, case_id: int, assignee_id: int | None) -> bool:
    """Assign an open case (it is then `reviewing`), or hand it back (`open`); False: not open."""
    status = await conn.execute(
        f"""UPDATE moderation_cases SET assignee_id = $2, updated_at = now(),
                state = CASE WHEN $2::bigint IS NULL THEN 'open' ELSE 'reviewing' END
            WHERE id = $1 AND state IN {_OPEN}""",
        case_id,
        assignee_id,
    )
    return status != "UPDATE 0"


async def claim_txn(conn: Conn, case_id: int, *, action: str, until: dt.datetime | None, note: str | None,
                    actor_id: int) -> dict[str, Any] | None:  # fmt: skip
    """Resolve an open case with `action` (at most once: None when it is no longer open)."""
    row = await conn.fetchrow(
        f"""UPDATE moderation_cases
            SET state = CASE WHEN $2 = 'dismiss' THEN 'dismissed' ELSE 'actioned' END, action = $2, action_until = $3,
                note = $4, resolved_by = $5, resolved_at = now(), updated_at = now()
            WHERE id = $1 AND state IN {_OPEN} RETURNING *""",
        case_id, action, until, note, actor_id,
    )  # fmt: skip
    return dict(row) if row else None


async def set_reports_state_txn(conn: Conn, case_id: int, state: str) -> None:
    """The case's reports follow it (each reporter's list shows the state)."""
    await conn.execute("UPDATE reports SET state = $2, updated_at = now() WHERE case_id = $1", case_id, state)


async def insert_appeal_txn(conn: Conn, case_id: int, user_id: int, details: str) -> dict[str, Any] | None:
    """The case's appeal (one per case: None when there is one already)."""
    row = await conn.fetchrow(
        """INSERT INTO moderation_appeals (case_id, user_id, details) VALUES ($1, $2, $3)
           ON CONFLICT (case_id) DO NOTHING RETURNING *""",
        case_id,
        user_id,
        details,
    )
    return dict(row) if row else None


async def get_appeal(conn: Conn, appeal_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM moderation_appeals WHERE id = $1", appeal_id)
    return dict(row) if row else None


async def appeal_page(conn: Conn, state: str, after: int | None, limit: int) -> list[dict[str, Any]]:
    """Appeals in one state, oldest first (the order they wait in)."""
    rows = await conn.fetch(
        """SELECT * FROM moderation_appeals WHERE state = $1 AND ($2::bigint IS NULL OR id > $2)
           ORDER BY id LIMIT $3""",
        state,
        after,
        limit,
    )
    return [dict(r) for r in rows]


async def review_appeal_txn(conn: Conn, appeal_id: int, state: str, actor_id: int,
                            note: str | None) -> dict[str, Any] | None:  # fmt: skip
    """Decide a pending appeal (once: None when it is not pending)."""
    row = await conn.fetchrow(
        """UPDATE moderation_appeals SET state = $2, reviewed_by = $3, reviewed_at = now(), note = $4
           WHERE id = $1 AND state = 'pending' RETURNING *""",
        appeal_id, state, actor_id, note,
    )  # fmt: skip
    return dict(row) if row else None


async def lift_case_txn(conn: Conn, case_id: int) -> None:
    await conn.execute("UPDATE moderation_cases SET lifted_at = now(), updated_at = now() WHERE id = $1", case_id)
