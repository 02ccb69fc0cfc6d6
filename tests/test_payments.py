"""Recharge: orders, the Stripe-style webhook (valid, tampered, stale, replayed), the sandbox."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
import pytest

from engine.payments.model import SignatureError, signature_header, verify
from tests.helpers import bearer, db, register_user

SECRET = "whsec_test_secret"


async def setup_order(client: Any, config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    async with db(config.database_url) as conn:
        package = await conn.fetchval(
            """INSERT INTO recharge_packages (name, coins, bonus_coins, price_cents)
               VALUES ('P', 1700, 300, 99) RETURNING id"""
        )
    tokens = await register_user(client)
    resp = await client.post("/api/v1/wallet/recharge", headers=bearer(tokens["token"]), json={"package_id": package})
    assert resp.status == 201, await resp.text()
    order = (await resp.json())["data"]
    assert order["status"] == "pending" and order["coins"] == 1700 and order["bonus_coins"] == 300
    assert order["checkout"]["url"] == f"/api/v1/payments/sandbox/{order['id']}/complete"
    return tokens, order


def event(order_id: str, kind: str = "payment_intent.succeeded", event_id: str | None = None) -> bytes:
    body = {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": kind,
            "data": {"object": {"id": "pi_1", "metadata": {"order_id": order_id}}}}  # fmt: skip
    return msgspec.json.encode(body)


async def post(client: Any, raw: bytes, header: str) -> Any:
    headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
    return await client.post("/api/v1/payments/webhook/sandbox", data=raw, headers=headers)


async def balance(client: Any, token: str) -> int:
    return int((await (await client.get("/api/v1/wallet", headers=bearer(token))).json())["data"]["coins"])


async def test_webhook_signature_cases_and_exactly_once(make_client: Any, config: Any) -> None:
    client = await make_client(payment_webhook_secret=SECRET)
    tokens, order = await setup_order(client, config)
    raw, now = event(order["id"], event_id="evt_once"), int(time.time())

    tampered = raw.replace(b"succeeded", b"succeedex")
    assert (await post(client, tampered, signature_header(SECRET, now, raw))).status == 400
    stale = await post(client, raw, signature_header(SECRET, now - 3600, raw))
    assert stale.status == 400 and (await stale.json())["error"]["code"] == "bad_signature"
    wrong_key = await post(client, raw, signature_header("whsec_other", now, raw))
    assert wrong_key.status == 400
    assert await balance(client, tokens["token"]) == 0

    ok = await post(client, raw, signature_header(SECRET, now, raw))
    assert ok.status == 200 and (await ok.json())["status"] == "fulfilled"
    replay = await post(client, raw, signature_header(SECRET, now, raw))
    assert (await replay.json())["duplicate"] is True
    # A second, different "succeeded" event for the same order pays nothing more.
    second = event(order["id"])
    again = await post(client, second, signature_header(SECRET, now, second))
    assert again.status == 200
    assert await balance(client, tokens["token"]) == 2000
    history = await (await client.get("/api/v1/wallet/recharges", headers=bearer(tokens["token"]))).json()
    assert [o["status"] for o in history["data"]] == ["fulfilled"]


async def test_sandbox_refund_takes_the_coins_back(client: Any, register: Any, config: Any) -> None:
    tokens, order = await setup_order(client, config)
    url = f"/api/v1/payments/sandbox/{order['id']}/complete"
    paid = await client.post(url, headers=bearer(tokens["token"]), json={"outcome": "succeeded"})
    assert (await paid.json())["data"]["status"] == "fulfilled"
    assert await balance(client, tokens["token"]) == 2000
    refunded = await client.post(url, headers=bearer(tokens["token"]), json={"outcome": "refunded"})
    assert (await refunded.json())["data"]["status"] == "refunded"
    assert await balance(client, tokens["token"]) == 0
    stranger = await register()
    other = await client.post(url, headers=bearer(stranger["token"]), json={"outcome": "succeeded"})
    assert other.status == 404


async def test_failed_then_late_success(client: Any, register: Any, config: Any) -> None:
    tokens, order = await setup_order(client, config)
    url = f"/api/v1/payments/sandbox/{order['id']}/complete"
    failed = await client.post(url, headers=bearer(tokens["token"]), json={"outcome": "failed"})
    assert (await failed.json())["data"]["status"] == "failed"
    assert await balance(client, tokens["token"]) == 0
    late = await client.post(url, headers=bearer(tokens["token"]), json={"outcome": "succeeded"})
    assert (await late.json())["data"]["status"] == "fulfilled"
    assert await balance(client, tokens["token"]) == 2000


def test_verify_rules() -> None:
    raw, now = b'{"id":"evt"}', 1_800_000_000
    header = signature_header(SECRET, now, raw)
    assert verify(header, raw, (SECRET,), now + 299) == now
    assert verify(header, raw, ("whsec_new", SECRET), now) == now  # rotation: any listed secret
    for bad in ("", "v1=abc", f"t={now}", f"t=x,v1={header.split('v1=')[1]}"):
        with pytest.raises(SignatureError):
            verify(bad, raw, (SECRET,), now)
    with pytest.raises(SignatureError):
        verify(header, raw, (SECRET,), now + 301)
