"""Typed schema of the income targets' server→client events (realtime-contract §3, `income_target.*`),
sent by the target watcher (engine/agency/income_targets.py) once per (month, agency, member, target)
to the sockets of the user it concerns (the Socket.IO room `user:<id>`), on any engine process."""

from __future__ import annotations

import msgspec

from engine.agency.messages import AgencyRef, Person


class TargetRef(msgspec.Struct, forbid_unknown_fields=True):
    id: int
    coins: int
    reward_usd_cents: int
    valid_hours: int


class MemberCompleted(msgspec.Struct, forbid_unknown_fields=True):
    """You crossed a monthly coin target (and its valid hours) in your agency → you."""

    agency: AgencyRef
    month: str
    """The business month, YYYY-MM (BUSINESS_TIMEZONE)."""
    target: TargetRef
    coins: int
    """Your coins in the month when the crossing was seen."""


class Completed(MemberCompleted):
    """A member of your agency crossed a monthly coin target → the agency's owner."""

    member: Person


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "income_target.member_completed": MemberCompleted,
    "income_target.completed": Completed,
}
