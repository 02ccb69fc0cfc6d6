"""Every REST route, in one place. Each declares its contract (httpapi/contract.py), from which
docs/openapi.json is generated."""

from __future__ import annotations

from aiohttp import web

from httpapi import (
    activity,
    agency,
    agency_analytics,
    agency_income,
    agency_owner,
    agency_settlement,
    agency_social,
    badges,
    campaigns,
    economy,
    gdpr,
    giftstats,
    inbox,
    legacy,
    levels,
    mall,
    notifications,
    ops,
    payments,
    ranking_rewards,
    rankings,
    reports,
    resellers,
    rewards,
    rooms,
    social,
    system,
    v1,
    vip,
)
from httpapi.docs import setup_docs


def setup_routes(app: web.Application) -> None:
    app.add_routes(ops.routes)
    app.add_routes(legacy.routes)
    app.add_routes(rankings.routes)
    app.add_routes(social.routes)  # before v1: /api/v1/users/search must not be read as /api/v1/users/{id}
    app.add_routes(v1.routes)
    app.add_routes(gdpr.routes)
    app.add_routes(notifications.routes)
    app.add_routes(inbox.routes)
    app.add_routes(activity.routes)
    app.add_routes(reports.routes)
    app.add_routes(rooms.routes)
    app.add_routes(economy.routes)
    app.add_routes(payments.routes)
    app.add_routes(resellers.routes)
    app.add_routes(mall.routes)
    # before agency: /api/v1/agencies/leaderboard must not be read as /api/v1/agencies/{id}
    app.add_routes(agency_analytics.routes)
    app.add_routes(agency.routes)
    app.add_routes(agency_social.routes)
    app.add_routes(agency_income.routes)
    app.add_routes(agency_owner.routes)
    app.add_routes(agency_settlement.routes)
    app.add_routes(giftstats.routes)
    app.add_routes(rewards.routes)
    app.add_routes(vip.routes)
    app.add_routes(levels.routes)
    app.add_routes(badges.routes)
    app.add_routes(ranking_rewards.routes)
    app.add_routes(campaigns.routes)
    app.add_routes(system.routes)  # maintenance status and the caller's flags (issue 15 §9)
    setup_docs(app)
