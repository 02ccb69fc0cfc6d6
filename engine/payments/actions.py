"""Recharge: packages, orders, provider webhooks and fulfilment.

A provider event is recorded once (`payment_events` primary key) in the same transaction as the
order's status change, and the coins are minted through the wallet's Lua path with the order id as
idempotency key: a webhook delivered twice, or a fulfilment retried after a crash, pays once.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import msgspec

from engine.economy import model as money
from engine.economy.actions import apply_with_wallet
from engine.economy.store import flag_for_review
from engine.errors import DomainError, not_found
from engine.payments.model import EVENT_OUTCOMES, ProviderEvent, SignatureError, can_move, verify
from engine.payments.providers import provider_named
from engine.services import Services

log = logging.getLogger("flylive.payments")
_event_decoder = msgspec.json.Decoder(ProviderEvent)
ORDER_COLUMNS = "id, user_id, package_id, coins, bonus_coins, price_cents, currency, provider, provider_ref, status"


async def list_packages(svc: Services, country: str | None) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id, name, coins, bonus_coins, price_cents, currency, country FROM recharge_packages
               WHERE is_active AND (country IS NULL OR country = $1)
                 AND (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())
               ORDER BY price_cents, id""",
            country,
        )
    return [dict(r) for r in rows]


async def do_create_order(svc: Services, user_id: int, package_id: int) -> dict[str, Any]:
    order_id = uuid.uuid4()
    async with svc.pool.acquire() as conn:
        package = await conn.fetchrow(
            """SELECT id, coins, bonus_coins, price_cents, currency FROM recharge_packages
               WHERE id = $1 AND is_active AND (starts_at IS NULL OR starts_at <= now())
                 AND (ends_at IS NULL OR ends_at > now())""",
            package_id,
        )
        if package is None:
            raise not_found("Package")
        checkout = provider_named(svc.config.payment_provider).checkout(
            str(order_id), int(package["price_cents"]), str(package["currency"])
        )
        provider_ref = checkout.provider_ref
        row = await conn.fetchrow(
            f"""INSERT INTO recharge_orders (id, user_id, package_id, coins, bonus_coins, price_cents, currency,
                                             provider, provider_ref)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {ORDER_COLUMNS}""",
            order_id, user_id, package_id, package["coins"], package["bonus_coins"], package["price_cents"],
            package["currency"], svc.config.payment_provider, provider_ref,
        )  # fmt: skip
    assert row is not None
    return {**order_json(dict(row)), "checkout": checkout.next_step}


def order_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": str(row["id"])}


async def fulfil(svc: Services, order_id: uuid.UUID) -> str:
    """Mint a paid order's coins (at most once) and mark it fulfilled; return its status."""
    async with svc.pool.acquire() as conn:
        order = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM recharge_orders WHERE id = $1", order_id)
    if order is None or order["status"] != "paid":
        return order["status"] if order else "missing"
    coins = int(order["coins"]) + int(order["bonus_coins"])
    txn = money.make_txn(
        "recharge", [money.Leg("user", order["user_id"], "coins", coins), money.Leg("mint", 0, "coins", -coins)],
        initiator_id=order["user_id"], ref_type="recharge_order", ref_id=str(order_id),
        metadata={"price_cents": order["price_cents"], "currency": order["currency"]},
    )  # fmt: skip
    result = await apply_with_wallet(svc, txn, f"recharge:{order_id}")
    if not result.ok:  # a frozen wallet: the money waits in `paid` until staff decide
        await flag_for_review(svc, order["user_id"], "recharge_blocked", {"order_id": str(order_id)})
        return "paid"
    async with svc.pool.acquire() as conn:
        await conn.execute(
            """UPDATE recharge_orders SET status = 'fulfilled', txn_id = coalesce(txn_id, $2::uuid), updated_at = now()
               WHERE id = $1 AND status = 'paid'""",
            order_id, txn.txn_id,
        )  # fmt: skip
    log.info("recharge fulfilled", extra={"order_id": str(order_id), "user_id": order["user_id"], "coins": coins})
    return "fulfilled"


async def _refund(svc: Services, order: dict[str, Any]) -> None:
    coins = int(order["coins"]) + int(order["bonus_coins"])
    txn = money.make_txn(
        "refund", [money.Leg("user", order["user_id"], "coins", -coins), money.Leg("burn", 0, "coins", coins)],
        initiator_id=order["user_id"], ref_type="recharge_order", ref_id=str(order["id"]),
    )  # fmt: skip
    result = await apply_with_wallet(svc, txn, f"refund:{order['id']}")
    if not result.ok:  # already spent: staff must settle it
        await flag_for_review(svc, order["user_id"], "refund_unrecovered", {"order_id": str(order["id"]),
                                                                            "coins": coins})  # fmt: skip


async def do_handle_event(svc: Services, provider: str, raw: bytes, header: str) -> dict[str, Any]:
    secrets = (svc.config.payment_webhook_secret, *svc.config.payment_webhook_secret_previous)
    try:
        verify(header, raw, tuple(s for s in secrets if s), time.time())
    except SignatureError as exc:
        svc.metrics.payment_events.labels("bad_signature").inc()
        raise DomainError("bad_signature", "The webhook signature is not valid.", status=400) from exc
    try:
        event = _event_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise DomainError("invalid_event", "The event could not be read.", status=400) from exc
    target = EVENT_OUTCOMES.get(event.type)
    order_ref = event.data.object.metadata.get("order_id")
    order_id = uuid.UUID(order_ref) if order_ref and _is_uuid(order_ref) else None
    async with svc.pool.acquire() as conn, conn.transaction():
        first = await conn.fetchval(
            """INSERT INTO payment_events (provider, event_id, type, order_id) VALUES ($1, $2, $3, $4)
               ON CONFLICT DO NOTHING RETURNING event_id""",
            provider, event.id, event.type, order_id,
        )  # fmt: skip
        if first is None:
            svc.metrics.payment_events.labels("duplicate").inc()
            return {"received": True, "duplicate": True}
        order = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM recharge_orders WHERE id = $1 FOR UPDATE", order_id)
        if target is None or order is None or not can_move(order["status"], target):
            svc.metrics.payment_events.labels("ignored").inc()
            log.info("payment event ignored", extra={"event_id": event.id, "type": event.type, "order": order_ref})
            return {"received": True, "ignored": True}
        await conn.execute("UPDATE recharge_orders SET status = $2, updated_at = now() WHERE id = $1", order_id, target)
    svc.metrics.payment_events.labels(target).inc()
    if target == "paid":
        assert order_id is not None
        return {"received": True, "status": await fulfil(svc, order_id)}
    if target == "refunded" and order["status"] == "fulfilled":
        await _refund(svc, dict(order))
    return {"received": True, "status": target}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def fulfil_stuck_orders(svc: Services, older_than_seconds: int = 30) -> int:
    """Finish orders left `paid` by a crash between the payment and the credit."""
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id FROM recharge_orders WHERE status = 'paid'
               AND updated_at < now() - make_interval(secs => $1) LIMIT 100""",
            older_than_seconds,
        )
    done = 0
    for row in rows:
        done += await fulfil(svc, row["id"]) == "fulfilled"
    return done
