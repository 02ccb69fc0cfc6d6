"""`/api/v1/admin/rankings/rewards` (issue 14 §3/§5, docs/progression.md "Rankings"): what each closed
ranking period pays, edited by staff with `settings.manage` (audited `rankings.rewards`)."""

from __future__ import annotations

from aiohttp import web

from engine.appkeys import SERVICES
from engine.errors import DomainError
from engine.progression import ranking_rewards
from engine.progression.ranking_rewards_model import RewardsBody, RewardsQuery
from engine.progression.rankings_model import BOARDS, CLOSING
from httpapi import schemas
from httpapi.auth import caller_id, permission_required
from httpapi.common import read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/admin/rankings/rewards", summary="What closed ranking periods pay: every tier, by "
            "board, period and rank (staff, `settings.manage`).", query=RewardsQuery,
            response=schemas.RankingRewardPage)  # fmt: skip
@permission_required("settings.manage")
async def list_rewards(request: web.Request) -> web.Response:
    return ok(await ranking_rewards.list_tiers(request.app[SERVICES], read_query(request, RewardsQuery)))


@routes.api("PUT", "/api/v1/admin/rankings/rewards/{board}/{period}", summary="Replace what a board's closed "
            "daily, weekly or monthly periods pay: `{tiers: [{rank_from, rank_to, coins}]}`, no rank paid twice "
            "([] pays nothing; staff, `settings.manage`; audited).", body=RewardsBody,
            response=schemas.RankingRewardTable, errors=(404,))  # fmt: skip
@permission_required("settings.manage")
async def replace_rewards(request: web.Request) -> web.Response:
    board, period = request.match_info["board"], request.match_info["period"]
    if board not in BOARDS or period not in CLOSING:
        raise DomainError("not_found", f"No ranking board {board[:32]} with closing period {period[:32]}", status=404)
    body = await read_body(request, RewardsBody)
    return ok(await ranking_rewards.do_replace(request.app[SERVICES], caller_id(request), board, period, body,
                                               request.remote))  # fmt: skip
