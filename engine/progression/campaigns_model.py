"""Campaigns (issue 14 §5, docs/progression.md "Campaigns"): the rules, the prizes and their checks,
what staff may change when, and the shapes the API shows. Pure: no I/O.

A campaign runs in its window [starts_at, ends_at). Its rule is one of:
- `gift_count`: send `count` gifts (of `gift_id`, or any) in the window; every qualifier gets the one
  prize, first come first served, until the budget runs out;
- `top_senders`: the `top` senders by coins (of `gift_id`, or any; at least `min_coins`) when the
  window has ended get the prize of their rank.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.errors import DomainError, validation_error
from engine.progression.levels_model import LevelReward
from engine.progression.rewards_model import RewardItem, decode_items

State = Literal["draft", "active", "closed", "cancelled"]
Code = Annotated[str, Meta(pattern=r"^[a-z0-9_]{2,40}$")]
Count = Annotated[int, Meta(ge=1, le=10**9)]
GiftId = Annotated[int, Meta(ge=1, le=2**62)]
Rank = Annotated[int, Meta(ge=1, le=100)]
Instant = Annotated[dt.datetime, Meta(tz=True)]
Coins = Annotated[int, Meta(ge=0, le=10**12)]
Title = Annotated[str, Meta(min_length=1, max_length=80)]
Description = Annotated[str, Meta(max_length=1000)]
PRIZES_MAX = 20
# What staff may change while a campaign runs: not what was counted or promised so far.
RUNNING_EDITABLE = frozenset({"title", "description", "ends_at", "budget_coins", "state"})
TRANSITIONS: dict[str, set[str]] = {"draft": {"draft", "active", "cancelled"}, "active": {"active", "cancelled"}}


class GiftCount(msgspec.Struct, tag="gift_count", tag_field="kind", forbid_unknown_fields=True):
    """Send `count` gifts (quantities, once per recipient) during the window."""

    count: Count
    gift_id: GiftId | None = None
    """Only this catalog gift counts (null: any gift)."""


class TopSenders(msgspec.Struct, tag="top_senders", tag_field="kind", forbid_unknown_fields=True):
    """The `top` senders by coins during the window, ranked when it has ended."""

    top: Rank
    gift_id: GiftId | None = None
    min_coins: Count = 1
    """A sender below this wins nothing, whatever their rank."""


Rule = GiftCount | TopSenders


class Prize(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What ranks `rank_from`..`rank_to` get (top_senders); a gift_count campaign has one prize, for
    every qualifier, and gives no ranks."""

    items: Annotated[list[LevelReward], Meta(min_length=1, max_length=10)]
    rank_from: Rank = 1
    rank_to: Rank | None = None
    """The last rank of the tier (null: `rank_from` only)."""

    @property
    def last(self) -> int:
        return self.rank_to if self.rank_to is not None else self.rank_from


class CampaignBody(msgspec.Struct, forbid_unknown_fields=True):
    """A new campaign (staff)."""

    code: Code
    title: Title
    starts_at: Instant
    ends_at: Instant
    rule: Rule
    prizes: Annotated[list[Prize], Meta(min_length=1, max_length=PRIZES_MAX)]
    budget_coins: Coins
    description: Description = ""
    state: Literal["draft", "active"] = "draft"


class CampaignPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A change (staff): the fields sent; the code never changes. A running campaign takes only its
    title, description, end, budget and cancellation."""

    title: Title | None = None
    description: Description | None = None
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    rule: Rule | None = None
    prizes: Annotated[list[Prize], Meta(min_length=1, max_length=PRIZES_MAX)] | None = None
    budget_coins: Coins | None = None
    state: Literal["draft", "active", "cancelled"] | None = None


def decode_rule(raw: Any) -> Rule:
    rule: Rule = msgspec.convert(raw, Rule)
    return rule


def encode_rule(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(rule)
    return out


def decode_prizes(raw: Any) -> list[Prize]:
    return msgspec.convert(raw, list[Prize])


def encode_prizes(prizes: list[Prize]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = msgspec.to_builtins(prizes)
    return out


def problems(rule: Rule, prizes: list[Prize], starts_at: dt.datetime, ends_at: dt.datetime) -> dict[str, list[str]]:
    """The 422 field errors of a campaign as it would be (empty: fine)."""
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = ["The campaign must end after it starts."]
    if isinstance(rule, GiftCount):
        if len(prizes) != 1 or prizes[0].rank_from != 1 or prizes[0].rank_to is not None:
            errors["prizes"] = ["A gift_count campaign has one prize, for every qualifier (no ranks)."]
    else:
        taken: set[int] = set()
        for i, prize in enumerate(prizes):
            ranks = set(range(prize.rank_from, prize.last + 1))
            if prize.last < prize.rank_from or prize.last > rule.top:
                errors[f"prizes.{i}"] = [f"Ranks run from rank_from to rank_to, within 1..{rule.top} (top)."]
            elif ranks & taken:
                errors[f"prizes.{i}"] = ["A rank may have one prize."]
            taken |= ranks
    for i, prize in enumerate(prizes):
        for j, item in enumerate(prize.items):
            if (problem := item.problem()) is not None:
                errors[f"prizes.{i}.items.{j}"] = [problem]
    return errors


def check_campaign(rule: Rule, prizes: list[Prize], starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if errors := problems(rule, prizes, starts_at, ends_at):
        raise validation_error(errors)


def refs(prizes: list[Prize], kind: str) -> list[int]:
    """The mall items (`frame`) or badges (`badge`) the prizes name."""
    return sorted({it.ref for p in prizes for it in p.items if it.kind == kind})


def missing_refs(prizes: list[Prize], frames: set[int], badges: set[int]) -> dict[str, list[str]]:
    """422 field errors for prize items naming a mall item or badge that does not exist."""
    errors: dict[str, list[str]] = {}
    for i, prize in enumerate(prizes):
        for j, it in enumerate(prize.items):
            if it.kind == "frame" and it.ref not in frames:
                errors[f"prizes.{i}.items.{j}"] = [f"No mall item {it.ref}."]
            elif it.kind == "badge" and it.ref not in badges:
                errors[f"prizes.{i}.items.{j}"] = [f"No badge {it.ref}."]
    return errors


def check_change(row: dict[str, Any], fields: set[str], new_state: str | None) -> None:
    """409 unless the campaign, as it stands, may take these changes."""
    if row["state"] in ("closed", "cancelled"):
        raise DomainError("campaign_ended", f"The campaign is {row['state']}: it can't change.", status=409)
    if new_state is not None and new_state not in TRANSITIONS[row["state"]]:
        raise DomainError("campaign_state", f"A {row['state']} campaign can't become {new_state}.", status=409)
    if row["state"] == "active" and (frozen := sorted(fields - RUNNING_EDITABLE)):
        raise DomainError("campaign_running", f"A running campaign's {', '.join(frozen)} can't change.", status=409)


def prize_for(prizes: list[Prize], rank: int) -> Prize | None:
    return next((p for p in prizes if p.rank_from <= rank <= p.last), None)


def reward_items(prize: Prize) -> list[RewardItem]:
    return [RewardItem(kind=it.kind, amount=it.amount, ref=it.ref, days=it.days) for it in prize.items]


def prize_coins(prize: Prize) -> int:
    """What a prize takes from the budget: its coins (frames, badges and VIP days cost none)."""
    return sum(it.amount for it in prize.items if it.kind == "coins")


def reward_ref(campaign_id: int, rank: int | None) -> str:
    """The reward ledger's source_ref: once per (user, campaign) for a qualifier, per rank for a winner."""
    return str(campaign_id) if rank is None else f"{campaign_id}:{rank}"


def campaign_out(row: dict[str, Any]) -> dict[str, Any]:
    """A campaign as the public API shows it."""
    return {"id": row["id"], "code": row["code"], "title": row["title"], "description": row["description"],
            "starts_at": row["starts_at"], "ends_at": row["ends_at"], "rule": row["rule"], "prizes": row["prizes"],
            "budget_coins": row["budget_coins"], "spent_coins": row["spent_coins"],
            "remaining_coins": row["budget_coins"] - row["spent_coins"], "state": row["state"],
            "closed_at": row["closed_at"]}  # fmt: skip


def admin_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**campaign_out(row), "created_by": row["created_by"], "created_at": row["created_at"],
            "updated_at": row["updated_at"]}  # fmt: skip


def progress_out(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """The caller's own progress (`me`), or None before their first counted gift."""
    if row is None:
        return None
    return {"gift_count": row["gift_count"], "coins": row["coins"], "qualified_at": row["qualified_at"],
            "rank": row["rank"], "outcome": row["outcome"], "reward_id": row["reward_id"]}  # fmt: skip


def standing_out(row: dict[str, Any]) -> dict[str, Any]:
    """One line of the results page: the position in the standings, who, their figures, and what
    they won (`outcome` and the reward) once decided."""
    user = {"id": row["user_id"], "name": row["name"], "avatar_url": row["avatar_url"]} if row["name"] else None
    reward = None
    if row["reward_id"] is not None:
        reward = {
            "id": row["reward_id"],
            "state": row["reward_state"],
            "items": [msgspec.to_builtins(i) for i in decode_items(row["reward_items"])],
        }
    return {"position": row["pos"], "user_id": row["user_id"], "user": user, "gift_count": row["gift_count"],
            "coins": row["coins"], "qualified_at": row["qualified_at"], "rank": row["rank"],
            "outcome": row["outcome"], "reward": reward}  # fmt: skip
