"""The one app factory: `create_app(config)` builds the whole service.

Each resource is one `cleanup_ctx` generator, so start-up and shutdown run in mirror order:
the services (PostgreSQL pool, Redis, scripts), the ledger flusher, then the realtime server.
Nothing connects at import time or in `create_app` itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from admin_ui import setup_admin
from engine.activity.live import register_activity_jobs
from engine.agency.chat import register_agency_events
from engine.agency.events import register_agency_jobs
from engine.agency.income_targets import register_income_jobs
from engine.agency.live import Agencies
from engine.agency.settlement import register_settlement_jobs
from engine.appkeys import (
    AGENCIES,
    CONFIG,
    GDPR,
    INBOX,
    LEVELS,
    METRICS,
    NOTIFICATIONS,
    OPS,
    RANKINGS,
    REALTIME,
    REPORTS,
    ROOMS,
    SERVICES,
    SOCIAL,
    VIP,
)
from engine.config import Config, check_deployment
from engine.economy.flusher import ensure_groups, flush_all
from engine.gdpr.live import Gdpr
from engine.gifts.handlers import register_gift_events
from engine.inbox.handlers import register_inbox_events
from engine.inbox.live import Inbox
from engine.jobs import Periodic
from engine.keys import Keys
from engine.media.namespace import register_media_namespace
from engine.media.node_events import register_node_events
from engine.media.relay import register_media_events
from engine.media.room_media import NodeMedia
from engine.metrics import Metrics
from engine.notifications.live import Notifications, register_notification_jobs
from engine.ops.live import register_ops
from engine.payments.actions import fulfil_stuck_orders
from engine.progression.badges import register_badge_jobs
from engine.progression.campaigns import register_campaign_jobs
from engine.progression.levels import register_level_jobs
from engine.progression.levels_live import Levels
from engine.progression.rankings import Rankings
from engine.progression.recognition import Recognition, register_recognition_jobs
from engine.progression.rewards import plug_vip, register_reward_jobs
from engine.realtime.events import register_core_events
from engine.realtime.server import RealtimeServer
from engine.reports.live import Reports
from engine.rooms.handlers import register_room_events
from engine.rooms.live import LiveRooms, StripedLocks
from engine.rooms.social import RoomsForSocial
from engine.services import open_services
from engine.social.handlers import register_social_events
from engine.social.live import Social
from engine.system.actions import register_system_events
from engine.vip.jobs import register_vip_jobs
from engine.vip.live import Vip
from engine.vip.rewards_port import VipRewards
from httpapi.middleware import MIDDLEWARES
from httpapi.ops import LIFECYCLE, Lifecycle
from httpapi.routes import setup_routes

log = logging.getLogger("flylive.app")
STUCK_ORDER_SWEEP_SECONDS = 15.0
RANKING_SWEEP_SECONDS = 30.0


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    async with open_services(app[CONFIG], app[METRICS]) as svc:
        app[SERVICES] = svc
        app[RANKINGS].attach(svc)  # the ledger flush's observer: before the flusher starts
        yield


async def _flusher_ctx(app: web.Application) -> AsyncIterator[None]:
    """The ledger flusher runs in every serving process; the consumer group shares the work."""
    svc = app[SERVICES]
    consumer = app[REALTIME].instance_id
    await ensure_groups(svc)

    job = Periodic("ledger-flusher", lambda: flush_all(svc, svc.wallets, consumer), svc.config.flush_interval_seconds)
    # Orders stuck in `paid` are rare (a crash between payment and credit): a slow sweep is enough,
    # not a PostgreSQL query on every flush tick.
    orders = Periodic("stuck-orders", lambda: fulfil_stuck_orders(svc), STUCK_ORDER_SWEEP_SECONDS)
    job.start()
    orders.start()
    yield
    await orders.stop()
    await job.stop()
    # Drain what is left so a clean shutdown leaves nothing for the next start.
    try:
        await flush_all(svc, svc.wallets, consumer)
    except Exception:
        log.exception("final ledger flush failed; the entries stay in the outbox")


async def _realtime_ctx(app: web.Application) -> AsyncIterator[None]:
    realtime = app[REALTIME]
    await app[ROOMS].start(app[SERVICES])
    await realtime.start(app[SERVICES])
    yield
    await realtime.stop()


async def _on_shutdown(app: web.Application) -> None:
    # Runs after the listener closed and before aiohttp waits for open connections: readiness turns
    # 503, and the sockets are closed now — otherwise open WebSockets would hold shutdown for the
    # whole grace period and then be cut without a Socket.IO disconnect.
    app[LIFECYCLE].draining = True
    await app[REALTIME].disconnect_all()


def create_app(config: Config) -> web.Application:
    if not config.jwt_secret:
        raise ValueError("create_app needs a JWT secret (JWT_SECRET or engine.config.ensure_jwt_secret)")
    check_deployment(config)  # a Config built in code gets the same refusals as one read from the environment
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=MIDDLEWARES)
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[LIFECYCLE] = Lifecycle()
    assert config.redis_url, "create_app needs REDIS_URL (or the embedded server) resolved"
    # The transport first, then the domains on it: rooms drive the media side through its port, and
    # the room locks order both rooms' and media nodes' emits for a room.
    realtime = RealtimeServer(app, config, app[METRICS], config.redis_url, Keys(config.redis_prefix).socketio_channel())
    room_locks = StripedLocks()
    rooms = LiveRooms(realtime, NodeMedia(realtime), room_locks)
    register_core_events(realtime)
    register_room_events(rooms)
    register_gift_events(rooms)
    register_media_namespace(realtime, rooms)
    register_media_events(rooms)
    register_node_events(realtime, rooms)
    notifications = Notifications(realtime)
    register_notification_jobs(notifications)
    register_activity_jobs(realtime)
    # The social domain drives the rooms through its port, and notifies (a follow) through notifications.
    social = Social(realtime, RoomsForSocial(rooms), notifications)
    register_social_events(social)
    # Direct messages read blocks and privacy from the social store and notify through notifications.
    inbox = Inbox(realtime, notifications)
    register_inbox_events(inbox)
    # Reports act on rooms and accounts; the rooms tell them of word-filter hits through their port.
    reports = Reports(rooms, notifications)
    rooms.watch = reports
    app[REALTIME] = realtime
    app[ROOMS] = rooms
    app[SOCIAL] = social
    app[NOTIFICATIONS] = notifications
    app[GDPR] = Gdpr(realtime)
    app[INBOX] = inbox
    app[REPORTS] = reports
    # Agencies notify (reviews, membership) and push `agency.*` events to members' sockets.
    app[AGENCIES] = agencies = Agencies(realtime, notifications)
    # ... and run the members' chat channel (agency:chat.*, engine/agency/chat.py).
    register_agency_events(agencies)
    register_agency_jobs(agencies)  # agency events' reminders
    register_income_jobs(agencies)  # income target crossings, interrupted salary exchanges
    register_settlement_jobs(agencies)  # the month-end settlement (engine/agency/settlement.py)
    register_reward_jobs(realtime)  # the reward ledger's pushes and its sweep of unpaid rewards
    # Rankings: live boards fed by the ledger flush, and the period-end snapshot (engine/progression/rankings.py).
    app[RANKINGS] = rankings = Rankings()
    realtime.background.append(Periodic("ranking-periods", lambda: rankings.close_due(consumer=realtime.instance_id),
                                        RANKING_SWEEP_SECONDS))  # fmt: skip
    # VIP tells the rooms of a changed VIP (profiles) and notifies a gift; its jobs expire and sweep.
    app[VIP] = vip = Vip(rooms, notifications)
    register_vip_jobs(vip)
    plug_vip(VipRewards(vip))  # a reward's `vip` items (the reward ledger never imports engine.vip)
    # Levels push `user.progression`, announce level-ups in rooms and grant level rewards.
    app[LEVELS] = levels = Levels(rooms)
    register_level_jobs(levels)
    register_badge_jobs(realtime)  # badge rules from the check queue, and badge.earned pushes
    # Recognition: level-ups, rare badges and top finishes announced in rooms and to followers.
    register_recognition_jobs(Recognition(rooms, notifications))
    register_campaign_jobs(realtime)  # campaign qualifiers paid, ended campaigns closed
    # Operations views (issue 15 §2, §9): this process's published figures and its recent ERROR lines.
    app[OPS] = ops = register_ops(realtime, app[METRICS])
    register_system_events(realtime)  # maintenance told to sockets that connect while it is on
    setup_routes(app)
    setup_admin(app)  # the dashboard under /admin/ (issue 15)
    app.cleanup_ctx.append(ops.lifespan)  # first: the error log hears the services' start and stop
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(_flusher_ctx)
    app.cleanup_ctx.append(_realtime_ctx)
    app.on_shutdown.append(_on_shutdown)
    return app
