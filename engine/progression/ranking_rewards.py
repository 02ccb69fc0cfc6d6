"""Staff editing of what closed ranking periods pay (`ranking_rewards`, docs/progression.md
"Rankings"): list the tables, replace one board's period table (audited). The period-end snapshot
reads the table in its own transaction, so a period closes with the table as it was at that moment."""

from __future__ import annotations

import logging
from typing import Any

from engine.audit.store import record_txn as audit_txn
from engine.errors import validation_error
from engine.progression import ranking_rewards_store as store
from engine.progression.ranking_rewards_model import (
    RewardsBody,
    RewardsQuery,
    cursor_of,
    table_out,
    tier_out,
    tier_problems,
)
from engine.services import Services
from engine.social.model import decode_cursor, page

log = logging.getLogger("flylive.progression.rankings")


async def list_tiers(svc: Services, q: RewardsQuery) -> dict[str, Any]:
    after = decode_cursor(q.cursor, str, str, int, int)
    async with svc.pool.acquire() as conn:
        rows = await store.page(conn, q.board, q.period, (after[0], after[1], after[2], after[3]) if after else None,
                                q.limit + 1)  # fmt: skip
    items, next_cursor = page(rows, q.limit, cursor_of)
    return {"items": [tier_out(r) for r in items], "next_cursor": next_cursor}


async def do_replace(svc: Services, actor_id: int, board: str, period: str, body: RewardsBody,
                     ip: str | None) -> dict[str, Any]:  # fmt: skip
    """Replace the board's period table (422 naming the tier that is wrong); audited with before/after."""
    if problems := tier_problems(body.tiers):
        raise validation_error(problems)
    async with svc.pool.acquire() as conn, conn.transaction():
        await store.lock_txn(conn, board, period)
        before = await store.table_txn(conn, board, period)
        rows = await store.replace_txn(conn, board, period, body.tiers)
        await audit_txn(conn, actor_id=actor_id, action="rankings.rewards", target_type="ranking_rewards",
                        target_id=f"{board}:{period}", ip=ip,
                        details={"before": table_out(board, period, before)["tiers"],
                                 "after": table_out(board, period, rows)["tiers"]})  # fmt: skip
    log.info("ranking rewards replaced", extra={"actor_id": actor_id, "board": board, "period": period,
                                                "tiers": len(rows)})  # fmt: skip
    return table_out(board, period, rows)
