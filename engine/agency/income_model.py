"""Agency income (issue 13 §3, docs/agency.md): business months, valid hours, targets and their
rewards, the month-end excess (IECP) and the owner's share (ASP). Integers only, no I/O.

Every figure here is derived from the member's coins and mic time in one business month (the
`BUSINESS_TIMEZONE` calendar), with the admin settings of sql/0020 (`economy_settings`).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping

import msgspec

from engine.economy.model import share
from engine.errors import validation_error

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MONTH_MESSAGE = "The month field must be YYYY-MM."
CENTS_PER_USD = 100


def parse_month(text: str, field: str = "month") -> dt.date:
    """'2026-11' -> date(2026, 11, 1); anything else is a 422 on `field`."""
    found = MONTH_PATTERN.match(text or "")
    if not found or not 2000 <= int(found.group(1)) <= 9999:
        raise validation_error({field: [MONTH_MESSAGE]})
    return dt.date(int(found.group(1)), int(found.group(2)), 1)


def month_text(month: dt.date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_of(at: dt.datetime, tz: str) -> dt.date:
    """The business month an instant falls in."""
    local = at.astimezone(zoneinfo.ZoneInfo(tz))
    return dt.date(local.year, local.month, 1)


def month_bounds(month: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a business month, as aware instants."""
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime(month.year, month.month, 1, tzinfo=zone)
    following = next_month(month)
    end = dt.datetime(following.year, following.month, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def valid_seconds(mic_ms: int, cap_seconds: int) -> int:
    """One business day's valid time: its mic time in whole seconds, capped."""
    return min(mic_ms // 1000, cap_seconds)


def usd_cents_of(coins: int, coins_per_usd: int) -> int:
    """Coins valued in dollar cents, rounded down (rounding never creates money)."""
    return coins * CENTS_PER_USD // coins_per_usd if coins_per_usd > 0 else 0


class Target(msgspec.Struct, frozen=True):
    id: int
    coins: int
    reward_usd_cents: int
    valid_hours: int = 0

    def reached_by(self, coins: int, valid_secs: int) -> bool:
        return coins >= self.coins and valid_secs >= self.valid_hours * 3600


class MonthFigures(msgspec.Struct, frozen=True):
    """A member's month in one agency, and what it pays under the settings given."""

    coins: int
    mic_ms: int
    valid_seconds: int
    reached: list[Target]
    reward_usd_cents: int
    excess_coins: int
    iecp_diamonds: int


def reached_targets(targets: Iterable[Target], coins: int, valid_secs: int) -> list[Target]:
    return sorted((t for t in targets if t.reached_by(coins, valid_secs)), key=lambda t: t.coins)


def next_target(targets: Iterable[Target], coins: int, valid_secs: int) -> Target | None:
    """The lowest target not reached yet (what the member's progress bar points at)."""
    ahead = [t for t in targets if not t.reached_by(coins, valid_secs)]
    return min(ahead, key=lambda t: t.coins) if ahead else None


def reward_cents(reached: list[Target], cumulative: bool) -> int:
    """Every target reached pays (cumulative), or only the highest one."""
    if not reached:
        return 0
    return sum(t.reward_usd_cents for t in reached) if cumulative else reached[-1].reward_usd_cents


def excess_coins(coins: int, reached: list[Target]) -> int:
    """The coins above the highest target reached (all of them when none was)."""
    return coins - (reached[-1].coins if reached else 0)


def month_figures(
    targets: Iterable[Target], settings: Mapping[str, int], coins: int, mic_ms: int, valid_secs: int
) -> MonthFigures:
    reached = reached_targets(targets, coins, valid_secs)
    excess = excess_coins(coins, reached)
    return MonthFigures(
        coins=coins, mic_ms=mic_ms, valid_seconds=valid_secs, reached=reached,
        reward_usd_cents=reward_cents(reached, bool(settings["agency_targets_cumulative"])),
        excess_coins=excess, iecp_diamonds=share(excess, settings["agency_iecp_bps"]),
    )  # fmt: skip


def share_bps_of(agency_share_bps: int | None, settings: Mapping[str, int]) -> int:
    """The agency's ASP: its own when staff set one, else the default."""
    return settings["agency_share_default_bps"] if agency_share_bps is None else agency_share_bps


def agency_share_cents(coins: int, share_bps: int, settings: Mapping[str, int]) -> int:
    """ASP: the owner's share of the members' coins, in dollar cents (2 % of 10,000 coins = 200 coins)."""
    return usd_cents_of(share(coins, share_bps), settings["agency_coins_per_usd"])


def still_due(total: int, paid: int) -> int:
    """What a settlement pays now, given what earlier ones this month paid: never a claw-back."""
    return max(total - paid, 0)
