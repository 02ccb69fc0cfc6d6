"""The VIP jobs every process runs: the expiry (a level past its expiry is cleared and its holder
told), the sweep of purchases a crash left pending, and the daily bonus (docs/vip.md "Jobs")."""

from __future__ import annotations

from engine.jobs import Periodic
from engine.vip.actions import expire_due, sweep_pending, tell_untold
from engine.vip.daily import grant_daily_bonuses
from engine.vip.live import Vip

EXPIRY_SECONDS = 60.0
SWEEP_SECONDS = 60.0
TELL_SECONDS = 2.0
DAILY_SECONDS = 60.0


def register_vip_jobs(vip: Vip) -> None:
    vip.rt.background.append(Periodic("vip-expiry", lambda: expire_due(vip), EXPIRY_SECONDS))
    vip.rt.background.append(Periodic("vip-purchase-sweep", lambda: sweep_pending(vip), SWEEP_SECONDS))
    vip.rt.background.append(Periodic("vip-reward-tell", lambda: tell_untold(vip), TELL_SECONDS))
    vip.rt.background.append(Periodic("vip-daily-bonus", lambda: grant_daily_bonuses(vip), DAILY_SECONDS))
