"""Where a user's data lives: ONE declarative registry, read by the export (which rows are the
user's) and by the purge (what becomes of each of them). Pure data, no I/O.

Each `Table` names its user-id columns (`by(...)`) and, for each, the deletion rule of the rows
where that column is the user: `DELETE`, `anonymise({column: SQL expression})` or `keep(reason)`.
A row is the user's when ANY listed column is the user. Adding a table is one line here;
tests/test_gdpr_coverage.py fails (and prints that line) when a migration adds a user column
this registry does not name.

In the SQL snippets `$1` is the user id and `t` the table's alias.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete the rows."""

    where: str | None = None
    """Only those that also match this SQL condition."""


@dataclass(frozen=True, slots=True)
class Anonymise:
    """Keep the rows, with these columns set to these SQL expressions."""

    set: dict[str, str]


@dataclass(frozen=True, slots=True)
class Keep:
    """Keep the rows as they are (they point at the anonymised account after the purge)."""

    reason: str


Rule = Delete | Anonymise | Keep
DELETE = Delete()


def anonymise(**columns: str) -> Anonymise:
    return Anonymise(dict(columns))


def keep(reason: str) -> Keep:
    return Keep(reason)


@dataclass(frozen=True, slots=True)
class Ref:
    """A column that names a user, and what the purge does to the rows where it names this one."""

    column: str
    rule: Rule
    kind_column: str | None = None
    """For a polymorphic reference (`account_type`/`account_id`, `target_type`/`target_id`): the
    column saying what kind of thing the id is, which must be `kind`."""
    kind: str = "user"
    text: bool = False
    """The id column is text (compare with the id as text)."""

    def condition(self) -> str:
        match = f"t.{self.column} = $1::text" if self.text else f"t.{self.column} = $1"
        return f"(t.{self.kind_column} = '{self.kind}' AND {match})" if self.kind_column else f"({match})"


def by(column: str, rule: Rule, *, kind_column: str | None = None, text: bool = False) -> Ref:
    return Ref(column, rule, kind_column, text=text)


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    refs: tuple[Ref, ...]
    omit: tuple[str, ...] = ()
    """Columns never exported (secrets, the archives themselves)."""
    also: str | None = None
    """A further SQL condition making a row the user's for the export (e.g. a ledger transaction
    the user has a leg in); the purge's rules apply to the `refs` only."""

    def __init__(self, name: str, *refs: Ref, omit: tuple[str, ...] = (), also: str | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "refs", refs)
        object.__setattr__(self, "omit", omit)
        object.__setattr__(self, "also", also)

    def export_condition(self) -> str:
        return " OR ".join([r.condition() for r in self.refs] + ([f"({self.also})"] if self.also else []))


STAFF = "a staff action's record (who did it), kept for accountability; points at the anonymised account"
SECURITY = "what was done to the account: a security record"
# A ledger transaction is the user's too when they have a leg in it (a gift received, a credit).
HAS_A_LEG = "t.txn_id IN (SELECT e.txn_id FROM ledger_entries e WHERE e.account_type = 'user' AND e.account_id = $1)"
AGENCY_HISTORY = "an agency's record of who changed its membership (audit); points at the anonymised account"
LEDGER = "the money ledger is append-only: every leg stays so `flylive reconcile` balances"
ANONYMISED_USER = anonymise(
    name="'Deleted user'", phone="NULL", email="NULL", signature="'deleted_' || t.id", password_hash="''",
    avatar_image="NULL", animated_src="NULL", static_src="NULL", bio="NULL", interests="'{}'",
    social_links="'[]'", cosmetics="'{}'", dob="NULL", social_provider="NULL", social_provider_id="NULL",
    block_reason="NULL", deleted_at="coalesce(t.deleted_at, now())", updated_at="now()",
)  # fmt: skip
ANONYMISED_ROOM = anonymise(
    name="'deleted_room_' || t.id", greetings="NULL", description="NULL", announcement="NULL", logo="NULL",
    password_hash="NULL", tags="'{}'", is_hidden="true", is_closed="true",
    closed_at="coalesce(t.closed_at, now())", deleted_at="coalesce(t.deleted_at, now())",
)  # fmt: skip
# The newest acceptance of each policy stays: the record that the account agreed to the terms in force.
SUPERSEDED_CONSENT = Delete(
    where="EXISTS (SELECT 1 FROM user_consents n WHERE n.user_id = t.user_id AND n.policy = t.policy "
    "AND n.accepted_at > t.accepted_at)"
)

CONVERSATION = "the peer's side of a direct-message thread stays theirs (the user's own messages are erased)"
IN_MY_THREADS = "t.thread_id IN (SELECT d.id FROM dm_threads d WHERE d.user_low = $1 OR d.user_high = $1)"

# One line per table. The lead adds the tables other branches bring (dm_threads, dm_messages,
# reports, activity) here, one line each, e.g.
#   Table("dm_messages", by("sender_id", anonymise(body="''"))),
# fmt: off
TABLES: tuple[Table, ...] = (
    Table("users", by("id", ANONYMISED_USER), omit=("password_hash",)),
    Table("auth_sessions", by("user_id", DELETE)),
    Table("user_roles", by("user_id", DELETE), by("granted_by", keep(STAFF))),
    Table("audit_log", by("actor_id", anonymise(ip="NULL")),
          by("target_id", keep(SECURITY), kind_column="target_type", text=True)),
    Table("rooms", by("user_id", ANONYMISED_ROOM)),
    Table("room_admins", by("user_id", DELETE), by("granted_by", keep(STAFF))),
    Table("room_bans", by("user_id", DELETE), by("banned_by", keep(STAFF)), by("lifted_by", keep(STAFF))),
    Table("ledger_transactions", by("initiator_id", keep(LEDGER)), also=HAS_A_LEG),
    Table("ledger_entries", by("account_id", keep(LEDGER), kind_column="account_type")),
    Table("account_balances", by("account_id", keep(LEDGER), kind_column="account_type")),
    Table("economy_settings", by("updated_by", keep(STAFF))),
    # An agency is a business with its own ledger account (staff reassign it); its founder's ID
    # documents, phone and address are personal data and go. The sealed documents are not exported
    # (ciphertext; the owner reads them through GET /api/v1/agencies/{id}).
    Table("agencies", by("owner_id", anonymise(id_front_sealed="NULL", id_back_sealed="NULL", phone="NULL",
                                               address="NULL")),
          by("referee_user_id", anonymise(referee_user_id="NULL")), by("reviewed_by", keep(STAFF)),
          by("closed_by", keep(STAFF)), omit=("id_front_sealed", "id_back_sealed")),
    Table("agency_members", by("user_id", anonymise(left_at="coalesce(t.left_at, now())"))),
    Table("agency_member_events", by("user_id", anonymise(reason="NULL")), by("actor_id", keep(AGENCY_HISTORY))),
    Table("agency_requests", by("user_id", DELETE), by("invited_by", keep(AGENCY_HISTORY)),
          by("processed_by", keep(AGENCY_HISTORY))),
    # An announcement is its author's writing: it goes with them.
    Table("agency_announcements", by("author_id", DELETE)),
    # An event is the agency's plan: it stays, without its creator.
    Table("agency_events", by("created_by", anonymise(created_by="NULL"))),
    # Income rows are derived from ledger legs (sql/0020) and settle salaries: kept with the ledger.
    Table("agency_income_events", by("user_id", keep(LEDGER))),
    Table("agency_income_targets", by("updated_by", anonymise(updated_by="NULL"))),
    # A salary exchange is the record behind two ledger transactions (sql/0021): kept with them.
    Table("salary_exchanges", by("user_id", keep(LEDGER))),
    # Which targets a member reached: what the month's settlement paid them, kept with the ledger.
    Table("agency_target_completions", by("user_id", keep(LEDGER))),
    # The owner's advances and salary exchanges are the agency's money records beside the ledger:
    # kept, pointing at the anonymised account (the agency stays a business with its own balances).
    Table("agency_salary_advances", by("requested_by", keep(LEDGER))),
    Table("agency_salary_exchanges", by("requested_by", keep(LEDGER)), by("processed_by", keep(STAFF))),
    # What a member was paid for a month (sql/0022): the record of ledger payments, kept with them.
    Table("agency_settlements", by("user_id", keep(LEDGER))),
    # A reward is the record behind a `reward` ledger transaction (sql/0026): kept with it.
    Table("rewards", by("user_id", keep(LEDGER))),
    # Badges are the user's own achievements: they go with the account (the queue is transient).
    Table("user_badges", by("user_id", DELETE)),
    Table("user_equipped_badges", by("user_id", DELETE)),
    Table("badge_checks", by("user_id", DELETE)),
    # A campaign is staff's plan; its standings explain the rewards it paid (kept with the ledger).
    Table("campaigns", by("created_by", keep(STAFF))),
    Table("campaign_progress", by("user_id", keep("a campaign's standings and the rewards they paid; points at "
                                                  "the anonymised account"))),
    Table("fraud_flags", by("user_id", keep("fraud prevention (legitimate interest)")),
          by("reviewed_by", keep(STAFF))),
    Table("recharge_orders", by("user_id", keep("a payment record, kept for accounting and tax law"))),
    Table("coin_requests", by("user_id", anonymise(message="NULL")),
          by("requested_from", anonymise(action_message="NULL")), by("updated_by", keep(STAFF))),
    Table("user_items", by("user_id", DELETE)),
    Table("mall_purchases", by("user_id", keep("a purchase record tied to its ledger transaction"))),
    # A VIP purchase, gift or reward grant is the record behind its ledger burn (sql/0025): kept, pointing
    # at the anonymised account on either side.
    Table("vip_purchases", by("buyer_id", keep(LEDGER)), by("recipient_id", keep(LEDGER))),
    Table("vip_tiers", by("updated_by", keep(STAFF))),
    Table("user_privacy", by("user_id", DELETE)),
    Table("user_followers", by("follower_id", DELETE), by("following_id", DELETE)),
    Table("user_follow_counts", by("user_id", DELETE)),
    Table("user_blocks", by("blocker_id", DELETE), by("blocked_id", DELETE)),
    Table("notifications", by("user_id", DELETE), by("actor_id", DELETE)),
    Table("notification_preferences", by("user_id", DELETE)),
    Table("user_consents", by("user_id", SUPERSEDED_CONSENT)),
    Table("gdpr_exports", by("user_id", DELETE), omit=("archive", "claim")),
    Table("account_deletions", by("user_id", keep("the record that the account was deleted, and when"))),
    # Direct messages: the export holds the user's whole conversations (what the peers wrote to them
    # too); the purge erases what the user wrote (tombstones, as an unsend leaves) and keeps the
    # threads, so each peer keeps their side of the conversation with "Deleted user".
    Table("dm_threads", by("user_low", keep(CONVERSATION)), by("user_high", keep(CONVERSATION)),
          by("requester_id", keep(CONVERSATION))),
    Table("dm_thread_members", by("user_id", keep(CONVERSATION)), by("peer_id", keep(CONVERSATION))),
    Table("dm_messages", by("sender_id", anonymise(text="NULL", image_url="NULL",
                                                   unsent_at="coalesce(t.unsent_at, now())")),
          also=IN_MY_THREADS),
    Table("official_messages", by("user_id", DELETE), by("sender_id", keep(STAFF))),
    # The activity log (sql/0016): the user's own rows go; in others' rows (a gift they sent, a follow
    # of them) the other side is forgotten and the row stays its owner's.
    Table("user_activity", by("user_id", DELETE), by("other_user_id", anonymise(other_user_id="NULL"))),
    # Reports (sql/0015_reports.sql). A report holds only its reporter (whom it is about is the case's),
    # so a reported user's export shows the cases about them and never who reported them.
    Table("reports", by("reporter_id", anonymise(details="NULL", evidence_urls="'{}'"))),
    Table("moderation_cases", by("subject_user_id", anonymise(snapshot="'{}'")),
          by("assignee_id", keep(STAFF)), by("resolved_by", keep(STAFF))),
    Table("moderation_appeals", by("user_id", anonymise(details="''")), by("reviewed_by", keep(STAFF))),
    Table("platform_mutes", by("user_id", DELETE), by("muted_by", keep(STAFF))),
    # Gift statistics (sql/0029), a rollup of the gift ledger: the user's own rows go; in others' rows
    # the coins they gave or got stay that user's figures, and the purged account is shown hidden.
    Table("gift_stats", by("user_id", DELETE), by("other_id", keep("another user's gift figures, derived from "
                                                                    "the ledger"))),
    # Appreciation likes (sql/0029): those received go with the account; those given go too (the
    # count trigger takes them off the other users' totals).
    Table("profile_appreciations", by("target_id", DELETE), by("liker_id", DELETE)),
    Table("profile_appreciation_counts", by("user_id", DELETE)),
    # A closed ranking period's top N: the place stays (others' ranks do not move), on the anonymised account.
    Table("ranking_history", by("user_id", keep("a closed period's standings; points at the anonymised account"))),
    # Issue 14 §1: a user's level history (a room's changes name its owner); the levels themselves
    # are columns of users and rooms, and their rewards are in the reward ledger.
    Table("level_changes", by("user_id", DELETE)),
    # Issue 14 §5: what a user was recognised for (their followers' stored notifications go with the
    # notifications' own rows).
    Table("recognitions", by("user_id", DELETE)),
    # Dashboard sign-ins (issue 15): the sessions and the second factor go with the account.
    Table("staff_sessions", by("user_id", DELETE)),
    Table("staff_totp", by("user_id", DELETE)),
    # The chat word filter edited from the dashboard (issue 15 §5): who added a word.
    Table("chat_blocked_words", by("created_by", keep(STAFF))),
    # Issue 15 §9, the System section: who changed a flag, the maintenance state, who announced.
    Table("feature_flags", by("updated_by", keep(STAFF))),
    Table("system_maintenance", by("updated_by", keep(STAFF))),
    Table("system_announcements", by("sent_by", keep(STAFF))),
    Table("rate_limit_overrides", by("updated_by", keep(STAFF))),
)
# fmt: on

# User-looking columns that do not hold user ids (the coverage test skips them), each with why.
NOT_USER_COLUMNS: dict[tuple[str, str], str] = {
    ("rooms", "theme_id"): "a room theme (a mall item id), not a user",
    ("ranking_history", "room_id"): "a ranked room's id (the room board), not a user",
    ("ranking_history", "agency_id"): "a ranked agency's id (the agency board), not a user",
    ("dm_threads", "last_message_id"): "a direct message's id, not a user",
    ("dm_thread_members", "last_read_message_id"): "a direct message's id, not a user",
    ("user_activity", "room_id"): "a room's id (no foreign key: a visit or gift row must never stop the worker or "
    "the ledger flush), not a user",
    ("gift_stats", "gift_id"): "a gift of the catalog (no foreign key: nothing may stop the ledger flush), not a user",
}


def covered_columns() -> set[tuple[str, str]]:
    return {(t.name, r.column) for t in TABLES for r in t.refs}


def table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)
