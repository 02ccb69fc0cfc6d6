"""Prometheus metrics, one registry per app so several apps (tests, two engines) never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "flylive_http_requests_total",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "flylive_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.socket_connections = Gauge(
            "flylive_socket_connections",
            "Connected Socket.IO clients in this process",
            registry=r,
        )
        self.socket_events = Counter(
            "flylive_socket_events_total",
            "Socket events by name and result (ok, fail, error)",
            ["event", "result"],
            registry=r,
        )
        self.socket_event_latency = Histogram(
            "flylive_socket_event_latency_seconds",
            "Socket event handling time",
            ["event"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.auth_attempts = Counter(
            "flylive_auth_attempts_total",
            "Logins, refreshes and socket handshakes by result",
            ["kind", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "flylive_rate_limited_total",
            "Requests and events refused by a rate limit",
            ["scope"],
            registry=r,
        )
        self.ledger_flushed = Counter(
            "flylive_ledger_flushed_total",
            "Outbox entries written to the PostgreSQL ledger",
            registry=r,
        )
        self.ledger_observer_errors = Counter(
            "flylive_ledger_observer_errors_total",
            "Flushed batches an observer (the rankings) failed to take in; rebuild them from the ledger",
            registry=r,
        )
        self.ranking_updates = Counter(
            "flylive_ranking_updates_total",
            "Gift transactions counted into a ranking board's period (re-deliveries excluded)",
            ["board"],
            registry=r,
        )
        self.ranking_snapshots = Counter(
            "flylive_ranking_snapshots_total",
            "Closed ranking periods snapshotted into ranking_history",
            ["board", "period"],
            registry=r,
        )
        self.gifts = Counter(
            "flylive_gifts_total",
            "gift:send results",
            ["result"],
            registry=r,
        )
        self.coins_spent = Counter(
            "flylive_gift_coins_total",
            "Coins spent on gifts",
            registry=r,
        )
        self.payment_events = Counter(
            "flylive_payment_events_total",
            "Payment provider webhook events by outcome",
            ["outcome"],
            registry=r,
        )
        self.malformed_packets = Counter(
            "flylive_socket_malformed_packets_total",
            "Malformed Socket.IO packets and Engine.IO frames refused, by kind (decode, event, binary, packet, frame)",
            ["kind"],
            registry=r,
        )
        self.budget_exceeded = Counter(
            "flylive_socket_event_budget_exceeded_total",
            "Socket events dropped because their socket was over its budget (realtime-contract §9)",
            registry=r,
        )
        self.guard_disconnects = Counter(
            "flylive_socket_guard_disconnects_total",
            "Sockets closed for flooding events or sending malformed packets, by reason",
            ["reason"],
            registry=r,
        )
        self.room_batches = Counter(
            "flylive_room_batches_total",
            "room:batch frames emitted (one per room per tick with batched events, plus one per actor)",
            registry=r,
        )
        self.room_batched_events = Counter(
            "flylive_room_batched_events_total",
            "Room events that reached batch-capable clients inside a room:batch, by event",
            ["event"],
            registry=r,
        )
        self.reports_opened = Counter(
            "flylive_reports_opened_total",
            "Reports filed (merged: into the reporter's open report on the same target) and automatic cases, by source",
            ["source", "target_type"],
            registry=r,
        )
        self.reports_resolved = Counter(
            "flylive_reports_resolved_total",
            "Moderation cases resolved by action (dismiss too), and appeals reviewed (appeal_uphold, appeal_overturn)",
            ["action"],
            registry=r,
        )
        self.agency_owner_salary = Counter(
            "flylive_agency_owner_salary_total",
            "Agency owners' salary operations by action (advance, exchange_requested, exchange_approved,"
            " exchange_rejected); replays are not counted",
            ["action"],
            registry=r,
        )
        self.agency_owner_salary_cents = Counter(
            "flylive_agency_owner_salary_usd_cents_total",
            "US dollar cents paid into agencies' USD accounts by advances and approved salary exchanges",
            ["action"],
            registry=r,
        )
        self.notifications = Counter(
            "flylive_notifications_total",
            "Notifications by kind: stored (and pushed), or not (the user switched the kind off, or an"
            " unread one from the same actor is there)",
            ["kind", "outcome"],
            registry=r,
        )
        self.activity_written = Counter(
            "flylive_activity_visits_written_total",
            "Room visits the activity worker moved from the Redis streams into PostgreSQL (dropped: unreadable)",
            ["outcome"],
            registry=r,
        )
        self.gdpr_jobs = Counter(
            "flylive_gdpr_jobs_total",
            "GDPR work done by the worker: exports (done, failed, lease_lost) and account purges (done)",
            ["job", "outcome"],
            registry=r,
        )
        self.forced_disconnects = Counter(
            "flylive_forced_disconnects_total",
            "Sockets closed because their session was revoked",
            ["reason"],
            registry=r,
        )
        self.media_nodes_lost = Counter(
            "flylive_media_nodes_lost_total",
            "Media nodes dropped from the registry (their rooms were moved), by reason",
            ["reason"],
            registry=r,
        )
        self.media_nodes = Gauge(
            "flylive_media_nodes",
            "Registered media nodes by state (live, stale), as this process's last upkeep saw them",
            ["state"],
            registry=r,
        )
        self.media_rooms_placed = Gauge(
            "flylive_media_rooms_placed",
            "Rooms placed on a media node, as this process's last upkeep saw them",
            registry=r,
        )
        self.media_node_reports = Counter(
            "flylive_media_node_reports_total",
            "Messages from media nodes by event and result (ok, invalid, unregistered, elsewhere)",
            ["event", "result"],
            registry=r,
        )
        self.media_requests = Counter(
            "flylive_media_requests_total",
            "Client media requests relayed to a node, by method and result (ok, fail, timeout, unavailable)",
            ["method", "result"],
            registry=r,
        )
        self.salary_exchanges = Counter(
            "flylive_salary_exchanges_total",
            "Members' salary exchanges (USD salary → coins) by outcome: credited, replay, insufficient, and"
            " resumed (finished by the sweep after their request died between hold and credit)",
            ["outcome"],
            registry=r,
        )
        self.income_targets_completed = Counter(
            "flylive_income_targets_completed_total",
            "Monthly coin targets members crossed (each told once to the member and the agency owner)",
            registry=r,
        )
        # Issue 13 §3, the month-end and leavers' settlement (engine/agency/settlement.py).
        self.agency_settled_members = Counter(
            "flylive_agency_settled_members_total",
            "Agency members settled for a month, by kind (month_end, leaver)",
            ["kind"],
            registry=r,
        )
        self.agency_settlement_paid = Counter(
            "flylive_agency_settlement_paid_total",
            "What agency settlements paid, by currency and part (reward: USD cents of target rewards,"
            " iecp: diamonds of excess coins, share: the owners' USD cents of ASP after advances)",
            ["currency", "part"],
            registry=r,
        )
        self.rewards = Counter(
            "flylive_rewards_total",
            "Rewards of the reward ledger by source and outcome (recorded, claimable, duplicate, paid, claimed,"
            " swept, expired)",
            ["source", "outcome"],
            registry=r,
        )
        # Issue 14 §4, VIP (engine/vip/actions.py).
        self.vip_purchases = Counter(
            "flylive_vip_purchases_total",
            "VIP purchases, gifts and reward grants by kind (purchase, gift, reward) and outcome: applied,"
            " replay, downgrade, the wallet's refusal (insufficient_funds, wallet_frozen), resumed (by the sweep)",
            ["kind", "outcome"],
            registry=r,
        )
        self.vip_expiries = Counter(
            "flylive_vip_expiries_total", "VIP levels cleared by the expiry job (each told to its holder)", registry=r
        )
        self.vip_tier_edits = Counter("flylive_vip_tier_edits_total", "VIP tiers edited by staff", registry=r)
        self.vip_daily_bonuses = Counter(
            "flylive_vip_daily_bonuses_total",
            "VIP daily coin bonuses recorded (one per holder and business day)",
            registry=r,
        )
        # Issue 14 §1, levels (engine/progression/levels.py).
        self.level_ups = Counter(
            "flylive_level_ups_total",
            "Levels reached, by type (wealth, charm, room): a jump over three levels counts three",
            ["type"],
            registry=r,
        )
        self.badges_awarded = Counter(
            "flylive_badges_awarded_total",
            "Badges awarded (each user and badge once), by category",
            ["category"],
            registry=r,
        )
        # Issue 14 §5, recognition (engine/progression/recognition.py).
        self.recognitions = Counter(
            "flylive_recognitions_total",
            "Recognitions delivered to the user's rooms and followers, by kind (level, badge, ranking)",
            ["kind"],
            registry=r,
        )
        # Issue 14 §5, campaigns (engine/progression/campaigns.py).
        self.campaign_rewards = Counter(
            "flylive_campaign_rewards_total",
            "Campaign prizes decided, by rule kind and outcome (paid, budget_exhausted, duplicate, failed)",
            ["kind", "outcome"],
            registry=r,
        )
        self.media_request_latency = Histogram(
            "flylive_media_request_duration_seconds",
            "Round trip of a relayed media request to its node",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        # Issue 15 §4, the finance dashboard (engine/economy/admin_actions.py, admin_ui/finance.py).
        self.fraud_flags_reviewed = Counter(
            "flylive_fraud_flags_reviewed_total",
            "Fraud flags reviewed by staff in the dashboard, by flag kind",
            ["kind"],
            registry=r,
        )
        self.reconcile_runs = Counter(
            "flylive_reconcile_runs_total",
            "Reconcile reports run from the dashboard, by outcome (ok, drift)",
            ["outcome"],
            registry=r,
        )
        # Issue 15 §9, the dashboard's error log view (engine/ops/errorlog.py).
        self.error_log_lines = Counter(
            "flylive_error_log_lines_total",
            "ERROR and CRITICAL log lines this process wrote, by logger",
            ["logger"],
            registry=r,
        )
        # Issue 15 §2, the overview's server-sent events (admin_ui/home.py).
        self.admin_overview_streams = Gauge(
            "flylive_admin_overview_streams",
            "Open overview streams (server-sent events) in this process",
            registry=r,
        )
        # Issue 15 §5, the moderation dashboard's word filter (engine/rooms/word_filter.py).
        self.word_filter_edits = Counter(
            "flylive_word_filter_edits_total",
            "Words added to or removed from the chat word filter, by change (add, remove)",
            ["change"],
            registry=r,
        )
        # Issue 15 §7, the dashboard's catalog edits (engine/catalog/actions.py).
        self.catalog_edits = Counter(
            "flylive_catalog_edits_total",
            "Catalog items created or changed from the dashboard, by kind and change",
            ["kind", "change"],
            registry=r,
        )
        # Issue 15 §9, the System section (engine/flags, engine/system).
        self.maintenance_active = Gauge(
            "flylive_maintenance_active",
            "1 while maintenance mode is on (as last set by this process; the dashboard shows the truth)",
            registry=r,
        )
        self.maintenance_refusals = Counter(
            "flylive_maintenance_refusals_total",
            "room:join calls refused because maintenance mode is on",
            registry=r,
        )
        self.system_announcements = Counter(
            "flylive_system_announcements_total",
            "System announcements pushed to every socket, by level",
            ["level"],
            registry=r,
        )
