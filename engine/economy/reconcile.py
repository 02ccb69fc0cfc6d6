"""`flylive reconcile`: drain the outboxes, then check every money invariant of DESIGN.md.

1. Double entry: every transaction's legs sum to zero per currency, so the sum over user, agency
   and platform accounts equals minted minus burned.
2. Each account's stored balance equals the sum of its ledger legs.
3. Every live Redis wallet equals its ledger balance.
4. No outbox entry or credit is left unapplied.
5. No balance is negative, except the mint account's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.economy.flusher import GROUP, ensure_groups, flush_all
from engine.services import Services


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


async def _check_ledger(svc: Services, report: Report) -> None:
    async with svc.pool.acquire() as conn:
        for row in await conn.fetch(
            """SELECT txn_id, currency, sum(amount) AS total FROM ledger_entries
               GROUP BY txn_id, currency HAVING sum(amount) <> 0 LIMIT 20"""
        ):
            report.problems.append(f"transaction {row['txn_id']} moves {row['total']} {row['currency']} from nowhere")
        for row in await conn.fetch(
            """SELECT b.account_type, b.account_id, b.currency, b.balance, coalesce(e.total, 0) AS total
               FROM account_balances b
               LEFT JOIN (SELECT account_type, account_id, currency, sum(amount) AS total FROM ledger_entries
                          GROUP BY 1, 2, 3) e USING (account_type, account_id, currency)
               WHERE b.balance <> coalesce(e.total, 0) LIMIT 20"""
        ):
            report.problems.append(
                f"{row['account_type']}:{row['account_id']} {row['currency']} balance {row['balance']}"
                f" but its legs sum to {row['total']}"
            )
        for row in await conn.fetch(
            """SELECT account_type, account_id, currency, balance FROM account_balances
               WHERE balance < 0 AND account_type <> 'mint' LIMIT 20"""
        ):
            report.problems.append(f"{row['account_type']}:{row['account_id']} has {row['balance']} {row['currency']}")
        for row in await conn.fetch(
            "SELECT currency, account_type, sum(balance) AS total FROM account_balances GROUP BY 1, 2"
        ):
            report.totals.setdefault(row["currency"], {})[row["account_type"]] = int(row["total"])
    for currency, parts in report.totals.items():
        held = sum(v for k, v in parts.items() if k in ("user", "agency", "platform"))
        minted, burned = -parts.get("mint", 0), parts.get("burn", 0)
        if held != minted - burned:
            report.problems.append(f"{currency}: accounts hold {held} but minted {minted} - burned {burned}")


async def _check_wallets(svc: Services, report: Report) -> None:
    keys = svc.keys
    for shard in range(keys.economy_shards):
        outbox = keys.outbox(shard)
        if await svc.redis.exists(outbox):
            pending = await svc.redis.xpending(outbox, GROUP)
            left = await svc.redis.xlen(outbox)
            if left or pending["pending"]:
                report.problems.append(f"shard {shard}: {left} outbox entries not written to the ledger")
        pattern = keys.wallet(shard).replace(f":w:{shard}", ":w:*")
        async for key in svc.redis.scan_iter(match=pattern, count=1000):
            user_id = int(key.rsplit(b":", 1)[1])
            live = await svc.wallets.balances(user_id) or {}
            async with svc.pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT currency, balance FROM account_balances WHERE account_type = 'user' AND account_id = $1",
                    user_id,
                )
            ledger = {r["currency"]: int(r["balance"]) for r in rows}
            report.wallets_checked += 1
            for currency in ("coins", "diamonds"):
                if live.get(currency, 0) != ledger.get(currency, 0):
                    report.problems.append(
                        f"user {user_id} {currency}: Redis {live.get(currency, 0)}, ledger {ledger.get(currency, 0)}"
                    )


async def reconcile(svc: Services, consumer: str = "reconcile") -> Report:
    report = Report()
    await ensure_groups(svc)  # a fresh (or emptied) Redis has no consumer groups yet
    report.flushed = await flush_all(svc, svc.wallets, consumer)
    await _check_ledger(svc, report)
    await _check_wallets(svc, report)
    return report
