"""POST /api/signed-url: ImageKit's upload signature, checked the way ImageKit checks it."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from tests.helpers import bearer, new_user

KEY = "private_test_key_123"


async def test_signature_verifies_with_the_private_key(make_client: Any) -> None:
    client = await make_client(imagekit_private_key=KEY)
    user = await new_user(client)
    resp = await client.post("/api/signed-url", headers=bearer(user.token), json={"type": "image", "extension": "png"})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    expected = hmac.new(KEY.encode(), f"{body['token']}{body['expire']}".encode(), hashlib.sha1).hexdigest()
    assert body["signature"] == expected
    assert 1790 <= body["expire"] - time.time() <= 1801
    assert body["filename"].startswith(f"{user.id}-image-") and body["filename"].endswith(".png")
    assert body["tag"] == [f"{user.id}-user"]
    mismatch = await client.post(
        "/api/signed-url", headers=bearer(user.token), json={"type": "audio", "extension": "png"}
    )
    assert mismatch.status == 422 and "extension" in (await mismatch.json())["errors"]
    assert (await client.post("/api/signed-url", json={"type": "image", "extension": "png"})).status == 401


async def test_without_a_key_uploads_are_unavailable(client: Any, register: Any) -> None:
    tokens = await register()
    resp = await client.post(
        "/api/signed-url", headers=bearer(tokens["token"]), json={"type": "image", "extension": "png"}
    )
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "uploads_unavailable"
