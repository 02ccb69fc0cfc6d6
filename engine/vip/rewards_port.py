"""The VIP side of the reward ledger's port (engine/progression/rewards_model.py: VipGranter): a
reward's `vip` item gives `days` of a tier, in the reward's own transaction, exactly once per
reward (the row's key is the reward's ref). Nobody pays. The holder hears `vip.updated` from the
`vip-reward-tell` job a moment after the reward's commit (a port call has no after-commit hook);
the privileges themselves apply from the commit on (the users row's NOTIFY)."""

from __future__ import annotations

from typing import Any

from engine.errors import not_found
from engine.vip import store
from engine.vip.actions import apply_txn
from engine.vip.live import Vip
from engine.vip.model import DAY_SECONDS


class VipRewards:
    """Plugged into the reward ledger by create_app."""

    def __init__(self, vip: Vip) -> None:
        self.vip = vip

    async def grant_days(self, conn: Any, user_id: int, tier: int, days: int, ref: str) -> None:
        if await store.tier(conn, tier) is None:
            raise not_found("VIP tier")
        row = await store.insert_purchase_txn(conn, kind="reward", buyer_id=None, recipient_id=user_id, tier=tier,
                                              months=0, seconds=days * DAY_SECONDS, price=0, key=ref,
                                              told=False)  # fmt: skip
        row = row or await store.purchase_by_key(conn, None, ref)
        assert row is not None
        _row, outcome = await apply_txn(conn, row["id"])
        self.vip.svc.metrics.vip_purchases.labels("reward", "applied" if outcome else "replay").inc()
