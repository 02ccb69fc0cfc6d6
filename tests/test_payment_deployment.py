"""Money is not minted by default: the sandbox provider and the built-in webhook secret are for
development deployments only, and production refuses to start with either."""

from __future__ import annotations

import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest

from engine import cli
from engine.app import create_app
from engine.config import DEV_WEBHOOK_SECRET, Config, ConfigError, development_warnings, load_config
from engine.payments.model import signature_header
from tests.helpers import TEST_SECRET, bearer, new_user

PG = "postgresql://u@db.example/flylive"


def test_own_servers_make_a_production_deployment_without_the_sandbox() -> None:
    for given in ({"DATABASE_URL": PG}, {"REDIS_URL": "redis://cache.example:6379/0"}, {"FLYLIVE_ENV": "production"}):
        config = load_config(given)
        assert config.environment == "production"
        assert (config.payment_provider, config.payment_webhook_secret) == ("none", "")
        assert development_warnings(config) == []


def test_production_refuses_the_sandbox_and_the_built_in_secret() -> None:
    with pytest.raises(ConfigError) as sandbox:
        load_config({"DATABASE_URL": PG, "PAYMENT_PROVIDER": "sandbox"})
    assert "PAYMENT_PROVIDER=sandbox" in str(sandbox.value) and "FLYLIVE_ENV=development" in str(sandbox.value)
    with pytest.raises(ConfigError) as secret:
        load_config({"DATABASE_URL": PG, "PAYMENT_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET})
    assert "PAYMENT_WEBHOOK_SECRET" in str(secret.value)
    with pytest.raises(ConfigError):
        load_config({"FLYLIVE_ENV": "production", "PAYMENT_WEBHOOK_SECRET_PREVIOUS": DEV_WEBHOOK_SECRET})
    # A Config built in code is held to the same rule when the app is made.
    with pytest.raises(ConfigError):
        create_app(Config(jwt_secret=TEST_SECRET, redis_url="redis://x", environment="production"))


def test_development_keeps_the_sandbox_and_says_so() -> None:
    bare = load_config({})  # `make serve`: embedded servers
    explicit = load_config({"DATABASE_URL": PG, "FLYLIVE_ENV": "development"})
    for config in (bare, explicit):
        assert (config.environment, config.payment_provider) == ("development", "sandbox")
        warnings = " ".join(development_warnings(config))
        assert "PAYMENT_PROVIDER=sandbox" in warnings and "PAYMENT_WEBHOOK_SECRET" in warnings


def test_the_cli_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("PAYMENT_PROVIDER", "sandbox")
    monkeypatch.delenv("FLYLIVE_ENV", raising=False)
    assert cli.main(["serve"]) == 2
    assert "PAYMENT_PROVIDER=sandbox" in capsys.readouterr().err


async def test_without_the_sandbox_nobody_pays_themselves(make_client: Any, config: Config) -> None:
    client = await make_client(environment="production", payment_provider="none", payment_webhook_secret="")
    user = await new_user(client)
    order = uuid.uuid4()
    conn = await asyncpg.connect(config.database_url)
    try:
        package = await conn.fetchval(
            "INSERT INTO recharge_packages (name, coins, price_cents) VALUES ('P', 100, 99) RETURNING id"
        )
        # An order the user owns, left from when the deployment still ran the sandbox.
        await conn.execute(
            """INSERT INTO recharge_orders (id, user_id, package_id, coins, bonus_coins, price_cents, currency,
                                            provider) VALUES ($1, $2, $3, 100, 0, 99, 'USD', 'sandbox')""",
            order, user.id, package,
        )  # fmt: skip
    finally:
        await conn.close()
    recharge = await client.post("/api/v1/wallet/recharge", headers=bearer(user.token), json={"package_id": package})
    assert recharge.status == 503 and (await recharge.json())["error"]["code"] == "payments_unavailable"
    url = f"/api/v1/payments/sandbox/{order}/complete"
    complete = await client.post(url, headers=bearer(user.token), json={"outcome": "succeeded"})
    assert complete.status == 404 and (await complete.json())["error"]["message"] == "Route not found."
    # A webhook signed with the built-in development secret finds no provider to accept it.
    raw = msgspec.json.encode({"id": "evt_1", "type": "payment_intent.succeeded",
                               "data": {"object": {"id": "pi_1", "metadata": {"order_id": "x"}}}})  # fmt: skip
    headers = {"Stripe-Signature": signature_header(DEV_WEBHOOK_SECRET, int(time.time()), raw)}
    for provider in ("sandbox", "none"):
        assert (await client.post(f"/api/v1/payments/webhook/{provider}", data=raw, headers=headers)).status == 404
    wallet = await (await client.get("/api/v1/wallet", headers=bearer(user.token))).json()
    assert wallet["data"] == {"coins": 0, "diamonds": 0}
