"""Wallet and gift catalog REST."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from engine.accounts.model import iso_timestamp
from engine.appkeys import SERVICES
from engine.economy import actions
from engine.economy import store as economy_store
from engine.economy.exchange import do_exchange
from engine.gifts import store as gifts_store
from httpapi import schemas
from httpapi.auth import caller_id, login_required, permission_required
from httpapi.common import path_id, read_body, read_query
from httpapi.contract import ApiRoutes
from httpapi.responses import ok

routes = ApiRoutes()
Key = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[\w:.-]+$")]


class AdjustBody(msgspec.Struct):
    currency: Literal["coins", "diamonds"]
    amount: Annotated[int, msgspec.Meta(ge=1, le=10**12)]
    direction: Literal["grant", "deduct"]
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=255)]
    idempotency_key: Key


@routes.api("GET", "/api/v1/wallet", summary="The caller's balances.", response=schemas.Balances)
@login_required
async def wallet(request: web.Request) -> web.Response:
    return ok(await actions.get_balances(request.app[SERVICES], caller_id(request)))


class HistoryQuery(msgspec.Struct):
    currency: Literal["coins", "diamonds", "usd_cents"] | None = None
    kind: Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[a-z_]+$")] | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: Annotated[int, msgspec.Meta(ge=1)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


@routes.api(
    "GET",
    "/api/v1/wallet/transactions",
    summary="The caller's ledger, newest first.",
    query=HistoryQuery,
    response=schemas.LedgerPage,
)
@login_required
async def transactions(request: web.Request) -> web.Response:
    """The caller's ledger, newest first; pass the returned `next_cursor` for the next page."""
    q = read_query(request, HistoryQuery)
    async with request.app[SERVICES].pool.acquire() as conn:
        rows = await economy_store.history(
            conn, caller_id(request), currency=q.currency, kind=q.kind, since=q.since, until=q.until,
            before_id=q.cursor, limit=q.limit,
        )  # fmt: skip
    items = [{**row, "txn_id": str(row["txn_id"]), "created_at": iso_timestamp(row["created_at"])} for row in rows]
    next_cursor = rows[-1]["id"] if len(rows) == q.limit else None
    return ok({"items": items, "next_cursor": next_cursor})


class ExchangeBody(msgspec.Struct):
    diamonds: Annotated[int, msgspec.Meta(ge=1, le=10**12)]
    idempotency_key: Key


@routes.api(
    "POST",
    "/api/v1/wallet/exchange",
    summary="Exchange diamonds for coins (current and former agency members).",
    body=ExchangeBody,
    response=schemas.Exchanged,
    errors=(403, 409),
)
@login_required
async def exchange(request: web.Request) -> web.Response:
    body = await read_body(request, ExchangeBody)
    user_id = caller_id(request)
    return ok(await do_exchange(request.app[SERVICES], user_id, body.diamonds, body.idempotency_key))


@routes.api(
    "POST",
    "/api/v1/admin/wallets/{id}/adjust",
    summary="Grant or deduct coins or diamonds (staff).",
    body=AdjustBody,
    response=schemas.Adjusted,
    errors=(409,),
)
@permission_required("economy.grant")
async def adjust(request: web.Request) -> web.Response:
    body = await read_body(request, AdjustBody)
    result = await actions.do_adjust(
        request.app[SERVICES], caller_id(request), path_id(request), body.currency, body.amount,
        direction=body.direction, reason=body.reason, key=body.idempotency_key,
    )  # fmt: skip
    return ok(result)


class GiftsQuery(msgspec.Struct):
    category: str | None = None
    max_price: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | None = None
    """In coins; 0 or absent: no cap."""


@routes.api("GET", "/api/v1/gifts", summary="The active gift catalog.", query=GiftsQuery, response=list[schemas.Gift])
async def list_gifts(request: web.Request) -> web.Response:
    q = read_query(request, GiftsQuery)
    async with request.app[SERVICES].pool.acquire() as conn:
        gifts = await gifts_store.list_gifts(conn, category=q.category or None, max_price=q.max_price or None,
                                             include_inactive=False)  # fmt: skip
    for gift in gifts:
        gift["starts_at"], gift["ends_at"] = iso_timestamp(gift["starts_at"]), iso_timestamp(gift["ends_at"])
    return ok(gifts)


class SettingsBody(msgspec.Struct):
    """Economy settings to change; each in basis points unless named otherwise."""

    values: dict[Annotated[str, msgspec.Meta(max_length=64)], Annotated[int, msgspec.Meta(ge=0, le=10**12)]]


@routes.api(
    "GET",
    "/api/v1/admin/economy/settings",
    summary="Economy settings (basis points unless named otherwise).",
    response=dict[str, int],
)
@permission_required("settings.manage")
async def get_settings(request: web.Request) -> web.Response:
    async with request.app[SERVICES].pool.acquire() as conn:
        return ok(await economy_store.settings(conn))


@routes.api(
    "PATCH",
    "/api/v1/admin/economy/settings",
    summary="Change economy settings.",
    body=SettingsBody,
    response=dict[str, int],
)
@permission_required("settings.manage")
async def update_settings(request: web.Request) -> web.Response:
    body = await read_body(request, SettingsBody)
    return ok(await actions.do_update_settings(request.app[SERVICES], caller_id(request), body.values))
