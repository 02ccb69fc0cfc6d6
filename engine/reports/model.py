"""Reports and moderation cases: target types, reasons, actions, the request bodies (limits in the
types), the rules between them, and how rows read on the wire. No I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import Phone, iso_timestamp
from engine.errors import DomainError, forbidden, validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

TargetType = Literal["user", "room", "message", "dm_message"]
# Why a user reports something. `self_harm` and `underage` are safety reports: staff see them like any
# other, and filter on them (`?reason=`).
Reason = Literal["spam", "harassment", "hate", "sexual", "violence", "self_harm", "scam", "underage",
                 "impersonation", "illegal", "other"]  # fmt: skip
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]
State = Literal["open", "reviewing", "actioned", "dismissed"]
OPEN_STATES = ("open", "reviewing")
Action = Literal["warn", "mute", "suspend", "ban", "delete_message", "dismiss"]
# Actions on the case's subject (the account reported, the room's owner, the message's sender).
ACCOUNT_ACTIONS = frozenset({"warn", "mute", "suspend", "ban"})
TIMED_ACTIONS = frozenset({"mute", "suspend"})
Source = Literal["report", "word_filter", "report_threshold"]
AppealState = Literal["pending", "upheld", "overturned"]
APPEAL_WINDOW = dt.timedelta(days=14)

Id = Annotated[int, Meta(ge=1, le=2**63 - 1)]
TargetRef = Id | Annotated[str, Meta(min_length=1, max_length=64)]
EvidenceUrl = Annotated[str, Meta(max_length=500, pattern=r"^https?://\S+$")]
Details = Annotated[str, Meta(max_length=1000)]
Minutes = Annotated[int, Meta(ge=1, le=525_600)]  # up to a year


class ReportBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/reports."""

    target_type: TargetType
    target_id: TargetRef
    """A user's or room's id; a room chat message's `id` (as `chat:message` sent it); a direct message's id."""
    reason: Reason
    details: Details | None = None
    evidence_urls: Annotated[list[EvidenceUrl], Meta(max_length=3)] = []
    room_id: Id | None = None
    """`message` targets: the room whose chat holds the message (default: the room you are in)."""

    @property
    def target(self) -> str:
        return str(self.target_id)


class ResolveBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/admin/reports/{id}/resolve."""

    action: Action
    minutes: Minutes | None = None
    """How long a `mute` (in every room) or a `suspend` lasts; required for those two."""
    note: Details | None = None
    """Why (kept on the case, in the audit log; a suspension's or ban's reason)."""

    def check(self, case: dict[str, Any], actor_id: int, actor_permissions: frozenset[str]) -> None:
        """422 for an action the case cannot take; 403 for a case about oneself (dismissing it too),
        and for a suspension or ban by someone who may not change account status (users.suspend)."""
        if case["subject_user_id"] == actor_id:
            raise forbidden("You cannot act on a report about yourself.")
        if self.action in ("suspend", "ban") and "users.suspend" not in actor_permissions:
            raise forbidden("Suspending and banning need the users.suspend permission.")
        if self.action in TIMED_ACTIONS and self.minutes is None:
            raise validation_error({"minutes": [f"A {self.action} needs `minutes`."]})
        if self.action not in TIMED_ACTIONS and self.minutes is not None:
            raise validation_error({"minutes": [f"A {self.action} takes no `minutes`."]})
        if self.action == "delete_message" and case["target_type"] != "message":
            raise validation_error({"action": ["Only a room chat message can be deleted."]})
        if self.action in ACCOUNT_ACTIONS and case["subject_user_id"] is None:
            raise validation_error({"action": ["The case names no account to act on."]})

    def until(self, now: dt.datetime) -> dt.datetime | None:
        return now + dt.timedelta(minutes=self.minutes) if self.minutes is not None else None


class AssignBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/admin/reports/{id}/assign: to a reviewer (someone holding reports.review), or null."""

    assignee_id: Id | None


AppealText = Annotated[str, Meta(min_length=1, max_length=1000)]


class AppealBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/reports/{id}/appeal."""

    details: AppealText


class SignedOutAppealBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/appeals: the account proves itself with its phone and password instead of a
    token (a suspended or banned account cannot sign in). Without `case_id`: the newest action
    in force against the account."""

    phone: Phone
    password: Annotated[str, Meta(min_length=1, max_length=128)]
    details: AppealText
    case_id: Id | None = None


class ReviewBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/admin/appeals/{id}/review."""

    decision: Literal["uphold", "overturn"]
    note: Details | None = None


class MyReportsQuery(msgspec.Struct):
    state: State | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class QueueQuery(msgspec.Struct):
    state: State | None = None
    """Default: the open and reviewing cases."""
    target_type: TargetType | None = None
    reason: Reason | None = None
    source: Source | None = None
    assignee: Annotated[int, Meta(ge=0, le=2**63 - 1)] | None = None
    """A reviewer's id; 0: the unassigned cases."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class PageQuery(msgspec.Struct):
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class AppealsQuery(msgspec.Struct):
    state: AppealState = "pending"
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class Target:
    """A report's target once resolved: what it is, whose it is, and what it was then."""

    type: str
    id: str
    subject_user_id: int | None
    room_id: int | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)


def cannot_report_self() -> DomainError:
    return validation_error({"target_id": ["You cannot report yourself."]})


def conflict(code: str, message: str) -> DomainError:
    return DomainError(code, message, status=409)


def check_appealable(case: dict[str, Any], user_id: int, now: dt.datetime) -> None:
    """Only the case's subject appeals, only an action in force, within APPEAL_WINDOW of it."""
    if case["subject_user_id"] != user_id:
        raise forbidden("Only the reported account may appeal.")
    if case["state"] != "actioned" or case["lifted_at"] is not None:
        raise conflict("nothing_to_appeal", "There is no action in force to appeal.")
    if now - case["resolved_at"] > APPEAL_WINDOW:
        raise conflict("appeal_window_closed", f"Appeals are taken within {APPEAL_WINDOW.days} days of the action.")


def outcome(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["state"] not in ("actioned", "dismissed"):
        return None
    return {"action": row["action"], "until": iso_timestamp(row["action_until"]),
            "resolved_at": iso_timestamp(row["resolved_at"]), "overturned": row["lifted_at"] is not None}  # fmt: skip


def report_item(row: dict[str, Any]) -> dict[str, Any]:
    """One of a reporter's reports, with what became of it."""
    return {
        "id": row["id"], "case_id": row["case_id"], "target_type": row["target_type"], "target_id": row["target_id"],
        "reason": row["reason"], "details": row["details"], "evidence_urls": list(row["evidence_urls"]),
        "state": row["state"], "outcome": outcome(row), "created_at": iso_timestamp(row["created_at"]),
        "updated_at": iso_timestamp(row["updated_at"]),
    }  # fmt: skip


def case_item(row: dict[str, Any]) -> dict[str, Any]:
    """A case as the staff queue shows it."""
    return {
        "id": row["id"], "target_type": row["target_type"], "target_id": row["target_id"], "room_id": row["room_id"],
        "subject_user_id": row["subject_user_id"], "subject_name": row.get("subject_name"),
        "source": row["source"], "state": row["state"], "high_priority": row["high_priority"],
        "reasons": list(row["reasons"]), "reporter_count": row["reporter_count"], "filter_hits": row["filter_hits"],
        "offender_strikes": row.get("strikes", 0), "assignee_id": row["assignee_id"], "snapshot": row["snapshot"],
        "action": row["action"], "action_until": iso_timestamp(row["action_until"]), "note": row["note"],
        "resolved_by": row["resolved_by"], "resolved_at": iso_timestamp(row["resolved_at"]),
        "lifted_at": iso_timestamp(row["lifted_at"]), "created_at": iso_timestamp(row["created_at"]),
        "updated_at": iso_timestamp(row["updated_at"]),
    }  # fmt: skip


def staff_report_item(row: dict[str, Any]) -> dict[str, Any]:
    """A report inside a case, for staff: who filed it as well."""
    return {**report_item(row), "reporter_id": row["reporter_id"]}


def appeal_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "case_id": row["case_id"], "user_id": row["user_id"], "details": row["details"],
        "state": row["state"], "reviewed_by": row["reviewed_by"], "reviewed_at": iso_timestamp(row["reviewed_at"]),
        "note": row["note"], "created_at": iso_timestamp(row["created_at"]),
    }  # fmt: skip


def action_text(action: str, until: dt.datetime | None) -> str:
    """What the subject is told (a `system` notification) when a case about them is actioned."""
    when = f" until {until.strftime('%Y-%m-%d %H:%M UTC')}" if until is not None else ""
    told = {
        "warn": "You received a warning from the moderators.",
        "mute": f"You are muted in every room{when}.",
        "suspend": f"Your account is suspended{when}.",
        "ban": "Your account is banned.",
        "delete_message": "A moderator deleted one of your chat messages.",
    }[action]
    return f"{told} You may appeal within {APPEAL_WINDOW.days} days."
