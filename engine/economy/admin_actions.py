"""Finance actions new with the dashboard (issue 15 §4): reviewing a fraud flag, once, audited."""

from __future__ import annotations

import logging
from typing import Any

from engine.audit.store import record_txn
from engine.economy import admin_store
from engine.economy.admin_model import check_note
from engine.economy.store import EconomyServices
from engine.errors import DomainError, not_found

log = logging.getLogger("flylive.economy")


async def do_review_fraud_flag(svc: EconomyServices, actor_id: int, flag_id: int, note: str | None,
                               ip: str | None) -> dict[str, Any]:  # fmt: skip
    """Mark an open flag reviewed with what the reviewer found (a note is required)."""
    text = check_note(note, required=True)
    async with svc.pool.acquire() as conn, conn.transaction():
        row = await admin_store.lock_fraud_flag_txn(conn, flag_id)
        if row is None:
            raise not_found("Fraud flag")
        if row["reviewed_at"] is not None:
            raise DomainError("already_reviewed", "This fraud flag has already been reviewed.", status=409)
        await admin_store.review_fraud_flag_txn(conn, flag_id, actor_id, text)
        await record_txn(conn, actor_id=actor_id, action="fraud_flag.review", target_type="fraud_flag",
                         target_id=flag_id, ip=ip,
                         details={"user_id": row["user_id"], "kind": row["kind"], "before": {"reviewed": False},
                                  "after": {"reviewed": True, "note": text}})  # fmt: skip
    svc.metrics.fraud_flags_reviewed.labels(row["kind"]).inc()
    log.info("fraud flag reviewed", extra={"flag_id": flag_id, "by": actor_id, "kind": row["kind"]})
    return {**row, "reviewed_by": actor_id, "review_note": text}
