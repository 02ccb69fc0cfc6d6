"""`/api/v1` routes of the reward ledger (issue 14 §5, docs/progression.md "Rewards"): the caller's
rewards (cursor pages, newest first), claiming a claimable one, and staff grants."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.appkeys import SERVICES
from engine.progression import rewards
from engine.progression.rewards_daily import grant_daily_login
from engine.progression.rewards_model import RewardItem
from engine.social.model import DEFAULT_LIMIT, Cursor, Limit
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()

Key = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")]


class RewardsQuery(msgspec.Struct):
    state: Literal["pending", "granted", "claimable", "claimed", "expired"] | None = None
    cursor: Cursor | None = None
    limit: Limit = DEFAULT_LIMIT


class ItemBody(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["coins", "frame", "badge", "vip"]
    amount: Annotated[int, msgspec.Meta(ge=0, le=10**9)] = 0
    ref: Annotated[int, msgspec.Meta(ge=0)] = 0
    days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 0


class AdminRewardBody(msgspec.Struct, forbid_unknown_fields=True):
    user_id: int
    items: Annotated[list[ItemBody], msgspec.Meta(min_length=1, max_length=10)]
    idempotency_key: Key
    """One grant per key (the reward's source_ref)."""
    note: Annotated[str, msgspec.Meta(max_length=200)] = ""


@routes.api("GET", "/api/v1/me/rewards", summary="Your rewards, newest first (claimable ones past their "
            "`claim_by` show as expired).", query=RewardsQuery, response=schemas.RewardPage)  # fmt: skip
@login_required
async def my_rewards(request: web.Request) -> web.Response:
    q = read_query(request, RewardsQuery)
    return ok(await rewards.list_rewards(request.app[SERVICES], caller_id(request), q.state, q.cursor, q.limit))


@routes.api("POST", "/api/v1/me/rewards/daily-login", summary="Today's daily login reward (business day of "
            "BUSINESS_TIMEZONE), once: the reward when this call earned it, null when already earned today or "
            "disabled (`daily_login_reward_coins` 0).", response=schemas.Reward | None)  # fmt: skip
@login_required
async def daily_login(request: web.Request) -> web.Response:
    row = await grant_daily_login(request.app[SERVICES], caller_id(request))
    return ok(rewards.public_item(row) if row is not None else None)


@routes.api("POST", "/api/v1/me/rewards/{id}/claim", summary="Claim a claimable reward, once: its items land "
            "(409 `already_claimed`; 410 `reward_expired` after its `claim_by`; 404 not yours).",
            response=schemas.Reward, errors=(404, 409, 410))  # fmt: skip
@login_required
async def claim(request: web.Request) -> web.Response:
    reward_id = path_id(request, what="Reward")
    return ok(await rewards.claim(request.app[SERVICES], caller_id(request), reward_id))


@routes.api("POST", "/api/v1/admin/rewards", summary="Grant a reward to a user (staff, `economy.grant`; "
            "source `admin`, one per idempotency key; audited).", body=AdminRewardBody,
            response=schemas.AdminReward, errors=(403, 404))  # fmt: skip
@permission_required("economy.grant")
async def admin_grant(request: web.Request) -> web.Response:
    body = await read_body(request, AdminRewardBody)
    items = [RewardItem(kind=i.kind, amount=i.amount, ref=i.ref, days=i.days) for i in body.items]
    result = await rewards.admin_grant(request.app[SERVICES], caller_id(request), body.user_id, items, body.note,
                                       body.idempotency_key)  # fmt: skip
    return ok(result, 201 if not result["replay"] else 200)
