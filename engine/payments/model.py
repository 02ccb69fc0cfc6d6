"""Recharge orders and payment-provider events: the state machine and the webhook signature. No I/O."""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import msgspec

OrderStatus = Literal["pending", "paid", "fulfilled", "failed", "refunded"]

# Which status an order may move to from which. Anything else is refused (and logged).
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "failed"}),
    "paid": frozenset({"fulfilled", "refunded"}),
    "fulfilled": frozenset({"refunded"}),
    "failed": frozenset({"paid"}),  # a late success after a reported failure still counts
    "refunded": frozenset(),
}

SIGNATURE_TOLERANCE_SECONDS = 300


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


class SignatureError(ValueError):
    pass


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    """Stripe's scheme: hex HMAC-SHA256 of "<timestamp>.<raw body>" with the endpoint secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, payload: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, payload)}"


def verify(header: str, payload: bytes, secrets: tuple[str, ...], now: float,
           tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> int:  # fmt: skip
    """Check a `Stripe-Signature` header (`t=…,v1=…[,v1=…]`); return its timestamp or raise."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise SignatureError("no timestamp") from exc
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance window")
    expected = [sign(secret, timestamp, payload) for secret in secrets]
    if not any(hmac.compare_digest(e, given) for e in expected for given in parts.get("v1", [])):
        raise SignatureError("signature mismatch")
    return timestamp


class EventObject(msgspec.Struct):
    id: str
    metadata: dict[str, str] = {}
    amount: int | None = None
    currency: str | None = None


class EventData(msgspec.Struct):
    object: EventObject


class ProviderEvent(msgspec.Struct):
    """The subset of a Stripe event the engine reads."""

    id: str
    type: str
    data: EventData


# Stripe event types -> what they mean for an order.
EVENT_OUTCOMES: dict[str, OrderStatus] = {
    "payment_intent.succeeded": "paid",
    "checkout.session.completed": "paid",
    "payment_intent.payment_failed": "failed",
    "charge.refunded": "refunded",
}
