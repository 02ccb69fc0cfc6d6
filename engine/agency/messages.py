"""Typed schema of the agency domain's server→client events (realtime-contract §3, `agency.*`).

Each goes to the sockets of the user it concerns (the Socket.IO room `user:<id>`), on whichever
engine process holds them.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Event(msgspec.Struct, forbid_unknown_fields=True):
    pass


class AgencyRef(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str


class AgencyDissolved(Event):
    """The agency was closed: the recipient is no longer a member of it."""

    agency: AgencyRef
    by: Literal["owner", "staff"]
    reason: str | None


class Person(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    name: str
    avatar_image: str | None


class JoinRequest(Event):
    """Someone asked to join the agency → its owner, admins and moderators."""

    agency: AgencyRef
    request_id: int
    user: Person
    message: str | None


class JoinRequestApproved(Event):
    """Your request to join was approved: you are a member now → you."""

    agency: AgencyRef
    request_id: int


class JoinRequestRejected(Event):
    """Your request to join was not approved → you."""

    agency: AgencyRef
    request_id: int
    reason: str | None


class Invitation(Event):
    """An agency invites you (`GET /api/v1/me/agency-invitations`) → you."""

    agency: AgencyRef
    invitation_id: int
    invited_by: Person


class MemberJoined(Event):
    """A member joined (by a request approved or an invitation accepted) → every member, the new one too."""

    agency: AgencyRef
    user: Person
    role: str
    member_count: int


class MemberLeft(Event):
    """A member left the agency (their leave request approved) → its owner, admins and moderators."""

    agency: AgencyRef
    user_id: int
    member_count: int


class MemberKicked(Event):
    """A member was removed → the removed user, and the agency's owner, admins and moderators."""

    agency: AgencyRef
    user_id: int
    by_user_id: int
    member_count: int


SERVER_EVENTS: dict[str, type[Event]] = {
    "agency.dissolved": AgencyDissolved,
    "agency.join_request": JoinRequest,
    "agency.join_request_approved": JoinRequestApproved,
    "agency.join_request_rejected": JoinRequestRejected,
    "agency.invitation": Invitation,
    "agency.member_joined": MemberJoined,
    "agency.member_left": MemberLeft,
    "agency.member_kicked": MemberKicked,
}
