"""Payment providers: how an order is handed to a provider, and which webhook secret signs its events.

Every provider's events arrive at `POST /api/v1/payments/webhook/{name}` in Stripe's format and are
verified by signature; a provider only has to say how a checkout starts. The sandbox is built in:
its "payment page" is `POST /api/v1/payments/sandbox/{order}/complete`, which sends the provider's
signed event through the same webhook path. A real Stripe provider would create a PaymentIntent
here (with the order id in its metadata) and return its client secret.

The sandbox lets any buyer pay their own orders, so it mints coins for the asking: the config
refuses it outside a development deployment (`FLYLIVE_ENV`). `PAYMENT_PROVIDER=none` (production's
default until a real provider is installed) turns recharge off.
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


SANDBOX = "sandbox"
NO_PROVIDER = "none"


class SandboxProvider:
    name = SANDBOX

    def checkout(self, order_id: str, price_cents: int, currency: str) -> Checkout:
        return Checkout(
            self.name, f"pi_sandbox_{order_id.replace('-', '')}",
            {"method": "POST", "url": f"/api/v1/payments/sandbox/{order_id}/complete",
             "body": {"outcome": "succeeded | failed | refunded"}},
        )  # fmt: skip


PROVIDERS: dict[str, PaymentProvider] = {SANDBOX: SandboxProvider()}


def installed_provider(name: str) -> PaymentProvider | None:
    """The provider of that name, or None (`none`, recharge off)."""
    return PROVIDERS.get(name)
