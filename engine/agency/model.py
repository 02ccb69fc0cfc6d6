"""Agencies (issue 13, docs/agency.md): request bodies with their limits, roles and who may do what,
how rows read on the wire. No I/O."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from engine.accounts.model import Country, Phone, iso_timestamp
from engine.errors import DomainError, forbidden, not_found, validation_error
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit

REVIEW_PERMISSION = "agencies.review"
NAME_MAX = 20
NAME_TAKEN = "The name has already been taken."
NAME_IMMUTABLE = "An agency's name cannot be changed."
# Roles inside an agency, highest first; the owner's is given by approval, never by a role change.
ROLES = ("owner", "admin", "moderator", "member")
AssignableRole = Literal["member", "moderator", "admin"]
RANK = {role: len(ROLES) - i for i, role in enumerate(ROLES)}

AgencyName = Annotated[
    str, Meta(min_length=1, max_length=NAME_MAX, extra={"msg": "The name field must be 1 to 20 characters."})
]
Url = Annotated[
    str,
    Meta(min_length=1, max_length=2048, pattern=r"^https?://\S+$",
         extra={"msg": "The field must be an http(s) URL of at most 2048 characters."}),
]  # fmt: skip
Address = Annotated[str, Meta(min_length=1, max_length=255)]
Description = Annotated[str, Meta(max_length=500)]
Rules = Annotated[str, Meta(max_length=2000)]
Reason = Annotated[str, Meta(min_length=1, max_length=500)]
UserId = Annotated[int, Meta(ge=1, le=2**63 - 1)]
SearchText = Annotated[
    str, Meta(min_length=3, max_length=NAME_MAX, extra={"msg": "The search field must be 3 to 20 characters."})
]
ReviewStatus = Literal["pending", "approved", "rejected"]


class CreateBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/v1/agencies: an application, reviewed by staff."""

    name: AgencyName
    """Unique without regard to case; never changes."""
    country: Country
    phone: Phone
    address: Address
    logo_url: Url
    id_front_url: Url
    """The uploaded ID document's front (stored sealed; shown to you and staff only)."""
    id_back_url: Url
    referee_user_id: UserId
    """The "Admin ID": your own id or a referee's; an existing user."""

    def check(self) -> None:
        if not self.name.strip() or self.name != self.name.strip():
            raise validation_error({"name": ["The name must not be blank or start or end with spaces."]})
        if not self.address.strip():
            raise validation_error({"address": ["The address field is required."]})


class UpdateBody(msgspec.Struct, omit_defaults=True):
    """PATCH /api/v1/agencies/{id} (the owner): the fields sent change; `name` is refused."""

    name: str | None = None
    """Never accepted: a name is immutable (422)."""
    logo_url: Url | None = None
    description: Description | None = None
    recruiting: bool | None = None
    member_limit: Annotated[int, Meta(ge=1, le=100000)] | None = None
    """At most AGENCY_MEMBER_LIMIT_MAX, and not below the current member count."""
    rules: Rules | None = None

    def changes(self, limit_max: int, members: int) -> dict[str, Any]:
        if self.name is not None:
            raise validation_error({"name": [NAME_IMMUTABLE]})
        if self.member_limit is not None and self.member_limit > limit_max:
            raise validation_error({"member_limit": [f"The member limit may be at most {limit_max}."]})
        if self.member_limit is not None and self.member_limit < members:
            raise validation_error({"member_limit": [f"The agency has {members} members already."]})
        columns = {"logo_url": self.logo_url, "description": self.description, "is_recruiting": self.recruiting,
                   "member_limit": self.member_limit, "rules": self.rules}  # fmt: skip
        return {column: value for column, value in columns.items() if value is not None}


class RejectBody(msgspec.Struct):
    reason: Reason
    """Required: the applicant is told it."""


class CloseBody(msgspec.Struct):
    reason: Annotated[str, Meta(max_length=500)] | None = None


class ListQuery(msgspec.Struct):
    search: SearchText | None = None
    """Part of the name (at least 3 characters, any case)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class AdminListQuery(msgspec.Struct):
    review_status: ReviewStatus | None = None
    """Only the applications in this state (default: all)."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


# --- who may see and do what ------------------------------------------------------------------


def is_public(agency: dict[str, Any]) -> bool:
    """Approved and open: what everyone may see and join."""
    return bool(agency["review_status"] == "approved" and agency["status"] != "closed")


def check_visible(agency: dict[str, Any] | None, viewer: int, staff: bool) -> dict[str, Any]:
    """The agency, if the viewer may see it: a pending, rejected or closed one only by its owner
    and staff (to others it does not exist)."""
    if agency is None or not (is_public(agency) or staff or agency["owner_id"] == viewer):
        raise not_found("Agency")
    return agency


def check_owner(agency: dict[str, Any], user_id: int) -> None:
    if agency["owner_id"] != user_id:
        raise forbidden("Only the agency's owner may do this.")


def check_open(agency: dict[str, Any]) -> None:
    if not is_public(agency):
        raise conflict("agency_not_open", "The agency is not approved and open.")


def conflict(code: str, message: str) -> DomainError:
    return DomainError(code, message, status=409)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- on the wire --------------------------------------------------------------------------------


def card(row: dict[str, Any]) -> dict[str, Any]:
    """An agency in the All Agencies list."""
    return {
        "id": row["id"], "name": row["name"], "logo_url": row["logo_url"], "country": row["country"],
        "member_count": row["member_count"], "member_limit": row["member_limit"], "recruiting": row["is_recruiting"],
    }  # fmt: skip


def public_view(row: dict[str, Any]) -> dict[str, Any]:
    """The Agency Public View: the card, its description and rules, the owner."""
    return {
        **card(row), "description": row["description"], "rules": row["rules"],
        "owner": {"id": row["owner_id"], "name": row["owner_name"], "avatar_image": row["owner_avatar"]},
        "created_at": iso_timestamp(row["created_at"]),
    }  # fmt: skip


def private_view(row: dict[str, Any], id_front_url: str | None, id_back_url: str | None) -> dict[str, Any]:
    """What the owner and staff see: the application too, with its ID documents unsealed."""
    return {
        **public_view(row), "review_status": row["review_status"], "rejection_reason": row["rejection_reason"],
        "status": row["status"], "phone": row["phone"], "address": row["address"],
        "referee_user_id": row["referee_user_id"], "id_front_url": id_front_url, "id_back_url": id_back_url,
        "reviewed_at": iso_timestamp(row["reviewed_at"]), "closed_at": iso_timestamp(row["closed_at"]),
    }  # fmt: skip


def review_text(name: str, approved: bool, reason: str | None) -> str:
    if approved:
        return f"Your agency {name} was approved."
    return f"Your agency application {name} was not approved: {reason}"


# --- membership (§2) ------------------------------------------------------------------------------

RequestStatus = Literal["pending", "approved", "rejected", "cancelled"]
InvitationStatus = Literal["pending", "accepted", "declined", "cancelled"]
MemberSearch = Annotated[str, Meta(min_length=1, max_length=50)]


class JoinRequestBody(msgspec.Struct):
    message: Annotated[str, Meta(max_length=500)] | None = None


class RequestRejectBody(msgspec.Struct):
    reason: Annotated[str, Meta(max_length=500)] | None = None


class InviteBody(msgspec.Struct):
    user_id: UserId


class RoleBody(msgspec.Struct):
    role: AssignableRole


class RequestsQuery(msgspec.Struct):
    status: RequestStatus = "pending"
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class InvitationsQuery(msgspec.Struct):
    status: InvitationStatus = "pending"
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class MembersQuery(msgspec.Struct):
    search: MemberSearch | None = None
    """A name prefix (any case) or an exact user id."""
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


def check_manager(role: str | None) -> None:
    """Owners, admins and moderators handle join requests and invite."""
    if role not in ("owner", "admin", "moderator"):
        raise forbidden("Only the agency's owner, admins and moderators may do this.")


def check_may_set_role(actor_role: str | None, target_role: str, new_role: str) -> None:
    """The owner sets any role below theirs; an admin sets member or moderator on those below admins."""
    if actor_role == "owner" and target_role != "owner":
        return
    if actor_role == "admin" and RANK[target_role] < RANK["admin"] and new_role != "admin":
        return
    raise forbidden("You may not change this member's role.")


def check_may_remove(actor_role: str | None, target_role: str) -> None:
    """Each manager removes members ranked below them; nobody removes the owner (the agency closes)."""
    if actor_role in ("owner", "admin", "moderator") and RANK[target_role] < RANK[actor_role]:
        return
    raise forbidden("You may not remove this member.")


def member_item(row: dict[str, Any], monthly_income: int | None = None) -> dict[str, Any]:
    """`monthly_income`: the member's coins in the current business month (engine/agency/income_store.py)."""
    return {"user_id": row["user_id"], "name": row["name"], "avatar_image": row["avatar_image"], "role": row["role"],
            "joined_at": iso_timestamp(row["joined_at"]), "monthly_income": monthly_income}  # fmt: skip


def request_item(row: dict[str, Any]) -> dict[str, Any]:
    """A join request as the agency's managers see it."""
    return {
        "id": row["id"], "agency_id": row["agency_id"], "status": row["status"], "message": row["message"],
        "reason": row["reason"], "user": {"id": row["user_id"], "name": row["user_name"],
                                          "avatar_image": row["user_avatar"]},
        "created_at": iso_timestamp(row["created_at"]), "processed_at": iso_timestamp(row["processed_at"]),
    }  # fmt: skip


def invitation_item(row: dict[str, Any]) -> dict[str, Any]:
    """An invitation as its invitee sees it."""
    return {
        "id": row["id"], "status": row["status"],
        "agency": {"id": row["agency_id"], "name": row["agency_name"], "logo_url": row["agency_logo"]},
        "invited_by": {"id": row["invited_by"], "name": row["inviter_name"]} if row["invited_by"] else None,
        "created_at": iso_timestamp(row["created_at"]), "processed_at": iso_timestamp(row["processed_at"]),
    }  # fmt: skip


def agency_ref(agency: dict[str, Any]) -> dict[str, Any]:
    return {"id": agency["id"], "name": agency["name"]}


class LeaveBody(msgspec.Struct):
    reason: Reason
    """Why you leave (required; the owner, or staff for the owner, read it)."""
