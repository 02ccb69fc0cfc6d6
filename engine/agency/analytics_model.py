"""Agency analytics and leaderboards (issue 13 §4, docs/agency.md "Analytics and leaderboards"): the
queries' shapes, business-day ranges, the per-day table, member comparison, rankings and CSV lines.
No I/O: every figure comes from `agency_members` (membership spans) and `agency_income_events`
(sql/0020), read by analytics_store.py and shaped here.

Days are business days in `BUSINESS_TIMEZONE`, both ends of a range inclusive."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.agency.income_model import valid_seconds
from engine.errors import forbidden, validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_MEMBERS = 10
COMPARE_MIN, COMPARE_MAX = 2, 10
Month = Annotated[str, Meta(pattern=r"^\d{4}-\d{2}$", description="A business month, YYYY-MM.")]
UserIds = Annotated[str, Meta(min_length=1, max_length=250, description="Comma-separated user ids, 2 to 10.")]
# The analytics are the agency's business figures: its owner and admins read them (and staff).
ANALYTICS_ROLES = ("owner", "admin")
DAY_COLUMNS = ("date", "members", "new_members", "left_members", "coins", "mic_seconds", "active_members")
MEMBER_COLUMNS = ("user_id", "name", "role", "active_days", "coins", "mic_seconds", "valid_seconds")


class RangeQuery(msgspec.Struct):
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD`: business days, inclusive; the last 30 days by default."""

    from_: dt.date | None = msgspec.field(default=None, name="from")
    to: dt.date | None = None


class ActiveDaysQuery(msgspec.Struct):
    from_: dt.date | None = msgspec.field(default=None, name="from")
    to: dt.date | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class CompareQuery(msgspec.Struct):
    user_ids: UserIds
    from_: dt.date | None = msgspec.field(default=None, name="from")
    to: dt.date | None = None


class LeaderboardQuery(msgspec.Struct):
    month: Month | None = None
    """The business month (default: the current one)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class DayRange(msgspec.Struct, frozen=True):
    first: dt.date
    last: dt.date
    start: dt.datetime
    """The first day's start, an aware instant."""
    end: dt.datetime
    """The instant after the last day (exclusive)."""

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def business_today(now: dt.datetime, tz: str) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(tz)).date()


def day_start(day: dt.date, tz: str) -> dt.datetime:
    """A business day's first instant (local midnight; a zone's skipped midnight resolves forward)."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(dt.UTC)


def day_range(first: dt.date | None, last: dt.date | None, today: dt.date, tz: str) -> DayRange:
    """The range asked for: `to` defaults to today, `from` to 29 days before `to`; `from` ≤ `to`,
    at most 366 days (422 on the field otherwise)."""
    last = last or today
    first = first or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise validation_error({"from": ["The from date must be on or before the to date."]})
    if (last - first).days + 1 > MAX_DAYS:
        raise validation_error({"to": [f"The range must be at most {MAX_DAYS} days."]})
    return DayRange(first, last, day_start(first, tz), day_start(last + dt.timedelta(days=1), tz))


def check_may_read(role: str | None, is_owner: bool, staff: bool) -> None:
    if not (is_owner or role in ANALYTICS_ROLES or staff):
        raise forbidden("Only the agency's owner and admins may read its analytics.")


def check_may_see_board(role: str | None, is_owner: bool, staff: bool) -> None:
    if not (is_owner or role is not None or staff):
        raise forbidden("Only the agency's members may read its leaderboard.")


def is_active(coins: int, mic_ms: int) -> bool:
    """A member's day counts as active with any gift income or any time on a mic seat."""
    return coins > 0 or mic_ms > 0


def day_table(days: list[dt.date], members: Iterable[Mapping[str, Any]],
              income: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """One row per day of the range (days without rows are zeros), oldest first."""
    spans = {r["day"]: r for r in members}
    earned = {r["day"]: r for r in income}
    rows = []
    for day in days:
        span, got = spans.get(day, {}), earned.get(day, {})
        rows.append({"date": day.isoformat(), "members": int(span.get("members", 0)),
                     "new_members": int(span.get("joined", 0)), "left_members": int(span.get("ended", 0)),
                     "coins": int(got.get("coins", 0)), "mic_seconds": int(got.get("mic_ms", 0)) // 1000,
                     "active_members": int(got.get("active", 0))})  # fmt: skip
    return rows


def range_totals(table: list[dict[str, Any]], active_members: int) -> dict[str, int]:
    """Sums over the range; `members_at_start` is the count at the end of the day before `from`
    (each day's count is the previous one plus its joins less its leaves)."""
    first, last = table[0], table[-1]
    return {
        "members_at_start": first["members"] - first["new_members"] + first["left_members"],
        "members_at_end": last["members"],
        "new_members": sum(r["new_members"] for r in table), "left_members": sum(r["left_members"] for r in table),
        "coins": sum(r["coins"] for r in table), "mic_seconds": sum(r["mic_seconds"] for r in table),
        "active_members": active_members,
    }  # fmt: skip


def person(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"user_id": row["user_id"], "name": row["name"], "avatar_image": row["avatar_image"]}


def analytics_view(agency_id: int, rng: DayRange, tz: str, table: list[dict[str, Any]], active_members: int,
                   top: Iterable[Mapping[str, Any]]) -> dict[str, Any]:  # fmt: skip
    return {"agency_id": agency_id, "from": rng.first.isoformat(), "to": rng.last.isoformat(), "timezone": tz,
            "days": table, "totals": range_totals(table, active_members),
            "top_members": [{**person(r), "coins": int(r["coins"])} for r in top]}  # fmt: skip


# --- member active days ---------------------------------------------------------------------------


def active_days_cursor(cursor: str | None) -> tuple[int, int] | None:
    """The page's keyset position: (active days, user id) of the last row (most active first)."""
    found = decode_cursor(cursor, int, int)
    return (found[0], found[1]) if found else None


def member_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**person(row), "role": row["role"], "active_days": int(row["active_days"]), "coins": int(row["coins"]),
            "mic_seconds": int(row["mic_ms"]) // 1000, "valid_seconds": int(row["valid_seconds"])}  # fmt: skip


def active_days_page(rows: Sequence[Mapping[str, Any]], limit: int) -> dict[str, Any]:
    """Rows were read with `limit + 1`."""
    items = [member_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    next_cursor = encode_cursor(items[-1]["active_days"], items[-1]["user_id"]) if more else None
    return {"items": items, "next_cursor": next_cursor}


# --- member comparison ----------------------------------------------------------------------------


def parse_user_ids(text: str) -> list[int]:
    """'1,2,3' -> [1, 2, 3]: 2 to 10 distinct ids (422 on `user_ids` otherwise)."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isascii() and p.isdigit() and len(p) <= 19 and 0 < int(p) < 2**63 for p in parts):
        raise validation_error({"user_ids": ["The user_ids field must be comma-separated user ids."]})
    ids = list(dict.fromkeys(int(p) for p in parts))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise validation_error({"user_ids": [f"Compare {COMPARE_MIN} to {COMPARE_MAX} different members."]})
    return ids


def compare_view(rng: DayRange, user_ids: list[int], people: Mapping[int, Mapping[str, Any]],
                 daily: Iterable[Mapping[str, Any]], cap_seconds: int) -> dict[str, Any]:  # fmt: skip
    """Per member (in the order asked): totals over the range and the coins of each day of it.
    Valid seconds are each day's mic time capped at `agency_valid_seconds_per_day`, summed."""
    days = rng.days()
    index = {day: i for i, day in enumerate(days)}
    figures: dict[int, dict[str, Any]] = {
        u: {"coins": 0, "mic_ms": 0, "valid": 0, "active": 0, "series": [0] * len(days)} for u in user_ids
    }
    for r in daily:
        f = figures[r["user_id"]]
        coins, mic_ms = int(r["coins"]), int(r["mic_ms"])
        f["coins"] += coins
        f["mic_ms"] += mic_ms
        f["valid"] += valid_seconds(mic_ms, cap_seconds)
        f["active"] += is_active(coins, mic_ms)
        f["series"][index[r["day"]]] += coins
    members = [{**person(people[u]), "coins": f["coins"], "mic_seconds": f["mic_ms"] // 1000,
                "valid_seconds": f["valid"], "active_days": f["active"], "daily_coins": f["series"]}
               for u, f in figures.items()]  # fmt: skip
    return {"from": rng.first.isoformat(), "to": rng.last.isoformat(), "dates": [d.isoformat() for d in days],
            "members": members}  # fmt: skip


# --- leaderboards -------------------------------------------------------------------------------


def ranking_cursor(cursor: str | None) -> tuple[int, int, int] | None:
    """(coins, id, rank) of the last row of the previous page: the keyset, and where ranks go on."""
    found = decode_cursor(cursor, int, int, int)
    return (found[0], found[1], found[2]) if found else None


def ranking_page(rows: Sequence[Mapping[str, Any]], limit: int, after: tuple[int, int, int] | None,
                 key: str) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
    """Rows (read with `limit + 1`, most coins first, ties by `key` ascending) numbered 1, 2, 3…
    across pages: tied rows get consecutive ranks in id order, so a rank names one row."""
    first_rank = after[2] + 1 if after else 1
    items = [{"rank": first_rank + i, **dict(r), "coins": int(r["coins"])} for i, r in enumerate(rows[:limit])]
    if len(rows) <= limit:
        return items, None
    last = items[-1]
    return items, encode_cursor(last["coins"], last[key], last["rank"])


def csv_line(values: Iterable[Any]) -> str:
    """One CSV record (RFC 4180 quoting by Python's csv module: commas, quotes, line breaks)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()
