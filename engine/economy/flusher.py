"""The ledger flusher: drains each shard's outbox into PostgreSQL, exactly once in effect.

For each outbox entry it first completes the transaction's credit legs in Redis (idempotent per
leg), then records the transaction in the ledger (idempotent per transaction id), and only after
that commit acknowledges and deletes the entry. A crash anywhere in between re-delivers the entry
(to this or another process, via the consumer group's pending list) and every step repeats
harmlessly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from typing import Protocol

import asyncpg

from engine.economy import store
from engine.economy.model import Txn
from engine.economy.store import EconomyServices

log = logging.getLogger("flylive.economy.flusher")
GROUP = "ledger"
CLAIM_IDLE_MS = 30_000


class LedgerObserver(Protocol):
    """Told of every flushed batch after its PostgreSQL commit and before its XACK (the rankings
    implement it; create_app plugs them into `Services.ledger_observers`). A crash in between
    re-delivers the batch, so an observer sees a transaction at least once and must count it once."""

    async def ledger_flushed(self, txns: Sequence[Txn]) -> None: ...


async def _tell_observers(svc: EconomyServices, txns: list[Txn]) -> None:
    # Money first: a failing observer is logged and counted, never holds the ledger's flush (what it
    # derives can be rebuilt from the ledger).
    for observer in getattr(svc, "ledger_observers", ()):
        try:
            await observer.ledger_flushed(txns)
        except Exception:
            log.exception("ledger observer failed", extra={"observer": type(observer).__name__})
            svc.metrics.ledger_observer_errors.inc()


async def ensure_groups(svc: EconomyServices) -> None:
    for shard in range(svc.keys.economy_shards):
        await store.create_outbox_group(svc.redis, svc.keys.outbox(shard), GROUP)


async def complete_credits(svc: EconomyServices, wallets: store.Wallets, txn: Txn) -> None:
    """Apply the transaction's live credit legs. They are independent and each is idempotent, so they
    go at once (the multiplexed Redis client pipelines the scripts): one round trip, not one per leg."""
    legs = [(index, leg) for index, leg in enumerate(txn.legs) if index > 0 and leg.live and leg.amount > 0]
    credits = [functools.partial(wallets.credit, txn.txn_id, index, leg) for index, leg in legs]
    results = await asyncio.gather(*(store.with_live_wallet(svc.pool, wallets, leg.account_id, credit)
                                     for (_, leg), credit in zip(legs, credits, strict=True)))  # fmt: skip
    for (index, _), result in zip(legs, results, strict=True):
        if not result.ok:
            raise RuntimeError(f"credit {txn.txn_id}/{index} failed: {result.code}")


async def flush_shard(svc: EconomyServices, wallets: store.Wallets, shard: int, consumer: str, count: int = 500) -> int:
    outbox = svc.keys.outbox(shard)
    # Entries a dead consumer took but never acknowledged come back after CLAIM_IDLE_MS.
    entries = await store.read_outbox(svc.redis, outbox, GROUP, consumer, count, CLAIM_IDLE_MS)
    if not entries:
        return 0
    await asyncio.gather(*(complete_credits(svc, wallets, entry.txn) for entry in entries))
    for attempt in range(3):
        try:
            async with svc.pool.acquire() as conn, conn.transaction():
                await store.record_batch_txn(conn, [(entry.txn, entry.balance) for entry in entries])
            break
        except asyncpg.DeadlockDetectedError:
            # Sorted row order should make this impossible; if it happens anyway, the batch is retried.
            log.warning("ledger batch deadlocked; retrying", extra={"shard": shard, "attempt": attempt})
            if attempt == 2:
                raise
    await _tell_observers(svc, [entry.txn for entry in entries])
    await store.ack_outbox(svc.redis, outbox, GROUP, [entry.entry_id for entry in entries])
    svc.metrics.ledger_flushed.inc(len(entries))
    return len(entries)


async def flush_all(svc: EconomyServices, wallets: store.Wallets, consumer: str) -> int:
    total = 0
    for shard in range(svc.keys.economy_shards):
        while flushed := await flush_shard(svc, wallets, shard, consumer):
            total += flushed
    return total
