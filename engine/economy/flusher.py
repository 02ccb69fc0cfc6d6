"""The ledger flusher: drains each shard's outbox into PostgreSQL, exactly once in effect.

For each outbox entry it first completes the transaction's credit legs in Redis (idempotent per
leg), then records the transaction in the ledger (idempotent per transaction id), and only after
that commit acknowledges and deletes the entry. A crash anywhere in between re-delivers the entry
(to this or another process, via the consumer group's pending list) and every step repeats
harmlessly.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import redis.exceptions

from engine.economy import store
from engine.economy.model import Txn
from engine.services import Services

log = logging.getLogger("flylive.economy.flusher")
GROUP = "ledger"
CLAIM_IDLE_MS = 30_000


async def ensure_groups(svc: Services) -> None:
    for shard in range(svc.keys.economy_shards):
        try:
            await svc.redis.xgroup_create(svc.keys.outbox(shard), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def ensure_wallet(svc: Services, wallets: store.Wallets, user_id: int) -> None:
    """Make a user's wallet live in Redis from the ledger (first use, or after Redis lost it)."""
    async with svc.pool.acquire() as conn:
        balances = await store.ledger_balances(conn, user_id)
        account = await conn.fetchrow("SELECT status, suspended_until FROM users WHERE id = $1", user_id)
    frozen = store.frozen_marker(account["status"], account["suspended_until"]) if account else 0
    await wallets.load(user_id, balances["coins"], balances["diamonds"], frozen)


async def complete_credits(svc: Services, wallets: store.Wallets, txn: Txn) -> None:
    for index, leg in enumerate(txn.legs):
        if index == 0 or not leg.live or leg.amount <= 0:
            continue
        result = await wallets.credit(txn.txn_id, index, leg)
        if result.code == "NO_WALLET":
            await ensure_wallet(svc, wallets, leg.account_id)
            result = await wallets.credit(txn.txn_id, index, leg)
        if not result.ok:
            raise RuntimeError(f"credit {txn.txn_id}/{index} failed: {result.code}")


async def _entries(svc: Services, shard: int, consumer: str, count: int) -> list[tuple[bytes, dict[bytes, Any]]]:
    outbox = svc.keys.outbox(shard)
    # Entries a dead consumer took but never acknowledged come back after CLAIM_IDLE_MS.
    try:
        claimed: Any = await svc.redis.xautoclaim(outbox, GROUP, consumer, CLAIM_IDLE_MS, count=count)
    except redis.exceptions.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # Redis lost its data (or never had the group): recreate it; entries added since are read from 0.
        await ensure_groups(svc)
        claimed = await svc.redis.xautoclaim(outbox, GROUP, consumer, CLAIM_IDLE_MS, count=count)
    fresh: Any = await svc.redis.xreadgroup(GROUP, consumer, {outbox: ">"}, count=count)
    entries = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
    for _stream, items in fresh or []:
        entries.extend(items)
    return entries


async def flush_shard(svc: Services, wallets: store.Wallets, shard: int, consumer: str, count: int = 500) -> int:
    entries = await _entries(svc, shard, consumer, count)
    if not entries:
        return 0
    parsed = [(entry_id, store.decode_txn(fields[b"txn"]), int(fields[b"bal"])) for entry_id, fields in entries]
    for _entry_id, txn, _balance in parsed:
        await complete_credits(svc, wallets, txn)
    for attempt in range(3):
        try:
            async with svc.pool.acquire() as conn, conn.transaction():
                await store.record_batch_txn(conn, [(txn, balance) for _entry_id, txn, balance in parsed])
            break
        except asyncpg.DeadlockDetectedError:
            # Sorted row order should make this impossible; if it happens anyway, the batch is retried.
            log.warning("ledger batch deadlocked; retrying", extra={"shard": shard, "attempt": attempt})
            if attempt == 2:
                raise
    ids = [entry_id for entry_id, _txn, _balance in parsed]
    outbox = svc.keys.outbox(shard)
    await svc.redis.xack(outbox, GROUP, *ids)
    await svc.redis.xdel(outbox, *ids)
    svc.metrics.ledger_flushed.inc(len(ids))
    return len(ids)


async def flush_all(svc: Services, wallets: store.Wallets, consumer: str) -> int:
    total = 0
    for shard in range(svc.keys.economy_shards):
        while flushed := await flush_shard(svc, wallets, shard, consumer):
            total += flushed
    return total
