"""Payment providers: how an order is handed to a provider, and which webhook secret signs its events.

Every provider's events arrive at `POST /api/v1/payments/webhook/{name}` in Stripe's format and are
verified by signature; a provider only has to say how a checkout starts. The sandbox is built in:
its "payment page" is `POST /api/v1/payments/sandbox/{order}/complete`, which sends the provider's
signed event through the same webhook path. A real Stripe provider would create a PaymentIntent
here (with the order id in its metadata) and return its client secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Checkout:
    provider: str
    provider_ref: str
    next_step: dict[str, Any]


class PaymentProvider(Protocol):
    name: str

    def checkout(self, order_id: str, price_cents: int, currency: str) -> Checkout: ...


class SandboxProvider:
    name = "sandbox"

    def checkout(self, order_id: str, price_cents: int, currency: str) -> Checkout:
        return Checkout(
            self.name, f"pi_sandbox_{order_id.replace('-', '')}",
            {"method": "POST", "url": f"/api/v1/payments/sandbox/{order_id}/complete",
             "body": {"outcome": "succeeded | failed | refunded"}},
        )  # fmt: skip


PROVIDERS: dict[str, PaymentProvider] = {"sandbox": SandboxProvider()}


def provider_named(name: str) -> PaymentProvider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise LookupError(f"no payment provider named {name!r} is installed") from None
