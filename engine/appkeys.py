"""Typed keys for everything stored on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from engine.config import Config
from engine.metrics import Metrics
from engine.services import Services

if TYPE_CHECKING:
    from engine.agency.live import Agencies
    from engine.gdpr.live import Gdpr
    from engine.inbox.live import Inbox
    from engine.notifications.live import Notifications
    from engine.ops.live import Ops
    from engine.progression.levels_live import Levels
    from engine.progression.rankings import Rankings
    from engine.realtime.server import RealtimeServer
    from engine.reports.live import Reports
    from engine.rooms.live import LiveRooms
    from engine.social.live import Social
    from engine.vip.live import Vip

CONFIG = web.AppKey("config", Config)
METRICS = web.AppKey("metrics", Metrics)
SERVICES = web.AppKey("services", Services)
REALTIME: web.AppKey[RealtimeServer] = web.AppKey("realtime")
ROOMS: web.AppKey[LiveRooms] = web.AppKey("rooms")
SOCIAL: web.AppKey[Social] = web.AppKey("social")
NOTIFICATIONS: web.AppKey[Notifications] = web.AppKey("notifications")
GDPR: web.AppKey[Gdpr] = web.AppKey("gdpr")
INBOX: web.AppKey[Inbox] = web.AppKey("inbox")
REPORTS: web.AppKey[Reports] = web.AppKey("reports")
AGENCIES: web.AppKey[Agencies] = web.AppKey("agencies")
RANKINGS: web.AppKey[Rankings] = web.AppKey("rankings")
VIP: web.AppKey[Vip] = web.AppKey("vip")
LEVELS: web.AppKey[Levels] = web.AppKey("levels")
OPS: web.AppKey[Ops] = web.AppKey("ops")
