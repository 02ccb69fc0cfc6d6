"""The activity worker: drains each shard's activity stream into PostgreSQL, exactly once in effect.

Like the ledger flusher (engine/economy/flusher.py): a consumer group shared by every process reads
a batch, the batch's rows are inserted in one transaction (idempotently: each visit's unique
source), and only after that commit are the entries acknowledged and deleted. A process that dies
between reading and acknowledging leaves its entries pending; after CLAIM_IDLE_MS another takes
them over (XAUTOCLAIM) and inserting them again changes nothing.
"""

from __future__ import annotations

import logging

from engine.activity import store
from engine.services import Services

log = logging.getLogger("flylive.activity")
GROUP = "activity"
CLAIM_IDLE_MS = 30_000
BATCH = 500


async def drain_shard(svc: Services, shard: int, consumer: str, *, count: int = BATCH,
                      claim_idle_ms: int = CLAIM_IDLE_MS) -> int:  # fmt: skip
    """One batch of one shard; how many entries it took."""
    stream = svc.keys.activity(shard)
    entries = await store.read_entries(svc.redis, stream, GROUP, consumer, count, claim_idle_ms)
    if not entries:
        return 0
    visits = [visit for _entry_id, visit in entries if visit is not None]
    if len(visits) < len(entries):
        log.warning("activity entries that are not visits dropped", extra={"count": len(entries) - len(visits)})
        svc.metrics.activity_written.labels("dropped").inc(len(entries) - len(visits))
    if visits:
        async with svc.pool.acquire() as conn, conn.transaction():
            await store.insert_visits_txn(conn, visits)
    await store.ack(svc.redis, stream, GROUP, [entry_id for entry_id, _visit in entries])
    svc.metrics.activity_written.labels("written").inc(len(visits))  # replays included: inserting is idempotent
    return len(entries)


async def drain_all(svc: Services, consumer: str, *, claim_idle_ms: int = CLAIM_IDLE_MS) -> int:
    total = 0
    for shard in range(svc.keys.economy_shards):
        while taken := await drain_shard(svc, shard, consumer, claim_idle_ms=claim_idle_ms):
            total += taken
    return total
