"""Notifications: kinds, preferences, the read request, and how a stored row reads on the wire. No I/O."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from engine.accounts.model import iso_timestamp
from engine.errors import validation_error

# Every kind a notification may have; each can be switched off (all are on by default).
KINDS = ("follow", "dm", "gift", "system", "agency", "appreciation", "recognition")
READ_IDS_MAX = 100
NotificationId = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class Notice(msgspec.Struct, frozen=True):
    """A notification to store for `user_id` (and push, once stored)."""

    user_id: int
    kind: str
    text: str
    actor_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    data: dict[str, Any] = {}


class Preferences(msgspec.Struct):
    """Which kinds of notification the user gets (stored and pushed): on (true) or off."""

    follow: bool = True
    dm: bool = True
    gift: bool = True
    system: bool = True
    agency: bool = True
    appreciation: bool = True
    recognition: bool = True
    """Someone you follow was recognised (a level, a rare badge, a top ranking finish)."""


class PreferencesBody(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """PATCH /api/v1/me/notification-preferences: the kinds to change (the others stay)."""

    follow: bool | None = None
    dm: bool | None = None
    gift: bool | None = None
    system: bool | None = None
    agency: bool | None = None
    appreciation: bool | None = None
    recognition: bool | None = None

    def changes(self) -> dict[str, bool]:
        return {kind: value for kind in KINDS if (value := getattr(self, kind)) is not None}


def preferences(rows: dict[str, bool]) -> dict[str, bool]:
    """Every kind with its setting, from the rows of the kinds the user changed."""
    return {kind: rows.get(kind, True) for kind in KINDS}


class ReadBody(msgspec.Struct):
    """POST /api/v1/me/notifications/read: some of one's notifications by id, or all of them."""

    ids: Annotated[list[NotificationId], Meta(min_length=1, max_length=READ_IDS_MAX)] | None = None
    all: bool = False

    def check(self) -> None:
        if self.all == (self.ids is not None):
            message = "Send either ids or all: true."
            raise validation_error({"ids": [message], "all": [message]})


def item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored notification as the list and the `notification:new` push show it."""
    actor = None
    if row["actor_id"] is not None and row["actor_name"] is not None:
        actor = {"id": row["actor_id"], "name": row["actor_name"], "avatar_image": row["actor_avatar"]}
    return {
        "id": row["id"], "kind": row["kind"], "actor": actor, "target_type": row["target_type"],
        "target_id": row["target_id"], "text": row["text"], "data": row["data"],
        "created_at": iso_timestamp(row["created_at"]), "read_at": iso_timestamp(row["read_at"]),
    }  # fmt: skip
