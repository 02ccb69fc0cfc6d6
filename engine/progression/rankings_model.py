"""Rankings model: boards, periods in the business time zone, what a gift adds to each board. No I/O.

Boards (backend-contract §3.9 "Ranks", §4.2 `rankings`):
- wealth: coins a user sent (a gift's price × quantity × recipients);
- charm: coins a user received (price × quantity, per recipient);
- room: coins spent in a room (the whole gift);
- agency: its members' income (price × quantity per member recipient — the `coins` that sql/0020's
  trigger writes into `agency_income_events` from the same metadata).
Periods: daily, weekly (ISO weeks, from Monday), monthly, all-time, bounded by local midnights in
`BUSINESS_TIMEZONE`. A period is named by its first business day (`start`, YYYY-MM-DD; "all" for
all-time).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

Board = Literal["wealth", "charm", "room", "agency"]
Period = Literal["daily", "weekly", "monthly", "all_time"]
ClosingPeriod = Literal["daily", "weekly", "monthly"]
BOARDS: tuple[Board, ...] = ("wealth", "charm", "room", "agency")
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "all_time")
CLOSING: tuple[ClosingPeriod, ...] = ("daily", "weekly", "monthly")
ROOM_SENDER_PERIODS: tuple[ClosingPeriod, ...] = ("daily", "weekly", "monthly")
ALL_TIME = "all"
GLOBAL = "all"
# What each board ranks: the id kind its members are.
SUBJECT: dict[Board, Literal["user", "room", "agency"]] = {
    "wealth": "user", "charm": "user", "room": "room", "agency": "agency"}  # fmt: skip
# A period's sorted sets outlive its end by this much (the period-end job snapshots it well before;
# then shortens it to SNAPSHOT_KEEP_SECONDS). A safety net, not the clean-up.
KEEP_AFTER_END = dt.timedelta(days=3)
SNAPSHOT_KEEP_SECONDS = 3600
# A re-delivered outbox entry comes back within minutes (the claim idle time); the all-time slot's
# seen sets, one per business day of the transaction, are kept this long.
ALL_TIME_SEEN_SECONDS = 8 * 86400


@dataclass(frozen=True, slots=True)
class Span:
    """One period: its name (first business day) and its UTC bounds [starts, ends)."""

    period: Period
    start: str
    starts: dt.datetime
    ends: dt.datetime | None  # None: all-time


def _midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(dt.UTC)


def first_day(period: ClosingPeriod, day: dt.date) -> dt.date:
    if period == "daily":
        return day
    if period == "weekly":
        return day - dt.timedelta(days=day.weekday())  # ISO: Monday
    return day.replace(day=1)


def next_first_day(period: ClosingPeriod, first: dt.date) -> dt.date:
    if period == "daily":
        return first + dt.timedelta(days=1)
    if period == "weekly":
        return first + dt.timedelta(days=7)
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def span_of(period: Period, at: dt.datetime, tz: str) -> Span:
    """The period of `period` kind that contains the instant `at`."""
    if period == "all_time":
        return Span(period, ALL_TIME, dt.datetime(1970, 1, 1, tzinfo=dt.UTC), None)
    first = first_day(period, at.astimezone(zoneinfo.ZoneInfo(tz)).date())
    return span_named(period, first, tz)


def span_named(period: ClosingPeriod, first: dt.date, tz: str) -> Span:
    return Span(period, first.isoformat(), _midnight(first, tz), _midnight(next_first_day(period, first), tz))


def previous_span(span: Span, tz: str) -> Span:
    assert span.period != "all_time"
    period: ClosingPeriod = span.period
    last_day_before = dt.date.fromisoformat(span.start) - dt.timedelta(days=1)
    return span_named(period, first_day(period, last_day_before), tz)


def closed_spans(period: ClosingPeriod, now: dt.datetime, since: dt.datetime, grace: dt.timedelta,
                 tz: str, limit: int = 62) -> list[Span]:  # fmt: skip
    """Periods that ended at least `grace` before `now` and began at or after `since` (when the
    rankings started), newest first — the ones a period-end job may have missed while down."""
    spans: list[Span] = []
    span = previous_span(span_of(period, now, tz), tz)
    while len(spans) < limit and span.starts >= since:
        assert span.ends is not None
        if span.ends + grace <= now:
            spans.append(span)
        span = previous_span(span, tz)
    return spans


def parse_start(period: ClosingPeriod, start: str, tz: str) -> Span | None:
    """The period a client named by its first day; None when `start` is not one."""
    try:
        first = dt.date.fromisoformat(start)
    except ValueError:
        return None
    return span_named(period, first, tz) if first_day(period, first) == first else None


class Contribution(msgspec.Struct, frozen=True, array_like=True):
    """`amount` coins added to `member` on `board` (and, for the room's senders, `sender`)."""

    board: Board
    member: int
    amount: int


def gift_contributions(txn_metadata: dict[str, Any], sender: int | None) -> list[Contribution]:
    """What one gift adds to each board; [] for a gift whose metadata lacks the figures (the XP
    reads the same figures and skips such a gift the same way)."""
    try:
        per_recipient = int(txn_metadata["price"]) * int(txn_metadata["quantity"])
        recipients = [int(r) for r in txn_metadata["recipients"]]
        room_id = int(txn_metadata["room_id"])
    except (KeyError, TypeError, ValueError):
        return []
    if per_recipient <= 0 or not recipients:
        return []
    total = per_recipient * len(recipients)
    out = [Contribution("room", room_id, total)]
    if sender is not None:
        out.append(Contribution("wealth", sender, total))
    out += [Contribution("charm", recipient, per_recipient) for recipient in recipients]
    for part in txn_metadata.get("agency_income") or []:
        try:
            out.append(Contribution("agency", int(part[1]), per_recipient))
        except (IndexError, TypeError, ValueError):
            continue
    return out


def country_scope(country: str | None) -> str | None:
    return country.strip().upper() if country and country.strip() else None


def ranked(rows: Iterable[tuple[int, float]], offset: int = 0) -> list[tuple[int, int, int]]:
    """(member, score) in descending order → (rank, member, score), ranks from offset + 1."""
    return [(offset + i + 1, int(member), int(score)) for i, (member, score) in enumerate(rows)]


def reward_ref(board: str, span: Span, rank: int) -> str:
    return f"{board}:{span.period}:{span.start}:{rank}"


def wealth_badge(wealth_level: int | None) -> str | None:
    """The legacy room leaderboard's `wealth_badge`: the user's wealth level as text (None: no such user)."""
    return None if wealth_level is None else str(wealth_level)
