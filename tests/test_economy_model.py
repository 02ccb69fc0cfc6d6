"""The money model without I/O: the gift split, gift legs, merging and balanced transactions."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.economy.model import (
    BPS,
    GiftSplit,
    Leg,
    UnbalancedTransaction,
    check_balanced,
    gift_legs,
    make_txn,
    merge_legs,
    split_gift,
)

DEFAULTS = {
    "gift_recipient_coins_bps": 3000,
    "gift_recipient_diamonds_bps": 5000,
    "gift_agency_commission_bps": 1000,
    "gift_room_owner_bps": 500,
}
TOTALS = [1, 3, 7, 9, 10, 19, 20, 99, 100, 101, 333, 9999, 10_001, 123_457, 9999 * 5200, 9999 * 5200 * 30]


def coin_shares(split: GiftSplit) -> int:
    return split.recipient_coins + split.agency_commission + split.room_owner + split.platform


def sums(legs: list[Leg]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.currency] += leg.amount
    return dict(totals)


def test_plain_recipient_with_room_owner() -> None:
    split = split_gift(1000, DEFAULTS, agency_member=False, has_room_owner=True)
    assert split == GiftSplit(recipient_coins=300, recipient_diamonds=0, agency_commission=0, room_owner=50,
                              platform=650)  # fmt: skip


def test_plain_recipient_without_room_owner() -> None:
    split = split_gift(1000, DEFAULTS, agency_member=False, has_room_owner=False)
    assert split == GiftSplit(300, 0, 0, 0, 700)


def test_agency_member_gets_diamonds_and_agency_a_commission() -> None:
    split = split_gift(1000, DEFAULTS, agency_member=True, has_room_owner=True)
    assert split == GiftSplit(recipient_coins=0, recipient_diamonds=500, agency_commission=100, room_owner=50,
                              platform=850)  # fmt: skip
    assert split_gift(1000, DEFAULTS, agency_member=True, has_room_owner=False) == GiftSplit(0, 500, 100, 0, 900)


@pytest.mark.parametrize("total", TOTALS)
@pytest.mark.parametrize("agency_member", [False, True])
@pytest.mark.parametrize("has_room_owner", [False, True])
def test_rounding_never_creates_coins(total: int, agency_member: bool, has_room_owner: bool) -> None:
    split = split_gift(total, DEFAULTS, agency_member=agency_member, has_room_owner=has_room_owner)
    assert coin_shares(split) == total
    assert min(split.recipient_coins, split.recipient_diamonds, split.agency_commission, split.room_owner) >= 0
    # Each share is rounded down, never up: the platform keeps the remainder.
    assert split.room_owner * BPS <= total * DEFAULTS["gift_room_owner_bps"] * has_room_owner
    assert split.recipient_coins * BPS <= total * DEFAULTS["gift_recipient_coins_bps"]
    used = (1000 if agency_member else 3000) + (500 if has_room_owner else 0)
    assert split.platform * BPS >= total * (BPS - used)


def test_tiny_gifts_go_to_the_platform() -> None:
    for agency_member in (False, True):
        split = split_gift(1, DEFAULTS, agency_member=agency_member, has_room_owner=True)
        assert split == GiftSplit(0, 0, 0, 0, 1)
    assert split_gift(3, DEFAULTS, agency_member=False, has_room_owner=True) == GiftSplit(0, 0, 0, 0, 3)
    assert split_gift(7, DEFAULTS, agency_member=False, has_room_owner=True) == GiftSplit(2, 0, 0, 0, 5)


@pytest.mark.parametrize(
    ("changes", "agency_member"),
    [
        ({"gift_recipient_coins_bps": 9600}, False),
        ({"gift_room_owner_bps": 10_001}, False),
        ({"gift_agency_commission_bps": 9600}, True),
        ({"gift_agency_commission_bps": 5000, "gift_room_owner_bps": 5001}, True),
    ],
)
def test_shares_over_100_percent_raise(changes: dict[str, int], agency_member: bool) -> None:
    with pytest.raises(ValueError, match="exceed"):
        split_gift(10_000, {**DEFAULTS, **changes}, agency_member=agency_member, has_room_owner=True)


def test_diamonds_are_not_part_of_the_coin_split() -> None:
    # AMGI% is new money in another currency: even at 100% it takes nothing from the coin shares.
    split = split_gift(10_000, {**DEFAULTS, "gift_recipient_diamonds_bps": 10_000}, agency_member=True,
                       has_room_owner=True)  # fmt: skip
    assert split.recipient_diamonds == 10_000 and coin_shares(split) == 10_000


@pytest.mark.parametrize("total", TOTALS)
@pytest.mark.parametrize("agency_member", [False, True])
@pytest.mark.parametrize("room_owner", [None, 3, 1])  # 1 is the sender: they get their owner share back
def test_gift_legs_balance(total: int, agency_member: bool, room_owner: int | None) -> None:
    split = split_gift(total, DEFAULTS, agency_member=agency_member, has_room_owner=room_owner is not None)
    legs = gift_legs(1, 2, total, split, agency_id=77 if agency_member else None, room_owner=room_owner)
    assert legs[0] == Leg("user", 1, "coins", -total)
    assert all(v == 0 for v in sums(legs).values())
    kept = [leg for leg in legs if leg.amount]
    check_balanced(kept)
    txn = make_txn("gift", legs)
    assert all(leg.amount != 0 for leg in txn.legs) and sums(txn.legs) == sums(legs)


def test_merge_legs_for_many_recipients_and_sender_as_room_owner() -> None:
    sender, recipients, total = 1, [2, 3, 4], 1000
    agencies = {3: 50}
    legs: list[Leg] = []
    for recipient in recipients:
        split = split_gift(total, DEFAULTS, agency_member=recipient in agencies, has_room_owner=True)
        legs += gift_legs(sender, recipient, total, split, agency_id=agencies.get(recipient), room_owner=sender)
    merged = merge_legs(legs)
    check_balanced(merged)
    keys = [(leg.account_type, leg.account_id, leg.currency) for leg in merged]
    assert len(keys) == len(set(keys)), "merge_legs leaves one leg per account and currency"
    # The sender's leg stays first and is the net debit: 3 x 1000 spent, 3 x 50 back as room owner.
    assert merged[0] == Leg("user", sender, "coins", -3000 + 150)
    by_key = {k: leg.amount for k, leg in zip(keys, merged, strict=True)}
    assert by_key[("user", 2, "coins")] == 300 and by_key[("user", 4, "coins")] == 300
    assert by_key[("user", 3, "diamonds")] == 500 and by_key[("mint", 0, "diamonds")] == -500
    assert by_key[("agency", 50, "coins")] == 100
    assert by_key[("platform", 0, "coins")] == 650 + 850 + 650
    assert sums(merged) == {"coins": 0, "diamonds": 0}
    txn = make_txn("gift", merged, txn_id="6f1c1d8e-0000-4000-8000-000000000001")
    assert txn.legs == merged and txn.txn_id == "6f1c1d8e-0000-4000-8000-000000000001"


def test_merge_drops_legs_that_cancel_out() -> None:
    merged = merge_legs([Leg("user", 1, "coins", -5), Leg("user", 2, "coins", 5), Leg("user", 2, "coins", -5),
                         Leg("user", 1, "coins", 5)])  # fmt: skip
    assert merged == []


@pytest.mark.parametrize(
    "legs",
    [
        [Leg("user", 1, "coins", -10), Leg("user", 2, "coins", 9)],
        [Leg("user", 1, "coins", -10), Leg("user", 2, "diamonds", 10)],
        [Leg("mint", 0, "coins", -10)],
        [Leg("user", 1, "coins", 10), Leg("burn", 0, "coins", 10)],
    ],
)
def test_make_txn_rejects_unbalanced_legs(legs: list[Leg]) -> None:
    with pytest.raises(UnbalancedTransaction):
        make_txn("broken", legs)
    with pytest.raises(UnbalancedTransaction):
        check_balanced(legs)


def test_check_balanced_rejects_a_zero_leg_but_make_txn_drops_it() -> None:
    legs = [Leg("user", 1, "coins", -10), Leg("user", 2, "coins", 10), Leg("user", 3, "coins", 0)]
    with pytest.raises(UnbalancedTransaction):
        check_balanced(legs)
    assert [leg.account_id for leg in make_txn("gift", legs).legs] == [1, 2]


bps = st.integers(min_value=0, max_value=BPS)


@st.composite
def gift_settings(draw: st.DrawFn) -> dict[str, int]:
    """Four shares (recipient coins, diamonds, agency commission, room owner) summing to at most 100%."""
    parts = [draw(bps)]
    for _ in range(3):
        parts.append(draw(st.integers(min_value=0, max_value=BPS - sum(parts))))
    parts = draw(st.permutations(parts))
    return dict(zip(DEFAULTS, parts, strict=True))


@settings(max_examples=300, deadline=None, database=None)
@given(total=st.integers(min_value=1, max_value=9999 * 5200 * 30), config=gift_settings(), agency=st.booleans(),
       owner=st.booleans())  # fmt: skip
def test_split_conserves_coins_and_is_never_negative(total: int, config: dict[str, int], agency: bool,
                                                     owner: bool) -> None:  # fmt: skip
    split = split_gift(total, config, agency_member=agency, has_room_owner=owner)
    assert coin_shares(split) == total
    assert min(split.recipient_coins, split.recipient_diamonds, split.agency_commission, split.room_owner,
               split.platform) >= 0  # fmt: skip
    assert split.recipient_diamonds == (total * config["gift_recipient_diamonds_bps"] // BPS if agency else 0)
    assert (split.recipient_coins == 0) if agency else (split.agency_commission == 0)


@settings(max_examples=200, deadline=None, database=None)
@given(
    total=st.integers(min_value=1, max_value=10**9), config=gift_settings(),
    recipients=st.lists(st.integers(min_value=2, max_value=6), min_size=1, max_size=5, unique=True),
    agency_members=st.sets(st.integers(min_value=2, max_value=6)), owner=st.sampled_from([None, 1, 2, 7]),
)  # fmt: skip
def test_gift_legs_always_balance(total: int, config: dict[str, int], recipients: list[int],
                                  agency_members: set[int], owner: int | None) -> None:  # fmt: skip
    assume(not (owner == 1 and config["gift_room_owner_bps"] == BPS))  # the sender, owning the room, gets it all back
    legs: list[Leg] = []
    for recipient in recipients:
        member = recipient in agency_members
        split = split_gift(total, config, agency_member=member, has_room_owner=owner is not None)
        legs += gift_legs(1, recipient, total, split, agency_id=100 + recipient if member else None, room_owner=owner)
    merged = merge_legs(legs)
    txn = make_txn("gift", merged)
    assert all(v == 0 for v in sums(txn.legs).values())
    # The sender's net debit is first and is never more than the gift's price.
    first = txn.legs[0]
    assert (first.account_type, first.account_id, first.currency) == ("user", 1, "coins")
    assert -len(recipients) * total <= first.amount < 0
    # Only the mint account goes negative; every other leg except the sender's is a credit.
    assert all(leg.amount > 0 for leg in txn.legs[1:] if leg.account_type != "mint")
