"""Typed schema of the owner's live income figures (issue 13 §3): the Agency Main Page's metrics
(Balance, Total Coins) update as the owner's requests are processed."""

from __future__ import annotations

from typing import Literal

import msgspec


class Wallet(msgspec.Struct, forbid_unknown_fields=True):
    coins: int
    """The agency's coin balance (its gift commission, less what salary exchanges took)."""
    usd_cents: int
    """The agency's USD balance (advances, settled shares, approved salary exchanges)."""


class IncomeUpdated(msgspec.Struct, forbid_unknown_fields=True):
    """The agency's figures for the current business month changed (an advance paid, a salary
    exchange requested, approved or rejected) → the owner."""

    agency_id: int
    reason: Literal["advance", "exchange_requested", "exchange_approved", "exchange_rejected"]
    month: str
    monthly_coins: int
    share_bps: int
    estimated_salary_usd_cents: int
    salary_in_advance_usd_cents: int
    balance_usd_cents: int
    advance_limit_usd_cents: int
    wallet: Wallet


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {"agency.income.updated": IncomeUpdated}
