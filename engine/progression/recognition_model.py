"""Recognition (issue 14 §5, docs/progression.md "Recognition"): which level-ups, badges and ranking
finishes are recognised, what is recorded of each, and how it reads in a room and in a follower's
notifications. Pure: no I/O."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from engine.notifications.model import Notice

Kind = Literal["level", "badge", "ranking"]
# sql/0030 stores a badge's rarity as a word; the setting `recognition_badge_rarity_min` is its rank.
RARITY_RANK = {"common": 1, "rare": 2, "epic": 3, "legendary": 4}
# Followers are read and notified this many at a time (one statement each), up to the setting's cap.
FOLLOWER_CHUNK = 1000


class Settings(msgspec.Struct, frozen=True):
    """The economy settings of sql/0032 (defaults as there)."""

    level_min: int = 10
    badge_rarity_min: int = 2
    ranking_top: int = 3
    followers_max: int = 10_000


def settings_of(values: dict[str, int]) -> Settings:
    d = Settings()
    return Settings(
        level_min=values.get("recognition_level_min", d.level_min),
        badge_rarity_min=values.get("recognition_badge_rarity_min", d.badge_rarity_min),
        ranking_top=values.get("recognition_ranking_top", d.ranking_top),
        followers_max=max(0, values.get("recognition_followers_max", d.followers_max)),
    )


class Candidate(msgspec.Struct, frozen=True):
    """A recognition to record (once per user, kind and ref)."""

    user_id: int
    kind: Kind
    ref: str
    payload: dict[str, Any]


def level_candidate(kind: str, user_id: int, before: int, after: int, level_min: int) -> Candidate | None:
    """A rise of a wealth or charm level to `level_min` or above (a room's level is the room's, and a
    fall is never recognised); the final level only, however many a batch crossed."""
    if kind not in ("wealth", "charm") or after <= before or after < level_min:
        return None
    return Candidate(user_id, "level", f"{kind}:{after}", {"type": kind, "level": after})


def badge_candidate(user_id: int, badge: dict[str, Any], rarity_min: int) -> Candidate | None:
    if RARITY_RANK.get(badge["rarity"], 0) < rarity_min:
        return None
    payload = {"id": badge["id"], "code": badge["code"], "name": badge["name"], "rarity": badge["rarity"],
               "icon_url": badge.get("icon_url") or ""}  # fmt: skip
    return Candidate(user_id, "badge", str(badge["id"]), payload)


def ranking_candidates(board: str, period: str, start: str, finish: list[tuple[int, int, int]],
                       top: int) -> list[Candidate]:  # fmt: skip
    """`finish`: (rank, user, score) of a closed period — the user is the member itself on wealth and
    charm, the owner of the ranked room or agency on the other boards."""
    return [Candidate(user_id, "ranking", f"{board}:{period}:{start}",
                      {"board": board, "period": period, "start": start, "rank": rank, "score": score})
            for rank, user_id, score in finish if rank <= top]  # fmt: skip


def text_of(kind: str, payload: dict[str, Any], name: str) -> str:
    """One line a client can show as it is."""
    if kind == "level":
        return f"{name} reached {payload['type']} level {payload['level']}."
    if kind == "badge":
        return f"{name} earned the {payload['rarity']} badge {payload['name']}."
    return f"{name} finished #{payload['rank']} in the {payload['period']} {payload['board']} ranking."


def room_event(row: dict[str, Any], room_id: int) -> dict[str, Any]:
    """The `room:recognition` payload (recognition_messages.RoomRecognition) for one room."""
    kind, payload = row["kind"], row["payload"]
    who = {"id": row["user_id"], "name": row["name"], "avatar": row["avatar_image"] or ""}
    return {"roomId": str(room_id), "recognitionId": row["id"], "userId": row["user_id"], "kind": kind,
            "user": who, "text": text_of(kind, payload, row["name"]),
            "level": payload if kind == "level" else None, "badge": payload if kind == "badge" else None,
            "ranking": payload if kind == "ranking" else None}  # fmt: skip


def follower_notice(row: dict[str, Any]) -> Notice:
    """The notification each follower gets (its `user_id` is set per follower by the bulk insert)."""
    return Notice(user_id=row["user_id"], kind="recognition", text=text_of(row["kind"], row["payload"], row["name"]),
                  actor_id=row["user_id"], target_type="user", target_id=str(row["user_id"]),
                  data={"recognition_id": row["id"], "kind": row["kind"], **row["payload"]})  # fmt: skip
