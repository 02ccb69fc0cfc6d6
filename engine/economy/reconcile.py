"""`flylive reconcile`: drain the outboxes, then check every money invariant of DESIGN.md.

1. Double entry: every transaction's legs sum to zero per currency, so the sum over user, agency,
   platform and escrow accounts equals minted minus burned.
2. Each account's stored balance equals the sum of its ledger legs.
3. Every live Redis wallet equals its ledger balance.
4. No outbox entry or credit is left unapplied.
5. No balance is negative, except the mint account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.economy import store
from engine.economy.flusher import GROUP, ensure_groups, flush_all
from engine.economy.store import EconomyServices


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    wallets_checked: int = 0
    flushed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = [f"flushed {self.flushed} outbox entries; checked {self.wallets_checked} live wallets"]
        for currency, parts in sorted(self.totals.items()):
            lines.append(f"{currency}: " + ", ".join(f"{k}={v}" for k, v in sorted(parts.items())))
        lines += [f"DRIFT: {p}" for p in self.problems] or ["OK: every invariant holds"]
        return "\n".join(lines)


async def _check_ledger(svc: EconomyServices, report: Report) -> None:
    async with svc.pool.acquire() as conn:
        for row in await store.unbalanced_transactions(conn):
            report.problems.append(f"transaction {row['txn_id']} moves {row['total']} {row['currency']} from nowhere")
        for row in await store.balances_off_their_legs(conn):
            report.problems.append(
                f"{row['account_type']}:{row['account_id']} {row['currency']} balance {row['balance']}"
                f" but its legs sum to {row['total']}"
            )
        for row in await store.negative_balances(conn):
            report.problems.append(f"{row['account_type']}:{row['account_id']} has {row['balance']} {row['currency']}")
        for row in await store.balance_totals(conn):
            report.totals.setdefault(row["currency"], {})[row["account_type"]] = int(row["total"])
    for currency, parts in report.totals.items():
        held = sum(v for k, v in parts.items() if k in ("user", "agency", "platform", "escrow"))
        minted, burned = -parts.get("mint", 0), parts.get("burn", 0)
        if held != minted - burned:
            report.problems.append(f"{currency}: accounts hold {held} but minted {minted} - burned {burned}")


async def _check_wallets(svc: EconomyServices, report: Report) -> None:
    keys = svc.keys
    for shard in range(keys.economy_shards):
        if left := await store.outbox_backlog(svc.redis, keys.outbox(shard), GROUP):
            report.problems.append(f"shard {shard}: {left} outbox entries not written to the ledger")
        async for user_id in store.live_wallet_users(svc.redis, keys, shard):
            live = await svc.wallets.balances(user_id) or {}
            async with svc.pool.acquire() as conn:
                ledger = await store.ledger_balances(conn, user_id)
            report.wallets_checked += 1
            for currency in ("coins", "diamonds"):
                if live.get(currency, 0) != ledger.get(currency, 0):
                    report.problems.append(
                        f"user {user_id} {currency}: Redis {live.get(currency, 0)}, ledger {ledger.get(currency, 0)}"
                    )


async def reconcile(svc: EconomyServices, consumer: str = "reconcile") -> Report:
    report = Report()
    await ensure_groups(svc)  # a fresh (or emptied) Redis has no consumer groups yet
    report.flushed = await flush_all(svc, svc.wallets, consumer)
    await _check_ledger(svc, report)
    await _check_wallets(svc, report)
    return report
