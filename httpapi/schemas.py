"""The answers of the REST routes as msgspec types, for docs/openapi.json.

The domain actions still build these bodies as dicts; these types say what is on the wire, and the
REST fuzzing (tests/test_openapi_fuzz.py) checks every answer against them. Timestamps are
ISO 8601 strings; legacy dates are `YYYY-MM-DD` (or a timestamp, as the legacy API had them).
Fields that are not declared may appear too (a type describes what clients may rely on).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec

Timestamp = str


class Status(msgspec.Struct):
    status: str


class Message(msgspec.Struct):
    message: str


class StatusMessage(msgspec.Struct):
    status: Literal["success"]
    message: str


class Tokens(msgspec.Struct):
    """Log-in answer: a short-lived access token (as `token` for legacy clients and `access_token`)."""

    token: str
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    """Access token lifetime in seconds."""
    refresh_token: str


class LoginTokens(Tokens, omit_defaults=True):
    """Log-in answer; `deletion_cancelled` is there (true) when this login cancelled a pending deletion."""

    deletion_cancelled: bool = False


class RegisteredUser(msgspec.Struct):
    id: int
    signature: str


class Registered(msgspec.Struct):
    user: RegisteredUser
    token: str
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    refresh_token: str


class LoggedOut(msgspec.Struct):
    logged_out: bool


class PublicUser(msgspec.Struct):
    """What anyone may see of a user: never phone, email, date of birth or balances."""

    id: int
    name: str
    signature: str | None
    country: str | None
    gender: str
    avatar_image: str | None
    animated_src: str | None
    static_src: str | None
    vip_level: int
    wealth_xp: str
    charm_xp: str
    room_xp: str
    wealth_level: int
    """The wealth level wealth_xp reaches (GET /api/v1/levels?type=wealth)."""
    charm_level: int
    is_blocked: bool
    created_at: str | None


class SocialLink(msgspec.Struct):
    kind: str
    url: str


class Relationship(msgspec.Struct):
    """How the caller stands to the user."""

    following: bool
    followed_by: bool
    friend: bool
    """Both follow each other."""


class UserProfile(PublicUser):
    """A user's profile as the caller may see it (404 through a block, as for a missing user)."""

    bio: str | None
    interests: list[str]
    social_links: list[SocialLink]
    birthday: str | None
    """YYYY-MM-DD, MM-DD or null, as the user's `birthday_visibility` says."""
    followers_count: int
    following_count: int
    friends_count: int
    appreciations: int
    """Appreciation likes received, all time (one per user per business day)."""
    equipped_badges: list[EquippedBadge]
    """The badges the user wears, in order."""
    relationship: Relationship
    online: bool | None
    """Null when the user's `online_status` setting hides it from the caller."""
    room_id: str | None
    """The room the user is in: null when not in one, when it is hidden or locked, or when their
    `current_room` setting hides it from the caller."""


class UserCard(msgspec.Struct, omit_defaults=True):
    """A user in a list or a search result."""

    id: int
    name: str
    signature: str | None
    avatar_image: str | None
    country: str | None
    gender: str
    vip_level: int
    following: bool | None = None
    """The caller follows them."""
    since: Timestamp | None = None
    """When the edge (follow, block) was made."""


class UserPage(msgspec.Struct):
    items: list[UserCard]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class BlockedUser(UserCard):
    reason: str | None = None


class BlockPage(msgspec.Struct):
    items: list[BlockedUser]
    next_cursor: str | None


class Suggestion(UserCard):
    reason: Literal["friends_of_friends", "met_in_room"] = "friends_of_friends"
    mutual_friends: int = 0


class SuggestionPage(msgspec.Struct):
    items: list[Suggestion]
    next_cursor: None
    """Always null: suggestions are one list, computed on each call."""


class FollowState(msgspec.Struct):
    user_id: int
    following: bool
    followed_by: bool
    friend: bool
    followers_count: int


class BlockState(msgspec.Struct):
    user_id: int
    blocked: bool


class NotificationActor(msgspec.Struct):
    id: int
    name: str
    avatar_image: str | None


class Notification(msgspec.Struct):
    id: int
    kind: Literal["follow", "dm", "gift", "system", "agency"]
    actor: NotificationActor | None
    """Who caused it, with their current name and avatar (null: nobody, or a deleted account)."""
    target_type: str | None
    target_id: str | None
    text: str
    data: dict[str, Any]
    created_at: Timestamp
    read_at: Timestamp | None


class NotificationPage(msgspec.Struct):
    items: list[Notification]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class NotificationsRead(msgspec.Struct):
    marked: int
    """How many were unread and are read now (ids not yours, or already read, change nothing)."""
    unread_count: int


class UnreadCount(msgspec.Struct):
    unread_count: int


class DmPeer(msgspec.Struct):
    id: int
    name: str
    signature: str | None
    avatar_image: str | None


class DirectMessage(msgspec.Struct):
    id: int
    thread_id: int
    sender_id: int
    client_id: str
    """The sender's idempotency key."""
    text: str | None
    image_url: str | None
    created_at: Timestamp
    unsent: bool
    """Unsent by its sender: text and image_url are null."""


class DmThread(msgspec.Struct):
    id: int
    peer: DmPeer
    status: Literal["open", "request"]
    """request: the peer's "who may message me" setting did not let the requester in; the requester may
    send one message, and the recipient replies after accepting."""
    requester_id: int
    created_at: Timestamp
    accepted_at: Timestamp | None
    last_message: DirectMessage | None
    unread_count: int
    """Messages from the peer you have not marked seen."""
    last_read_message_id: int
    peer_last_read_message_id: int
    """How far the peer has seen (read receipts)."""


class DmThreadPage(msgspec.Struct):
    items: list[DmThread]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class DirectMessagePage(msgspec.Struct):
    items: list[DirectMessage]
    has_more: bool
    """More messages in the direction of the page (older with `before`, newer with `after`)."""


class DmSeen(msgspec.Struct):
    thread_id: int
    last_read_message_id: int
    unread_count: int


class OfficialMessage(msgspec.Struct):
    id: int
    audience: Literal["user", "everyone"]
    user_id: int | None
    title: str
    text: str
    image_url: str | None
    created_at: Timestamp


class OfficialMessagePage(msgspec.Struct):
    items: list[OfficialMessage]
    next_cursor: str | None


class SentOfficialMessage(OfficialMessage):
    sender_id: int | None


class SentOfficialMessagePage(msgspec.Struct):
    items: list[SentOfficialMessage]
    next_cursor: str | None


class ProfileCompletion(msgspec.Struct):
    percent: int
    missing: list[Literal["avatar", "bio", "interests", "birthday", "country", "gender"]]


class RolePermission(msgspec.Struct):
    name: str


class Role(msgspec.Struct):
    id: int
    name: str
    permissions: list[RolePermission]


class FramePivot(msgspec.Struct):
    user_id: int
    frame_id: int
    expires_at: Timestamp | None
    quantity: int
    is_active: bool


class ActiveFrame(msgspec.Struct):
    animated_src: str | None
    static_src: str | None
    pivot: FramePivot


class LegacyRoom(msgspec.Struct):
    id: int
    user_id: int
    name: str
    country: str | None
    type: int
    is_hidden: bool
    created_at: Timestamp | None


class Me(msgspec.Struct):
    """The caller's own account (the legacy `GET /api/user` object)."""

    id: int
    name: str
    signature: str | None
    phone: str | None
    email: str | None
    dob: str | None
    status: str
    coin_balance: int
    diamond_balance: int
    vip_level: int
    can: dict[str, bool] | list[str]
    """Each permission the caller holds, as `{name: true}` (an empty list when none)."""
    roles: list[Role]
    active_frame: ActiveFrame | None
    room: LegacyRoom | None
    bio: str | None
    interests: list[str]
    social_links: list[SocialLink]
    birthday_visibility: Literal["full", "month_day", "hidden"]


class PolicyVersion(msgspec.Struct):
    policy: str
    version: str


class MeV1(Me):
    """`GET /api/v1/me`: the account, with the follow counts."""

    followers_count: int
    following_count: int
    friends_count: int
    consents_due: list[PolicyVersion]
    """Policies in force (CONSENT_POLICIES) whose current version you have not accepted: accept each
    with `POST /api/v1/me/consents`."""


class RoomOwner(msgspec.Struct):
    id: int
    name: str
    signature: str | None
    avatar_image: str | None


class LegacyRoomListing(msgspec.Struct):
    """A room as the legacy list and view show it."""

    id: int
    user_id: int
    name: str
    country: str | None
    type: int
    is_hidden: bool
    seat_count: int
    tags: list[str]
    room_level: int
    room_xp: int
    user: RoomOwner


class Room(msgspec.Struct):
    id: int
    user_id: int
    name: str
    description: str | None
    category: str | None
    region: str | None
    country: str | None
    tags: list[str]
    seat_count: int
    announcement: str | None
    type: int
    is_hidden: bool
    is_closed: bool
    closed_at: Timestamp | None
    has_password: bool
    live_members: int
    """Members in the room now."""
    room_level: int
    """The room level its room XP reaches (GET /api/v1/levels?type=room)."""
    room_xp: int
    """Coins spent on gifts in the room."""
    user: RoomOwner


class RoomClosed(msgspec.Struct):
    id: int
    is_closed: bool


class RoomAdmin(msgspec.Struct):
    user_id: int
    name: str
    signature: str | None
    avatar_image: str | None
    granted_by: int | None
    granted_at: dt.datetime


class RoomAdminChange(msgspec.Struct):
    room_id: int
    user_id: int
    admin: bool


class RoomBan(msgspec.Struct):
    id: int
    user_id: int
    name: str
    signature: str | None
    banned_by: int | None
    reason: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None


class BanCreated(msgspec.Struct):
    id: int
    room_id: int
    user_id: int


class BanLifted(msgspec.Struct):
    room_id: int
    user_id: int
    lifted: bool


class UserStatusChanged(msgspec.Struct):
    id: int
    status: Literal["active", "suspended", "banned"]


class RoleChanged(msgspec.Struct):
    id: int
    role: str
    granted: bool


class AuditEntry(msgspec.Struct):
    id: int
    at: dt.datetime
    actor_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    request_id: str | None
    details: Any


class SignedUpload(msgspec.Struct):
    """ImageKit upload parameters for the client to send with its upload."""

    signature: str
    expire: int
    token: str
    filename: str
    tag: list[str]


class Balances(msgspec.Struct):
    coins: int
    diamonds: int


class LedgerEntry(msgspec.Struct):
    id: int
    txn_id: str
    currency: Literal["coins", "diamonds", "usd_cents"]
    """`usd_cents`: an agency member's salary, in US dollar cents."""
    amount: int
    """Signed: positive is a credit."""
    kind: str
    created_at: Timestamp | None


class LedgerPage(msgspec.Struct):
    items: list[LedgerEntry]
    next_cursor: int | None
    """Pass as `cursor` for the next (older) page; null on the last page."""


class Exchanged(msgspec.Struct):
    diamonds_used: int
    coins_received: int
    balances: dict[str, int]
    transaction_id: str | None
    replay: bool


class Adjusted(msgspec.Struct):
    user_id: int
    currency: Literal["coins", "diamonds"]
    balance: int | None
    replay: bool


class Gift(msgspec.Struct):
    id: int
    name: str
    price: int
    """In coins."""
    starts_at: Timestamp | None
    ends_at: Timestamp | None


class Package(msgspec.Struct):
    id: int
    name: str
    coins: int
    bonus_coins: int
    price_cents: int
    currency: str
    country: str | None


class Order(msgspec.Struct):
    id: str
    user_id: int
    package_id: int | None
    coins: int
    bonus_coins: int
    price_cents: int
    currency: str
    provider: str
    status: str


class WebhookAck(msgspec.Struct, omit_defaults=True):
    received: bool
    duplicate: bool = False
    ignored: bool = False
    status: str | None = None
    """The order's status after this event."""


class MallGoods(msgspec.Struct):
    id: int
    name: str
    price: str
    """In coins, with two decimals (as the legacy API showed it)."""


class MallItem(MallGoods):
    created_at: Timestamp | None


class OwnedItem(MallGoods):
    pivot: dict[str, Any]


class Purchased(msgspec.Struct, omit_defaults=True):
    message: str
    replay: bool = False
    expires_at: Timestamp | None = None


class Reseller(msgspec.Struct):
    id: int
    name: str
    coin_balance: int


class CoinRequest(msgspec.Struct):
    id: int
    amount: int
    type: int
    status: int
    """The legacy codes: 1 pending, 2 approved, 3 rejected."""
    user_id: int
    """Who asked."""
    requested_from: int
    """The reseller asked."""
    created_at: Timestamp | None
    updated_at: Timestamp | None


class Readiness(msgspec.Struct):
    status: Literal["ok", "unavailable", "draining"]
    checks: dict[str, Literal["ok", "down"]] | None = None


class ConsentRecord(msgspec.Struct):
    policy: str
    version: str
    source: Literal["register", "accepted", "legacy_implied"]
    """How it was given: at v1 registration, later, or implied by the legacy registration screen."""
    accepted_at: Timestamp


class Consents(msgspec.Struct):
    items: list[ConsentRecord]
    due: list[PolicyVersion]


class ExportProgress(msgspec.Struct):
    tables_done: int
    tables_total: int
    percent: int


class ExportJob(msgspec.Struct):
    id: int
    state: Literal["queued", "running", "done", "failed"]
    progress: ExportProgress
    rows_exported: int
    archive_bytes: int | None
    created_at: Timestamp
    finished_at: Timestamp | None
    download_url: str | None
    """When done: a signed link (no token needed) to the gzip JSON archive, valid until `download_expires_at`."""
    download_expires_at: Timestamp | None


class DeletionScheduled(msgspec.Struct):
    deletion_scheduled_for: Timestamp
    """When the account is purged, unless you log in before then."""
    cancel: str


class ActivityUser(msgspec.Struct):
    id: int
    name: str
    avatar_image: str | None


class ActivityItem(msgspec.Struct):
    """One thing the user did (or that happened to them, for a gift received)."""

    id: int
    kind: Literal["room_visit", "gift_sent", "gift_received", "follow", "level_up"]
    at: Timestamp
    """When it happened: a visit when it ended, a gift when it was sent."""
    room_id: str | None
    user: ActivityUser | None
    """The other side: the followed user, a gift's recipient (gift_sent) or sender (gift_received)."""
    coins: int | None
    """A gift's value in coins (price × quantity); null for other kinds."""
    duration_seconds: int | None
    """A room visit: from join to leave."""
    mic_seconds: int | None
    """A room visit: the time spent on a seat."""
    gift_id: str | None
    quantity: int | None
    level_type: Literal["wealth", "charm", "room"] | None = None
    """A level_up: which level rose (room: the user's room, `room_id`)."""
    level: int | None = None
    """A level_up: the level reached."""


class ActivityPage(msgspec.Struct):
    items: list[ActivityItem]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class FollowersWeek(msgspec.Struct):
    week_start: str
    """The week's Monday (UTC), YYYY-MM-DD."""
    gained: int
    lost: int
    net: int
    followers: int
    """Followers at the week's end (now, for the current week)."""


class UserStats(msgspec.Struct):
    """Totals over the activity log kept (since `since`: ACTIVITY_RETENTION_DAYS)."""

    since: str
    room_visits: int
    rooms_visited: int
    """Distinct rooms."""
    minutes_in_rooms: int
    minutes_on_mic: int
    seconds_on_mic: int
    gifts_sent: int
    gifts_sent_coins: int
    gifts_received: int | None
    """Null when the user's `received_gifts` setting hides it from the caller."""
    gifts_received_coins: int | None
    followers_trend: list[FollowersWeek] | None
    """The last 8 weeks, oldest first; null when the user's `followers_list` setting hides it."""


# --- reports and moderation (issue 12 §4) ---------------------------------------------------------


class ReportOutcome(msgspec.Struct):
    action: Literal["warn", "mute", "suspend", "ban", "delete_message", "dismiss"]
    until: Timestamp | None
    """When a mute or suspension ends."""
    resolved_at: Timestamp
    overturned: bool
    """An appeal lifted the action."""


class Report(msgspec.Struct):
    id: int
    case_id: int
    """The moderation case the report belongs to (one per target while it is open)."""
    target_type: Literal["user", "room", "message", "dm_message"]
    target_id: str
    reason: str
    details: str | None
    evidence_urls: list[str]
    state: Literal["open", "reviewing", "actioned", "dismissed"]
    outcome: ReportOutcome | None
    """Null until the case is resolved."""
    created_at: Timestamp
    updated_at: Timestamp


class FiledReport(Report):
    merged: bool
    """True: merged into your open report on the same target (its reason, details, evidence updated)."""


class ReportPage(msgspec.Struct):
    items: list[Report]
    next_cursor: str | None


class StaffReport(Report):
    reporter_id: int


class StaffReportPage(msgspec.Struct):
    items: list[StaffReport]
    next_cursor: str | None


class ModerationCase(msgspec.Struct):
    id: int
    target_type: Literal["user", "room", "message", "dm_message"]
    target_id: str
    room_id: int | None
    subject_user_id: int | None
    """The account an action falls on: the user reported, the room's owner, the message's sender."""
    subject_name: str | None
    source: Literal["report", "word_filter", "report_threshold"]
    state: Literal["open", "reviewing", "actioned", "dismissed"]
    high_priority: bool
    reasons: list[str]
    reporter_count: int
    filter_hits: int
    offender_strikes: int
    """The subject's actioned cases (not overturned): repeat offenders come first among equals."""
    assignee_id: int | None
    snapshot: dict[str, Any]
    """The target as it was when first reported (a message's text and sender)."""
    action: str | None
    action_until: Timestamp | None
    note: str | None
    resolved_by: int | None
    resolved_at: Timestamp | None
    lifted_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class ResolvedCase(ModerationCase):
    applied: bool
    """False when there was nothing left to act on (a message the room's history no longer holds)."""


class ModerationQueue(msgspec.Struct):
    items: list[ModerationCase]
    next_cursor: str | None


class Appeal(msgspec.Struct):
    id: int
    case_id: int
    user_id: int
    details: str
    state: Literal["pending", "upheld", "overturned"]
    reviewed_by: int | None
    reviewed_at: Timestamp | None
    note: str | None
    created_at: Timestamp


class ReviewedAppeal(Appeal):
    lifted: bool
    """Whether overturning lifted the action (a warning has nothing to lift; a deleted message is not restored)."""


class AppealPage(msgspec.Struct):
    items: list[Appeal]
    next_cursor: str | None


# --- agencies (issue 13) --------------------------------------------------------------------------


class AgencyCard(msgspec.Struct):
    id: int
    name: str
    logo_url: str | None
    country: str | None
    member_count: int
    member_limit: int
    recruiting: bool


class AgencyPage(msgspec.Struct):
    items: list[AgencyCard]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class AgencyOwner(msgspec.Struct):
    id: int
    name: str
    avatar_image: str | None


class Agency(AgencyCard):
    """The Agency Public View; its owner and staff also get the application fields (`review_status`,
    `status`, `phone`, `address`, `referee_user_id`, `id_front_url`, `id_back_url`, …), nobody else."""

    description: str | None
    rules: str | None
    owner: AgencyOwner
    created_at: Timestamp


class AgencyPrivate(Agency):
    """An agency as its owner and staff see it: with the application and its ID documents."""

    review_status: Literal["pending", "approved", "rejected"]
    rejection_reason: str | None
    status: Literal["active", "inactive", "suspended", "closed"]
    phone: str | None
    address: str | None
    referee_user_id: int | None
    id_front_url: str | None
    id_back_url: str | None
    reviewed_at: Timestamp | None
    closed_at: Timestamp | None


class AgencyPrivatePage(msgspec.Struct):
    items: list[AgencyPrivate]
    next_cursor: str | None


class AgencyPerson(msgspec.Struct):
    id: int
    name: str
    avatar_image: str | None


class AgencyJoinRequest(msgspec.Struct):
    id: int
    agency_id: int
    status: Literal["pending", "approved", "rejected", "cancelled"]
    message: str | None
    reason: str | None
    """Why it was rejected, when the manager said."""
    user: AgencyPerson
    created_at: Timestamp
    processed_at: Timestamp | None


class AgencyJoinRequestPage(msgspec.Struct):
    items: list[AgencyJoinRequest]
    next_cursor: str | None


class AgencyRefCard(msgspec.Struct):
    id: int
    name: str
    logo_url: str | None


class AgencyInviter(msgspec.Struct):
    id: int
    name: str


class AgencyInvitation(msgspec.Struct):
    id: int
    status: Literal["pending", "accepted", "declined", "cancelled"]
    agency: AgencyRefCard
    invited_by: AgencyInviter | None
    created_at: Timestamp
    processed_at: Timestamp | None


class AgencyInvitationPage(msgspec.Struct):
    items: list[AgencyInvitation]
    next_cursor: str | None


class AgencyMember(msgspec.Struct):
    user_id: int
    name: str
    avatar_image: str | None
    role: Literal["owner", "admin", "moderator", "member"]
    joined_at: Timestamp
    monthly_income: int | None
    """Coins earned in this agency in the current business month (BUSINESS_TIMEZONE)."""


class AgencyMemberPage(msgspec.Struct):
    items: list[AgencyMember]
    next_cursor: str | None


class AgencyMemberRemoved(msgspec.Struct):
    user_id: int
    removed: bool
    reason: Literal["kicked"]
    member_count: int


class AgencyLeaveRequest(AgencyJoinRequest):
    """A leave request: `message` is the member's reason; `reason` the decider's, when rejected."""


class AgencyLeaveRequestPage(msgspec.Struct):
    items: list[AgencyLeaveRequest]
    next_cursor: str | None


# --- agency analytics and leaderboards (issue 13 §4) ---------------------------------------------

BusinessDate = Annotated[dt.date, msgspec.Meta(description="A business day (BUSINESS_TIMEZONE).")]


class AgencyAnalyticsDay(msgspec.Struct):
    date: BusinessDate
    members: int
    """Members at the day's end."""
    new_members: int
    """Memberships begun that day."""
    left_members: int
    """Memberships ended that day (left, removed, agency closed)."""
    coins: int
    """What gifts to the agency's members were worth to them that day."""
    mic_seconds: int
    active_members: int
    """Members with any gift income or mic time that day."""


class AgencyAnalyticsTotals(msgspec.Struct):
    members_at_start: int
    """Members at the end of the day before `from`."""
    members_at_end: int
    new_members: int
    left_members: int
    coins: int
    mic_seconds: int
    active_members: int
    """Members with any gift income or mic time in the range."""


class AgencyTopMember(msgspec.Struct):
    user_id: int
    name: str
    avatar_image: str | None
    coins: int


class AgencyAnalytics(msgspec.Struct):
    agency_id: int
    from_: BusinessDate = msgspec.field(name="from")
    to: BusinessDate
    timezone: str
    days: list[AgencyAnalyticsDay]
    """One row per day of the range, oldest first."""
    totals: AgencyAnalyticsTotals
    top_members: list[AgencyTopMember]
    """The 10 members who earned the most coins in the range, ties by user id."""


class AgencyMemberActivity(msgspec.Struct):
    user_id: int
    name: str
    avatar_image: str | None
    role: Literal["owner", "admin", "moderator", "member"] | None
    """Their role now; null once they left the agency."""
    active_days: int
    coins: int
    mic_seconds: int
    valid_seconds: int
    """Each day's mic time capped at `agency_valid_seconds_per_day`, summed."""


class AgencyActiveDaysPage(msgspec.Struct):
    from_: BusinessDate = msgspec.field(name="from")
    to: BusinessDate
    items: list[AgencyMemberActivity]
    next_cursor: str | None


class AgencyComparedMember(msgspec.Struct):
    user_id: int
    name: str
    avatar_image: str | None
    coins: int
    mic_seconds: int
    valid_seconds: int
    active_days: int
    daily_coins: list[int]
    """The coins of each day of `dates`, in order."""


class AgencyComparison(msgspec.Struct):
    from_: BusinessDate = msgspec.field(name="from")
    to: BusinessDate
    dates: list[BusinessDate]
    members: list[AgencyComparedMember]
    """In the order of `user_ids`."""


class AgencyRankingItem(msgspec.Struct):
    rank: int
    agency_id: int
    name: str
    logo_url: str | None
    country: str | None
    coins: int


class AgencyRankingPage(msgspec.Struct):
    month: str
    items: list[AgencyRankingItem]
    next_cursor: str | None


class AgencyMemberRankingItem(msgspec.Struct):
    rank: int
    user_id: int
    name: str
    avatar_image: str | None
    coins: int


class AgencyMemberRankingPage(msgspec.Struct):
    month: str
    items: list[AgencyMemberRankingItem]


# --- agency settlement (issue 13 §3, engine/agency/settlement.py) ------------------------------------


class AgencySettlementRun(msgspec.Struct):
    month: str
    """The business month, YYYY-MM (BUSINESS_TIMEZONE)."""
    state: Literal["running", "closed"]
    """`running`: started and not finished (a run killed half way, resumed by the next); `closed`: paid."""
    attempts: int
    members: int
    """(agency, member) pairs paid for the month (leavers' final settlements included); while the run is
    `running`, what its rows paid so far."""
    usd_cents: int
    """Target rewards paid to members (USD cents)."""
    diamonds: int
    """Excess coins × IECP credited to members as diamonds."""
    agencies: int
    agency_usd_cents: int
    """The owners' shares (ASP) paid, less the advances drawn on them."""
    started_at: Timestamp
    closed_at: Timestamp | None


class AgencySettlementRunPage(msgspec.Struct):
    items: list[AgencySettlementRun]
    next_cursor: str | None


class AgencyMemberSettlement(msgspec.Struct):
    id: int
    month: str
    agency_id: int
    user: AgencyPerson
    kind: Literal["month_end", "leaver"]
    """`leaver`: the final settlement when the membership ended; `month_end`: what the month still owed."""
    coins: int
    """The member's coins in this agency for the month, when this row was computed."""
    valid_seconds: int
    reached_coins: int
    """The highest target reached (0: none)."""
    excess_coins: int
    reward_total_usd_cents: int
    """What the month's figures pay in rewards in all; `reward_usd_cents` is what this row paid."""
    iecp_total_diamonds: int
    reward_usd_cents: int
    iecp_diamonds: int
    iecp_state: Literal["none", "pending", "done"]
    """The live diamond credit: `pending` until the wallet applied it."""
    created_at: Timestamp


class AgencyMemberSettlementPage(msgspec.Struct):
    items: list[AgencyMemberSettlement]
    next_cursor: str | None


# --- agency member income, targets and salary exchange (issue 13 §3) ------------------------------


class IncomeAgency(msgspec.Struct):
    id: int
    name: str


class IncomeTarget(msgspec.Struct):
    id: int
    coins: int
    reward_usd_cents: int
    valid_hours: int
    """Valid hours the month must also hold (0: none)."""
    reached: bool
    progress_coins: int
    """The month's coins toward this target (at most its coins)."""
    remaining_coins: int


class IncomeDay(msgspec.Struct):
    """One business day with income or mic time."""

    date: str
    """YYYY-MM-DD in BUSINESS_TIMEZONE."""
    mic_seconds: int
    """Time on a mic seat ("Duration")."""
    duration_hours: float
    coins: int
    """Coins earned from gifts."""
    valid_seconds: int
    """Mic time that counts toward targets: capped per day by `agency_valid_seconds_per_day`."""
    valid_hours: float


class MemberIncome(msgspec.Struct):
    """My Income: one business month of the caller in the agency they were in then."""

    month: str
    agency: IncomeAgency
    monthly_total_salary_usd_cents: int
    """The month's target rewards under the current targets and settings (an estimate until settled)."""
    settled: bool
    """Whether the month-end settlement has paid this month (`agency_settlement` ledger transactions)."""
    paid_usd_cents: int
    surplus_salary_usd_cents: int
    """The caller's USD salary balance: what may still be exchanged for coins."""
    exchanged_usd_cents: int
    """Salary exchanged for coins in this month."""
    coins: int
    mic_seconds: int
    valid_seconds: int
    valid_hours: float
    valid_seconds_per_day: int
    targets_cumulative: bool
    salary_coins_per_usd: int
    targets: list[IncomeTarget]
    next_target: IncomeTarget | None
    days: list[IncomeDay]


class SalaryExchanged(msgspec.Struct):
    exchange_id: int
    usd_cents: int
    coins: int
    coins_per_usd: int
    status: Literal["held", "credited"]
    surplus_salary_usd_cents: int
    balances: Balances
    replay: bool
    """True when the idempotency key was used before: this is the first exchange's result."""
    created_at: Timestamp


class AgencyTargetLevel(msgspec.Struct):
    id: int
    coins: int
    reward_usd_cents: int
    valid_hours: int


class AgencyTargets(msgspec.Struct):
    items: list[AgencyTargetLevel]
    """The active targets, lowest first (at most 10: not paged)."""
    cumulative: bool
    """`agency_targets_cumulative`: every target reached pays, or only the highest."""


class AgencyShare(msgspec.Struct):
    agency_id: int
    share_bps: int
    """The agency's ASP in force (its own, or the default)."""
    custom: bool
    default_bps: int
    max_bps: int


# --- agency owner income, advances and salary exchange (issue 13 §3) ------------------------------


class AgencyWallet(msgspec.Struct):
    coins: int
    """The agency's coin balance: its gift commission, less what salary exchanges took."""
    usd_cents: int
    """The agency's USD balance: advances, settled shares, approved salary exchanges."""


class AgencyHostIncome(msgspec.Struct):
    user_id: int
    name: str
    avatar_image: str | None
    coins: int
    """The host's coins in the month (gift income while a member of this agency)."""
    agency_share_coins: int
    """ASP × coins (2 % of 10,000 = 200 coins)."""
    agency_share_usd_cents: int
    """The same share in dollar cents (at agency_coins_per_usd)."""


class AgencyHostIncomePage(msgspec.Struct):
    items: list[AgencyHostIncome]
    next_cursor: str | None


class AgencyIncome(msgspec.Struct):
    """The Members Income page of one business month."""

    agency_id: int
    month: str
    monthly_coins: int
    """Every member's coins in the month."""
    share_bps: int
    """The agency's ASP, in basis points (200 = 2 %)."""
    estimated_salary_usd_cents: int
    """The owner's ASP of the month's coins, in dollar cents (paid by the platform at month end)."""
    salary_in_advance_usd_cents: int
    """The month's advances already paid."""
    balance_usd_cents: int
    """Estimated salary − advances: what the month-end settlement still pays."""
    advance_limit_usd_cents: int
    """The most this month's advances may add up to (agency_advance_max_bps of the estimate)."""
    wallet: AgencyWallet
    hosts: AgencyHostIncomePage


class AgencySalaryAdvance(msgspec.Struct):
    id: int
    agency_id: int
    month: str
    usd_cents: int
    requested_by: int | None
    transaction_id: str
    created_at: Timestamp


class AgencySalaryAdvanced(AgencySalaryAdvance):
    replay: bool
    """True when the idempotency key was used before: this is the first advance, nothing new was paid."""


class AgencySalaryAdvancePage(msgspec.Struct):
    items: list[AgencySalaryAdvance]
    next_cursor: str | None


class AgencyName(msgspec.Struct):
    id: int
    name: str


class AgencySalaryExchange(msgspec.Struct):
    id: int
    agency: AgencyName
    coins: int
    usd_cents: int
    coins_per_usd: int
    """The rate fixed at the request."""
    status: Literal["pending", "approved", "rejected"]
    reason: str | None
    """Why staff rejected it."""
    requested_by: int | None
    processed_by: int | None
    created_at: Timestamp
    processed_at: Timestamp | None


class AgencySalaryExchangeRequested(AgencySalaryExchange):
    replay: bool
    """True when the idempotency key was used before: this is the first request."""


class AgencySalaryExchangePage(msgspec.Struct):
    items: list[AgencySalaryExchange]
    next_cursor: str | None


# --- gift statistics and appreciation (issue 14 §5; docs/progression.md) -------------------------


class GiftTally(msgspec.Struct):
    gift_id: int
    name: str | None
    icon: str | None
    """The gift's static image."""
    count: int
    """Gifts given: the quantities, once per recipient."""
    coins: int
    """Their value: price × quantity, once per recipient."""


class GiftStatsSide(msgspec.Struct):
    count: int
    coins: int
    """All of the period's gifts in this direction (the `gifts` list holds the top `limit`)."""
    gifts: list[GiftTally]


class GiftStatsUser(msgspec.Struct):
    id: int
    name: str
    avatar_image: str | None


class GiftStatsPerson(msgspec.Struct):
    user: GiftStatsUser | None
    """Null when hidden: a user blocked either way, or an account that is gone (their coins still count)."""
    hidden: bool
    count: int
    coins: int


class GiftStatsDay(msgspec.Struct):
    date: str
    sent_coins: int
    received_coins: int


class GiftStats(msgspec.Struct):
    """One business period to date: sent and received by gift, top gifters (to me) and top
    recipients (of mine) by coins, and coins per business day (the `all` period: the last 30 days)."""

    period: Literal["day", "week", "month", "all"]
    tz: str
    from_: str | None = msgspec.field(name="from")
    """The period's first business day, YYYY-MM-DD (null for all time)."""
    to: str
    """Today, the period's last business day."""
    sent: GiftStatsSide
    received: GiftStatsSide
    top_gifters: list[GiftStatsPerson]
    top_recipients: list[GiftStatsPerson]
    trend: list[GiftStatsDay]


class Appreciations(msgspec.Struct):
    total: int
    """Appreciation likes received, all time."""
    today: int
    """Received this business day."""
    liked_today_by_me: bool


# --- rewards (engine/progression/rewards.py, docs/progression.md "Rewards") ------------------------


class RewardItemOut(msgspec.Struct):
    kind: Literal["coins", "frame", "badge", "vip"]
    amount: int
    """coins: how many."""
    ref: int
    """frame: mall item id; vip: tier level; badge: badge id."""
    days: int
    """frame/vip: duration in days (frame 0: permanent)."""


class Reward(msgspec.Struct):
    id: int
    source: Literal["level", "ranking", "badge", "campaign", "daily_login", "vip_daily", "admin"]
    source_ref: str
    items: list[RewardItemOut]
    state: Literal["pending", "granted", "claimable", "claimed", "expired"]
    """pending: being paid; granted: paid; claimable: claim it before `claim_by`; claimed; expired."""
    claim_by: Timestamp | None
    note: str
    created_at: Timestamp
    granted_at: Timestamp | None
    """When everything of it landed."""


class RewardPage(msgspec.Struct):
    items: list[Reward]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


class AdminReward(Reward):
    replay: bool
    """True: this idempotency key was used before; nothing new was granted."""


# --- rankings (issue 14 §3, httpapi/rankings.py) ------------------------------------------------------


class RankingEntry(msgspec.Struct):
    rank: int
    id: int  # the user, room or agency the board ranks
    score: int  # coins
    name: str | None
    avatar_url: str | None


class RankingMe(msgspec.Struct):
    rank: int
    id: int  # the caller, their room, or their agency
    score: int


class RankingBoard(msgspec.Struct):
    board: str
    period: str
    start: str | None  # the period's first business day (YYYY-MM-DD); null for all-time
    country: str | None
    entries: list[RankingEntry]
    me: RankingMe | None


class RankingHistoryEntry(msgspec.Struct):
    board: str
    period: str
    period_start: str
    period_end: str  # exclusive: the next period's first business day
    rank: int
    id: int
    score: int
    name: str | None
    avatar_url: str | None


class RankingHistoryPage(msgspec.Struct):
    items: list[RankingHistoryEntry]
    next_cursor: str | None


class LegacyLeaderboardEntry(msgspec.Struct):
    id: int
    name: str | None
    avatar_url: str | None
    coins_spent: int
    wealth_badge: str | None


class LegacyRoomLeaderboard(msgspec.Struct):
    leaderboard: list[LegacyLeaderboardEntry]
    total_users: int


class RankingsRebuilt(msgspec.Struct):
    members: dict[str, int]  # per board, members written across the current periods


# --- VIP (issue 14 §4, docs/vip.md) -----------------------------------------------------------


class VipPrivilegesView(msgspec.Struct):
    anti_mute: bool
    anti_kick: bool
    entry_effect: str | None
    badge: str | None
    chat_bubble: str | None
    gift_xp_multiplier_bps: int
    daily_bonus_coins: int


class VipTier(msgspec.Struct):
    level: int
    """1–6: VIP1–VIP6; 7: FLSVIP."""
    name: str
    price_coins: int
    """Coins per VIP month."""
    month_days: int
    is_active: bool
    """On sale (holders of a tier taken off sale keep it until it ends)."""
    privileges: VipPrivilegesView


class MyVip(msgspec.Struct):
    level: int
    """The level in force (0: none, or expired)."""
    name: str | None
    expires_at: Timestamp | None
    privileges: VipPrivilegesView | None


class VipPurchase(msgspec.Struct):
    id: int
    kind: Literal["purchase", "gift", "reward"]
    status: Literal["pending", "applied", "refused"]
    tier: int
    months: int
    price_coins: int
    buyer_id: int | None
    recipient_id: int
    mode: Literal["new", "renew", "upgrade", "converted"] | None
    """new, renew (same tier), upgrade (the old tier's remaining time converted), converted (a lower
    tier's value added to the higher one in force)."""
    level: int | None
    """The recipient's level after it."""
    expires_at: Timestamp | None
    txn_id: str
    replay: bool = False
    balance: int | None = None
    """The buyer's coins after the debit."""


class VipPurchasePage(msgspec.Struct):
    items: list[VipPurchase]


class Badge(msgspec.Struct):
    """A catalog badge (issue 14 §2, docs/progression.md "Badges")."""

    id: int
    code: str
    name: str
    description: str
    category: Literal["achievement", "activity", "personal", "room", "event"]
    rarity: Literal["common", "rare", "epic", "legendary"]
    icon_url: str
    rule: dict[str, Any]
    """`{"kind": ...}`: first_gift_sent, gifts_sent {count}, gifts_received {count}, followers {count},
    vip_tier {level}, days_active {days}, ranking_top {board, period, top}, event {code}, manual."""
    is_active: bool
    sort: int


class BadgePage(msgspec.Struct):
    items: list[Badge]
    next_cursor: str | None
    """Pass as `cursor` for the next page; null on the last page."""


# --- levels (issue 14 §1, docs/progression.md "Levels") ----------------------------------------------


class LevelRewardItem(msgspec.Struct):
    kind: Literal["coins", "frame", "badge", "vip"]
    amount: int
    """coins: how many."""
    ref: int
    """frame: mall_items.id; vip: the tier (1–7); badge: badges.id."""
    days: int
    """frame/vip: how long."""


class LevelStep(msgspec.Struct):
    level: int
    min_xp: int
    max_xp: int | None
    """The last XP of the level (None at the top)."""
    rewards: list[LevelRewardItem]
    """Granted once, through the reward ledger, on reaching the level."""


class LevelLadder(msgspec.Struct):
    type: Literal["wealth", "charm", "room"]
    items: list[LevelStep]
    """Every level of the type, lowest first (at most 200: not paged)."""


class LevelLadderReplaced(LevelLadder):
    moved: int
    """Stored levels the new ladder changed (each told to its user and kept in the history)."""


class LevelProgress(msgspec.Struct):
    level: int
    xp: str
    level_min_xp: int
    next_level: int | None
    next_level_xp: int | None
    """None at the top of the ladder."""
    xp_to_next: str | None
    progress_bps: int
    """The share of the way from this level to the next, in basis points."""


class RoomLevelProgress(LevelProgress):
    room_id: int


class MyLevels(msgspec.Struct):
    wealth: LevelProgress
    charm: LevelProgress
    room: RoomLevelProgress | None
    """Your room's level (None when you have no room)."""


class LevelChange(msgspec.Struct):
    id: int
    type: Literal["wealth", "charm", "room"]
    room_id: int | None
    """The room, for a room level."""
    from_level: int
    to_level: int
    xp: str
    """The XP at the change."""
    reason: Literal["xp", "ladder"]
    """`xp`: XP reached it; `ladder`: an admin edited the ladder."""
    changed_at: Timestamp


class LevelChangePage(msgspec.Struct):
    items: list[LevelChange]
    next_cursor: str | None


class OwnedBadge(Badge):
    awarded_at: Timestamp
    source: str
    """How it was earned: `rule`, `reward:<id>`, `ranking:<board>:<period>:<start>`, `event:<code>`."""
    equipped: bool
    position: int | None
    """Where it is worn (0 first); null when not worn."""


class OwnedBadges(msgspec.Struct):
    items: list[OwnedBadge]
    """Worn ones first, in order, then the newest."""


class EquippedBadge(msgspec.Struct):
    slot_position: int
    badge_id: int
    image_url: str
    code: str
    name: str
    rarity: str


# --- ranking rewards (issue 14 §3/§5, httpapi/ranking_rewards.py) -------------------------------------


class RankingRewardTier(msgspec.Struct):
    id: int
    board: Literal["wealth", "charm", "room", "agency"]
    period: Literal["daily", "weekly", "monthly"]
    rank_from: int
    rank_to: int
    """Inclusive."""
    coins: int
    """Paid to each rank in the tier (a room's or an agency's owner) when the period closes."""


class RankingRewardPage(msgspec.Struct):
    items: list[RankingRewardTier]
    """By board, period, then rank."""
    next_cursor: str | None


class RankingRewardTable(msgspec.Struct):
    board: Literal["wealth", "charm", "room", "agency"]
    period: Literal["daily", "weekly", "monthly"]
    tiers: list[RankingRewardTier]
    """The whole table now, by rank."""


# --- campaigns (issue 14 §5, docs/progression.md "Campaigns") --------------------------------------


class CampaignPrizeItem(msgspec.Struct):
    kind: Literal["coins", "frame", "badge", "vip"]
    amount: int
    """coins: how many (what the prize takes from the budget)."""
    ref: int
    """frame: mall_items.id; vip: the tier (1–7); badge: badges.id."""
    days: int
    """frame/vip: how long."""


class CampaignPrize(msgspec.Struct):
    items: list[CampaignPrizeItem]
    rank_from: int
    rank_to: int | None
    """top_senders: the ranks this prize is for (rank_to null: rank_from only); gift_count: every qualifier."""


class Campaign(msgspec.Struct):
    id: int
    code: str
    title: str
    description: str
    starts_at: Timestamp
    ends_at: Timestamp
    """The window is [starts_at, ends_at): a gift counts by its ledger time."""
    rule: dict[str, Any]
    """`{"kind": "gift_count", count, gift_id}` or `{"kind": "top_senders", top, gift_id, min_coins}`."""
    prizes: list[CampaignPrize]
    budget_coins: int
    spent_coins: int
    remaining_coins: int
    state: Literal["draft", "active", "closed", "cancelled"]
    closed_at: Timestamp | None


class AdminCampaign(Campaign):
    created_by: int | None
    created_at: Timestamp
    updated_at: Timestamp


class AdminCampaignPage(msgspec.Struct):
    items: list[AdminCampaign]
    next_cursor: str | None


class CampaignPage(msgspec.Struct):
    items: list[Campaign]
    next_cursor: str | None


class CampaignProgress(msgspec.Struct):
    gift_count: int
    """Gifts given in the window (quantities, once per recipient; of the rule's gift if it names one)."""
    coins: int
    """Their value: what your wallet paid for them."""
    qualified_at: Timestamp | None
    """gift_count: when you reached the count."""
    rank: int | None
    """top_senders: your winning rank, set at the close."""
    outcome: Literal["paid", "budget_exhausted", "duplicate", "failed"] | None
    reward_id: int | None
    """Your reward (`GET /api/v1/me/rewards`), once paid."""


class CampaignDetail(Campaign):
    me: CampaignProgress | None
    """Your progress, when you are signed in and have sent a counted gift."""


class CampaignStandingUser(msgspec.Struct):
    id: int
    name: str
    avatar_url: str | None


class CampaignStandingReward(msgspec.Struct):
    id: int
    state: Literal["pending", "granted", "claimable", "claimed", "expired"]
    items: list[CampaignPrizeItem]


class CampaignStanding(msgspec.Struct):
    position: int
    """The place in the standings (1 first): gift_count qualifiers in the order they qualified, then
    the others; top_senders by coins, ties to whoever reached the score first."""
    user_id: int
    user: CampaignStandingUser | None
    gift_count: int
    coins: int
    qualified_at: Timestamp | None
    rank: int | None
    """top_senders: the rank a prize was paid for."""
    outcome: Literal["paid", "budget_exhausted", "duplicate", "failed"] | None
    reward: CampaignStandingReward | None


class CampaignResults(msgspec.Struct):
    campaign: Campaign
    items: list[CampaignStanding]
    next_cursor: str | None
