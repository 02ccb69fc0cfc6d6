"""Gift statistics (issue 14 §5, story 6.4; docs/progression.md "Gift statistics and appreciation"):
the query, the period's business days, and the answer's shape. No I/O: the figures come from the
`gift_stats` rollup of the gift ledger (sql/0029), read by giftstats_store.py.

Periods are business periods in the zone asked for (`tz`, default BUSINESS_TIMEZONE): today, this
week (from Monday), this month, or all time; each to date (it ends with today)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.agency.analytics_model import business_today, day_start
from engine.errors import validation_error

Period = Literal["day", "week", "month", "all"]
TOP_DEFAULT, TOP_MAX = 10, 50
ALL_TREND_DAYS = 30
# Before any gift: the `all` period's start (the rollup holds nothing older).
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
ZoneName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$",
                               description="An IANA time zone (default: the business time zone).")]  # fmt: skip


class StatsQuery(msgspec.Struct):
    """`?period=day|week|month|all&tz=&limit=`: `limit` caps every list (default 10, at most 50)."""

    period: Period = "day"
    tz: ZoneName | None = None
    limit: Annotated[int, Meta(ge=1, le=TOP_MAX)] = TOP_DEFAULT


class Window(msgspec.Struct, frozen=True):
    """What one request reads: the period's [start, end) instants and the trend's business days."""

    period: str
    tz: str
    first: dt.date | None
    """The period's first business day (None: all time)."""
    last: dt.date
    start: dt.datetime
    end: dt.datetime
    trend_days: list[dt.date]
    trend_bounds: list[dt.datetime]
    """Each trend day's first instant, and the instant after the last day."""


def check_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise validation_error({"tz": ["Unknown time zone."]}) from None
    return name


def period_first(period: str, today: dt.date) -> dt.date | None:
    if period == "day":
        return today
    if period == "week":
        return today - dt.timedelta(days=today.weekday())  # weeks start on Monday (ISO)
    if period == "month":
        return today.replace(day=1)
    return None


def window(period: str, tz: str, now: dt.datetime) -> Window:
    """The period to date in zone `tz`; the trend covers its days (the `all` period: the last 30)."""
    today = business_today(now, tz)
    first = period_first(period, today)
    trend_first = first if first is not None else today - dt.timedelta(days=ALL_TREND_DAYS - 1)
    days = [trend_first + dt.timedelta(days=i) for i in range((today - trend_first).days + 1)]
    bounds = [day_start(d, tz) for d in days] + [day_start(today + dt.timedelta(days=1), tz)]
    start = day_start(first, tz) if first is not None else EPOCH
    return Window(period, tz, first, today, start, bounds[-1], days, bounds)


def _tally(row: Mapping[str, Any]) -> dict[str, int]:
    return {"count": int(row["quantity"]), "coins": int(row["coins"])}


def gift_entry(row: Mapping[str, Any], gifts: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    gift = gifts.get(int(row["gift_id"]), {})
    return {"gift_id": int(row["gift_id"]), "name": gift.get("name"), "icon": gift.get("static_src"),
            **_tally(row)}  # fmt: skip


def person_entry(row: Mapping[str, Any], users: Mapping[int, Mapping[str, Any]], hidden: set[int]) -> dict[str, Any]:
    """A gifter or recipient. Through a block (either way) the coins still count but who it was is
    not shown: `user` null and `hidden` true, as for an account that is gone."""
    other = int(row["other_id"])
    user = users.get(other)
    if other in hidden or user is None:
        return {"user": None, "hidden": True, **_tally(row)}
    return {"user": {"id": other, "name": user["name"], "avatar_image": user["avatar_image"]}, "hidden": False,
            **_tally(row)}  # fmt: skip


def shape(w: Window, tallies: Iterable[Mapping[str, Any]], trend: Iterable[Mapping[str, Any]],
          gifts: Mapping[int, Mapping[str, Any]], users: Mapping[int, Mapping[str, Any]],
          hidden: set[int]) -> dict[str, Any]:  # fmt: skip
    """The answer from the store's rows: totals per direction, the top gifts and people, the trend."""
    sides: dict[str, dict[str, Any]] = {d: {"count": 0, "coins": 0, "gifts": []} for d in ("sent", "received")}
    people: dict[str, list[dict[str, Any]]] = {"sent": [], "received": []}
    for row in tallies:  # ordered by coins, most first, within each list
        side = sides[row["direction"]]
        if row["gift_id"] is None and row["other_id"] is None:
            side.update(_tally(row))
        elif row["gift_id"] is not None:
            side["gifts"].append(gift_entry(row, gifts))
        else:
            people[row["direction"]].append(person_entry(row, users, hidden))
    per_day = {int(r["bucket"]): r for r in trend}
    return {
        "period": w.period, "tz": w.tz, "from": w.first.isoformat() if w.first else None, "to": w.last.isoformat(),
        "sent": sides["sent"], "received": sides["received"],
        "top_gifters": people["received"], "top_recipients": people["sent"],
        "trend": [{"date": day.isoformat(), "sent_coins": int(per_day.get(i + 1, {}).get("sent", 0)),
                   "received_coins": int(per_day.get(i + 1, {}).get("received", 0))}
                  for i, day in enumerate(w.trend_days)],
    }  # fmt: skip
