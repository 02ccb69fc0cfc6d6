"""`flylive reconcile` (and the dashboard's reconcile report, issue 15 §4): the economy's invariants
(engine/economy/reconcile.py), then the agencies' derived income rows against the ledger's agency
legs (read after the same drain). Joined here, above both, so the economy never imports the agency
domain that builds on it."""

from __future__ import annotations

from engine.agency.income_store import commission_drift
from engine.economy.reconcile import Report, reconcile
from engine.services import Services


async def reconcile_all(svc: Services, consumer: str = "reconcile") -> Report:
    report = await reconcile(svc, consumer)
    async with svc.pool.acquire() as conn:
        for row in await commission_drift(conn):
            report.problems.append(f"agency {row['agency_id']} coins: income rows' commission {row['income']}"
                                   f" but its ledger gift legs sum to {row['ledger']}")  # fmt: skip
    return report
