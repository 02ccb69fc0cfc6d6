"""The VIP time arithmetic (engine/vip/model.py, docs/vip.md "Buying"): pure."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.accounts.vip_model import vip_level_at
from engine.errors import DomainError
from engine.vip.model import MONTH_SECONDS, Standing, apply_time, check_not_downgrade

NOW = dt.datetime(2026, 12, 2, 12, 0, 0, tzinfo=dt.UTC)
PRICES = {1: 3_000, 2: 9_000, 3: 24_000, 4: 60_000, 5: 150_000, 6: 300_000, 7: 1_000_000}


def test_a_level_ends_at_its_expiry() -> None:
    assert vip_level_at(3, NOW + dt.timedelta(seconds=1), NOW) == 3
    assert vip_level_at(3, NOW, NOW) == 0  # the expiry instant itself is past
    assert vip_level_at(3, None, NOW) == 0
    assert vip_level_at(0, NOW + dt.timedelta(days=1), NOW) == 0


def test_a_first_purchase_starts_now() -> None:
    outcome = apply_time(Standing(0, None), 2, 2 * MONTH_SECONDS, PRICES, NOW)
    assert (outcome.level, outcome.expires_at, outcome.mode) == (2, NOW + dt.timedelta(days=60), "new")


def test_an_expired_tier_counts_as_none() -> None:
    outcome = apply_time(Standing(5, NOW - dt.timedelta(days=1)), 1, MONTH_SECONDS, PRICES, NOW)
    assert (outcome.level, outcome.expires_at, outcome.mode) == (1, NOW + dt.timedelta(days=30), "new")


def test_the_same_tier_renews_from_the_current_expiry() -> None:
    current = Standing(3, NOW + dt.timedelta(days=10, seconds=7))
    outcome = apply_time(current, 3, MONTH_SECONDS, PRICES, NOW)
    assert (outcome.level, outcome.expires_at, outcome.mode) == (3, NOW + dt.timedelta(days=40, seconds=7), "renew")


def test_an_upgrade_converts_the_remaining_time_by_the_price_ratio_rounded_down() -> None:
    # 10 days and 7 s of VIP3 (24,000/month) are worth 864,007 × 24,000 / 60,000 = 345,602.8 s of VIP4.
    current = Standing(3, NOW + dt.timedelta(days=10, seconds=7))
    outcome = apply_time(current, 4, MONTH_SECONDS, PRICES, NOW)
    assert outcome.mode == "upgrade" and outcome.level == 4
    assert outcome.expires_at == NOW + dt.timedelta(seconds=MONTH_SECONDS + 345_602)


def test_a_lower_tier_applied_while_a_higher_is_in_force_adds_its_value_to_the_higher() -> None:
    # A month of VIP1 (3,000) is worth 2,592,000 × 3,000 / 1,000,000 = 7,776 s of FLSVIP.
    current = Standing(7, NOW + dt.timedelta(days=1))
    outcome = apply_time(current, 1, MONTH_SECONDS, PRICES, NOW)
    assert (outcome.level, outcome.mode) == (7, "converted")
    assert outcome.expires_at == NOW + dt.timedelta(days=1, seconds=7_776)


def test_buying_below_the_tier_in_force_is_refused() -> None:
    current = Standing(4, NOW + dt.timedelta(days=3))
    with pytest.raises(DomainError) as refused:
        check_not_downgrade(current, 3, NOW)
    assert refused.value.status == 409 and refused.value.code == "vip_downgrade"
    check_not_downgrade(current, 4, NOW)  # the same tier renews
    check_not_downgrade(current, 5, NOW)  # a higher one upgrades
    check_not_downgrade(Standing(4, NOW), 1, NOW)  # an expired tier refuses nothing
