"""Recharge: packages, orders, provider webhooks and fulfilment.

A provider event is recorded once (`payment_events` primary key) in the same transaction as the
order's status change, and the coins are minted through the wallet's Lua path with the order id as
idempotency key: a webhook delivered twice, or a fulfilment retried after a crash, pays once.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Literal

import msgspec

from engine.accounts.model import iso_timestamp
from engine.economy import model as money
from engine.economy.actions import apply_with_wallet, flag_for_review
from engine.errors import DomainError, not_found
from engine.payments import store
from engine.payments.model import EVENT_OUTCOMES, ProviderEvent, SignatureError, can_move, signature_header, verify
from engine.payments.providers import SANDBOX, PaymentProvider, installed_provider
from engine.services import Services

log = logging.getLogger("flylive.payments")
_event_decoder = msgspec.json.Decoder(ProviderEvent)
SandboxOutcome = Literal["succeeded", "failed", "refunded"]
SANDBOX_EVENTS: dict[str, str] = {"succeeded": "payment_intent.succeeded", "failed": "payment_intent.payment_failed",
                                  "refunded": "charge.refunded"}  # fmt: skip


def _provider(svc: Services) -> PaymentProvider:
    provider = installed_provider(svc.config.payment_provider)
    if provider is None:
        raise DomainError("payments_unavailable", "Recharge is not available on this deployment.", status=503)
    return provider


async def list_packages(svc: Services, country: str | None) -> list[dict[str, Any]]:
    async with svc.pool.acquire() as conn:
        return await store.packages_on_sale(conn, country)


async def do_create_order(svc: Services, user_id: int, package_id: int) -> dict[str, Any]:
    order_id = uuid.uuid4()
    async with svc.pool.acquire() as conn:
        package = await store.package_on_sale(conn, package_id)
        if package is None:
            raise not_found("Package")
        provider = _provider(svc)
        checkout = provider.checkout(str(order_id), int(package["price_cents"]), str(package["currency"]))
        row = await store.insert_order(conn, order_id, user_id, package, provider.name, checkout.provider_ref)
    return {**order_json(row), "checkout": checkout.next_step}


def order_json(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": str(row["id"])}


async def list_orders(svc: Services, user_id: int, limit: int) -> list[dict[str, Any]]:
    """The user's orders, newest first."""
    async with svc.pool.acquire() as conn:
        rows = await store.user_orders(conn, user_id, limit)
    return [{**order_json(r), "created_at": iso_timestamp(r["created_at"]),
             "updated_at": iso_timestamp(r["updated_at"])} for r in rows]  # fmt: skip


async def fulfil(svc: Services, order_id: uuid.UUID) -> str:
    """Mint a paid order's coins (at most once) and mark it fulfilled; return its status."""
    async with svc.pool.acquire() as conn:
        order = await store.get_order(conn, order_id)
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
        await store.mark_fulfilled(conn, order_id, txn.txn_id)
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


def _verified_event(svc: Services, raw: bytes, header: str) -> ProviderEvent:
    secrets = (svc.config.payment_webhook_secret, *svc.config.payment_webhook_secret_previous)
    try:
        verify(header, raw, tuple(s for s in secrets if s), time.time())
    except SignatureError as exc:
        svc.metrics.payment_events.labels("bad_signature").inc()
        raise DomainError("bad_signature", "The webhook signature is not valid.", status=400) from exc
    try:
        return _event_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise DomainError("invalid_event", "The event could not be read.", status=400) from exc


async def do_handle_event(svc: Services, provider: str, raw: bytes, header: str) -> dict[str, Any]:
    """A provider's webhook call; only the installed provider's path exists."""
    if provider != svc.config.payment_provider or installed_provider(provider) is None:
        raise not_found("Provider")
    event = _verified_event(svc, raw, header)
    target = EVENT_OUTCOMES.get(event.type)
    order_ref = event.data.object.metadata.get("order_id")
    order_id = uuid.UUID(order_ref) if order_ref and _is_uuid(order_ref) else None
    async with svc.pool.acquire() as conn, conn.transaction():
        if not await store.record_event_txn(conn, provider, event.id, event.type, order_id):
            svc.metrics.payment_events.labels("duplicate").inc()
            return {"received": True, "duplicate": True}
        order = await store.lock_order_txn(conn, order_id)
        if target is None or order is None or not can_move(order["status"], target):
            svc.metrics.payment_events.labels("ignored").inc()
            log.info("payment event ignored", extra={"event_id": event.id, "type": event.type, "order": order_ref})
            return {"received": True, "ignored": True}
        await store.set_status_txn(conn, order["id"], target)
    svc.metrics.payment_events.labels(target).inc()
    if target == "paid":
        return {"received": True, "status": await fulfil(svc, order["id"])}
    if target == "refunded" and order["status"] == "fulfilled":
        await _refund(svc, order)
    return {"received": True, "status": target}


async def do_sandbox_complete(svc: Services, user_id: int, order_ref: str, outcome: SandboxOutcome) -> dict[str, Any]:
    """The sandbox's "payment page": the buyer pays (or fails, or is refunded), and the sandbox calls
    the webhook with the same signed event, down the same path, as a real provider would."""
    if svc.config.payment_provider != SANDBOX:
        raise not_found("Route")
    async with svc.pool.acquire() as conn:
        owner = await store.order_owner(conn, order_ref)
    if owner is None or owner != user_id:
        raise not_found("Order")
    if not svc.config.payment_webhook_secret:
        raise DomainError("payments_unavailable", "No webhook secret configured.", status=503)
    event = {"id": f"evt_sandbox_{uuid.uuid4().hex}", "type": SANDBOX_EVENTS[outcome],
             "data": {"object": {"id": f"pi_sandbox_{order_ref}", "metadata": {"order_id": order_ref}}}}  # fmt: skip
    raw = msgspec.json.encode(event)
    header = signature_header(svc.config.payment_webhook_secret, int(time.time()), raw)
    return await do_handle_event(svc, SANDBOX, raw, header)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def fulfil_stuck_orders(svc: Services, older_than_seconds: int = 30) -> int:
    """Finish orders left `paid` by a crash between the payment and the credit."""
    async with svc.pool.acquire() as conn:
        order_ids = await store.stuck_paid_orders(conn, older_than_seconds)
    done = 0
    for order_id in order_ids:
        done += await fulfil(svc, order_id) == "fulfilled"
    return done
