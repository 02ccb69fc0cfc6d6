"""Activity: the kinds, a finished room visit as the stream carries it, who may see which kinds, how
a row reads on the wire, and the followers trend by week. No I/O."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from engine.accounts.model import iso_timestamp
from engine.social.model import Privacy, Relationship, allows

# What the feed lists. 'unfollow' rows exist too, only for the followers trend: a feed showing whom
# someone stopped following would tell more than their followers list does.
FEED_KINDS = ("room_visit", "gift_sent", "gift_received", "follow", "level_up")
FeedKind = Literal["room_visit", "gift_sent", "gift_received", "follow", "level_up"]
# Weeks in the followers trend, the current one included.
TREND_WEEKS = 8


class Visit(msgspec.Struct, array_like=True, frozen=True):
    """A finished room visit: from the join that made the user a member to the leave (or the
    disconnect, kick, room close, or dead process's reaping) that ended it. `mic_ms`: the time they
    spent on a seat meanwhile."""

    user_id: int
    room_id: int
    joined_ms: int
    left_ms: int
    mic_ms: int

    @property
    def source(self) -> str:
        """Unique per visit: a member's visit to a room begins once per join time."""
        return f"{self.room_id}:{self.user_id}:{self.joined_ms}"

    @property
    def duration_ms(self) -> int:
        return max(0, self.left_ms - self.joined_ms)


_visit_encoder = msgspec.json.Encoder()
_visit_decoder = msgspec.json.Decoder(Visit)


def encode_visit(visit: Visit) -> bytes:
    return _visit_encoder.encode(visit)


def decode_visit(raw: bytes) -> Visit | None:
    """None for an entry that is not a visit (logged and dropped by the worker, never retried)."""
    try:
        return _visit_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def visit_of(user_id: int, room_id: int, reply: Any) -> Visit | None:
    """The visit a leave script returned (`[joined, left, mic]`), if it recorded one."""
    if not isinstance(reply, list) or len(reply) != 3:
        return None
    joined, left, mic = (int(x) for x in reply)
    return Visit(user_id, room_id, joined, left, mic)


def visible_kinds(settings: Privacy, rel: Relationship, wanted: str | None) -> list[str]:
    """The feed kinds this viewer may see of a user whose `activity` setting already lets them in:
    received gifts also need `received_gifts`, follows also `following_list` (the feed must not show
    what those settings hide elsewhere)."""
    kinds = [k for k in FEED_KINDS if wanted is None or k == wanted]
    if not allows(settings.received_gifts, rel):
        kinds = [k for k in kinds if k != "gift_received"]
    if not allows(settings.following_list, rel):
        kinds = [k for k in kinds if k != "follow"]
    return kinds


def item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored activity row as the feed shows it."""
    other = None
    if row["other_user_id"] is not None and row["other_name"] is not None:
        other = {"id": row["other_user_id"], "name": row["other_name"], "avatar_image": row["other_avatar"]}
    data = row["data"] or {}
    visit = row["kind"] == "room_visit"
    gift = row["kind"] in ("gift_sent", "gift_received")
    return {
        "id": row["id"], "kind": row["kind"], "at": iso_timestamp(row["happened_at"]),
        "room_id": str(row["room_id"]) if row["room_id"] is not None else None, "user": other,
        "coins": int(row["coins"]) if gift else None,
        "duration_seconds": int(row["duration_ms"] or 0) // 1000 if visit else None,
        "mic_seconds": int(row["mic_ms"] or 0) // 1000 if visit else None,
        "gift_id": str(data["gift_id"]) if gift and data.get("gift_id") is not None else None,
        "quantity": int(data["quantity"]) if gift and data.get("quantity") is not None else None,
        "level_type": data.get("type") if row["kind"] == "level_up" else None,
        "level": int(data["to_level"]) if row["kind"] == "level_up" and "to_level" in data else None,
    }  # fmt: skip


def week_start(at: dt.datetime) -> dt.date:
    """The Monday (UTC) of the week `at` falls in."""
    day = at.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def trend_since(now: dt.datetime, weeks: int = TREND_WEEKS) -> dt.datetime:
    first = week_start(now) - dt.timedelta(weeks=weeks - 1)
    return dt.datetime.combine(first, dt.time(), dt.UTC)


def followers_trend(
    now: dt.datetime, followers_now: int, by_week: dict[dt.date, tuple[int, int]], weeks: int = TREND_WEEKS
) -> list[dict[str, Any]]:
    """Per week, oldest first: follows gained and lost, and the followers at the week's end (now, for
    the current week), counted back from today's exact count."""
    first = week_start(now) - dt.timedelta(weeks=weeks - 1)
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    out: list[dict[str, Any]] = []
    followers = followers_now
    for start in reversed(starts):
        gained, lost = by_week.get(start, (0, 0))
        out.append({"week_start": start.isoformat(), "gained": gained, "lost": lost, "net": gained - lost,
                    "followers": max(0, followers)})  # fmt: skip
        followers -= gained - lost
    return list(reversed(out))
