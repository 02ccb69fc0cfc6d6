"""`/api/v1` VIP routes (issue 14 §4, docs/vip.md): the tiers, one's own VIP, buying and gifting
it, and staff edits of a tier."""

from __future__ import annotations

from aiohttp import web

from engine.accounts.vip_model import FLSVIP
from engine.appkeys import SERVICES, VIP
from engine.errors import not_found
from engine.vip import actions, tiers
from engine.vip.model import GiftBody, HistoryQuery, PurchaseBody, TierBody
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import parse_int, read_body, read_query
from httpapi.contract import ApiRoutes, Id
from httpapi.responses import ok

routes = ApiRoutes()


@routes.api("GET", "/api/v1/vip/tiers", summary="The VIP tiers on sale: price per 30-day month and privileges.",
            response=list[schemas.VipTier])  # fmt: skip
async def list_tiers(request: web.Request) -> web.Response:
    return ok(await tiers.list_tiers(request.app[SERVICES]))


@routes.api("GET", "/api/v1/me/vip", summary="The caller's VIP in force (level 0 once expired).",
            response=schemas.MyVip)  # fmt: skip
@login_required
async def my_vip(request: web.Request) -> web.Response:
    return ok(await tiers.my_vip(request.app[VIP], caller_id(request)))


@routes.api("GET", "/api/v1/me/vip/purchases", summary="The caller's VIP purchases, gifts given and received and "
            "reward grants, newest first.", query=HistoryQuery, response=schemas.VipPurchasePage)  # fmt: skip
@login_required
async def my_purchases(request: web.Request) -> web.Response:
    q = read_query(request, HistoryQuery)
    return ok(await tiers.my_purchases(request.app[SERVICES], caller_id(request), q))


@routes.api("POST", "/api/v1/vip/purchase", summary="Buy VIP with coins: the same tier renews (extends the "
            "expiry), a higher tier upgrades (the old tier's remaining time converted by the price ratio); a lower "
            "tier while a higher one is in force is refused (409). Idempotent by `idempotency_key`.",
            body=PurchaseBody, response=schemas.VipPurchase, errors=(404, 409))  # fmt: skip
@login_required
async def purchase(request: web.Request) -> web.Response:
    body = await read_body(request, PurchaseBody)
    return ok(await actions.do_purchase(request.app[VIP], caller_id(request), body))


@routes.api("POST", "/api/v1/vip/gift", summary="Give VIP to another user: the caller pays, the user gets it "
            "(the purchase rules apply to the recipient's VIP) and hears `vip.gifted`. 404 for an unknown user or one "
            "in a block with the caller.", body=GiftBody, response=schemas.VipPurchase, errors=(404, 409))  # fmt: skip
@login_required
async def gift(request: web.Request) -> web.Response:
    body = await read_body(request, GiftBody)
    return ok(await actions.do_gift(request.app[VIP], caller_id(request), body))


@routes.api("PUT", "/api/v1/admin/vip/tiers/{level}", summary="Staff: set a tier's name, monthly price, "
            "privileges and sale state (audited; every process reads the new tier at once).",
            body=TierBody, response=schemas.VipTier, params={"level": Id}, errors=(404,))  # fmt: skip
@permission_required("catalog.manage")
async def update_tier(request: web.Request) -> web.Response:
    level = parse_int(request.match_info["level"])
    if level is None or not 1 <= level <= FLSVIP:
        raise not_found("VIP tier")
    body = await read_body(request, TierBody)
    return ok(await tiers.do_update_tier(request.app[SERVICES], caller_id(request), level, body))
