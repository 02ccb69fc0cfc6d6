"""Access-token signing and password hashing, as units and (legacy bcrypt upgrade) through the API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import bcrypt
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from engine.auth.passwords import PasswordHasher
from engine.auth.tokens import TokenError, TokenSigner
from tests.helpers import PASSWORD, bearer, db, login

Client = TestClient[web.Request, web.Application]

KEY = "current-signing-key-" + "k" * 40
OLD_KEY = "previous-signing-key-" + "o" * 40
OTHER_KEY = "somebody-elses-key-" + "z" * 40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(payload: dict[str, Any], key: str = KEY, header: dict[str, Any] | None = None, digest: Any = None) -> str:
    """Build a JWT by hand, so the header and signature can be anything an attacker chooses."""
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if digest is None:
        return signing_input + "."
    signature = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"sub": "42", "id": 42, "sid": "session-1", "iat": now, "exp": now + 600, "typ": "access"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def reason(signer: TokenSigner, token: str) -> str:
    with pytest.raises(TokenError) as info:
        signer.verify(token)
    return info.value.reason


# --- tokens ---------------------------------------------------------------------------------------


def test_issue_verify_roundtrip() -> None:
    signer = TokenSigner(KEY, ttl_seconds=300)
    before = int(time.time())
    token, expires = signer.issue(42, "session-1", {"name": "Ann", "vip_level": 3})
    got = signer.verify(token)
    assert got.user_id == 42 and got.session_id == "session-1" and got.name == "Ann"
    assert got.raw["id"] == 42 and got.raw["sid"] == "session-1" and got.raw["typ"] == "access"
    assert got.raw["name"] == "Ann" and got.raw["vip_level"] == 3 and got.raw["sub"] == "42"
    assert got.expires_at == expires == got.issued_at + 300 and got.issued_at >= before
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_hand_made_token_verifies() -> None:
    # The control for the attacks below: the crafting helper itself makes tokens the signer accepts.
    got = TokenSigner(KEY).verify(craft(claims(name="Bo"), digest=hashlib.sha256))
    assert (got.user_id, got.session_id, got.name) == (42, "session-1", "Bo")


def test_expired_token() -> None:
    past = int(time.time()) - 120
    token = craft(claims(iat=past - 600, exp=past), digest=hashlib.sha256)
    assert reason(TokenSigner(KEY), token) == "expired"
    issued, _ = TokenSigner(KEY, ttl_seconds=-60).issue(1, "s", {"name": "x"})
    assert reason(TokenSigner(KEY), issued) == "expired"


def test_wrong_key_is_invalid() -> None:
    token, _ = TokenSigner(OTHER_KEY).issue(42, "session-1", {"name": "Ann"})
    assert reason(TokenSigner(KEY), token) == "invalid"
    # An expired token under an unknown key says nothing about expiry: its signature is bad first.
    past = int(time.time()) - 120
    stale = craft(claims(iat=past - 600, exp=past), key=OTHER_KEY, digest=hashlib.sha256)
    assert reason(TokenSigner(KEY), stale) == "invalid"


def test_key_rotation() -> None:
    old_signer = TokenSigner(OLD_KEY)
    rotated = TokenSigner(KEY, previous=(OLD_KEY,))
    old_token, _ = old_signer.issue(7, "old-session", {"name": "Old"})
    assert rotated.verify(old_token).user_id == 7

    new_token, _ = rotated.issue(8, "new-session", {"name": "New"})
    assert rotated.verify(new_token).session_id == "new-session"
    assert reason(old_signer, new_token) == "invalid"  # signed with the new key, not the old one
    assert jwt.decode(new_token, KEY, algorithms=["HS256"])["id"] == 8
    assert reason(TokenSigner(KEY), old_token) == "invalid"  # once the old key is dropped
    past = int(time.time()) - 120
    stale_old = craft(claims(iat=past - 600, exp=past), key=OLD_KEY, digest=hashlib.sha256)
    assert reason(rotated, stale_old) == "expired"


@pytest.mark.parametrize(
    ("header", "digest"),
    [
        ({"alg": "none", "typ": "JWT"}, None),
        ({"alg": "None", "typ": "JWT"}, None),
        ({"typ": "JWT"}, hashlib.sha256),
        ({"alg": "HS512", "typ": "JWT"}, hashlib.sha512),
        ({"alg": "HS384", "typ": "JWT"}, hashlib.sha384),
        ({"alg": "RS256", "typ": "JWT"}, hashlib.sha256),
        ({"alg": "ES256", "typ": "JWT"}, hashlib.sha256),
    ],
)
def test_other_algorithms_are_invalid(header: dict[str, Any], digest: Any) -> None:
    assert reason(TokenSigner(KEY), craft(claims(), header=header, digest=digest)) == "invalid"


def test_alg_none_made_by_pyjwt_is_invalid() -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert reason(TokenSigner(KEY), token) == "invalid"


@pytest.mark.parametrize(
    "changes",
    [
        {"sid": None},
        {"sub": None},
        {"exp": None},
        {"iat": None},
        {"typ": None},
        {"typ": "refresh"},
        {"sub": "abc"},
        {"sub": "-5"},
    ],
)
def test_bad_claims_are_invalid(changes: dict[str, Any]) -> None:
    assert reason(TokenSigner(KEY), craft(claims(**changes), digest=hashlib.sha256)) == "invalid"


def test_tampered_payload_is_invalid() -> None:
    signer = TokenSigner(KEY)
    token, _ = signer.issue(42, "session-1", {"name": "Ann"})
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(sub="1", id=1)
    forged = f"{header}.{b64(json.dumps(body).encode())}.{signature}"
    assert reason(signer, forged) == "invalid"
    flipped = f"{header}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    assert reason(signer, flipped) == "invalid"


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "Bearer x"])
def test_garbage_is_invalid(garbage: str) -> None:
    assert reason(TokenSigner(KEY), garbage) == "invalid"


# --- passwords ------------------------------------------------------------------------------------


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=1024, time_cost=1)


def legacy_hash(password: str) -> str:
    made = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert made.startswith("$2b$")
    return "$2y$" + made[4:]


async def test_argon2id_hash_and_verify(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert stored != await hasher.hash("correct horse")  # salted
    assert await hasher.verify(stored, "correct horse") is True
    assert await hasher.verify(stored, "correct horsf") is False
    assert await hasher.verify(None, "correct horse") is False
    assert await hasher.verify("not a hash at all", "correct horse") is False
    assert hasher.needs_rehash(stored) is False
    assert PasswordHasher(memory_kib=2048, time_cost=2).needs_rehash(stored) is True


async def test_legacy_bcrypt_hash(hasher: PasswordHasher) -> None:
    stored = legacy_hash("laravel-secret")
    assert await hasher.verify(stored, "laravel-secret") is True
    assert await hasher.verify(stored, "laravel-secreT") is False
    assert hasher.needs_rehash(stored) is True
    assert hasher.needs_rehash("$2b$" + stored[4:]) is True


async def test_legacy_bcrypt_uses_first_72_bytes(hasher: PasswordHasher) -> None:
    long_password = "p" * 72 + "ignored-by-php"
    stored = legacy_hash(long_password)
    assert await hasher.verify(stored, long_password) is True
    assert await hasher.verify(stored, "p" * 71) is False


async def test_legacy_hash_login_upgrades_to_argon2id(
    client: Client, register: Any, database_url: str, hasher: PasswordHasher
) -> None:
    tokens = await register()
    legacy = legacy_hash(PASSWORD)
    async with db(database_url) as conn:
        await conn.execute("UPDATE users SET password_hash = $1 WHERE phone = $2", legacy, tokens["phone"])

        wrong = await login(client, tokens["phone"], PASSWORD + "x")
        assert wrong.status == 422
        assert await conn.fetchval("SELECT password_hash FROM users WHERE phone = $1", tokens["phone"]) == legacy

        resp = await login(client, tokens["phone"])
        assert resp.status == 200, await resp.text()
        assert (await client.get("/api/user", headers=bearer((await resp.json())["token"]))).status == 200
        upgraded = await conn.fetchval("SELECT password_hash FROM users WHERE phone = $1", tokens["phone"])
    assert upgraded.startswith("$argon2id$")
    assert await hasher.verify(upgraded, PASSWORD) is True
    again = await login(client, tokens["phone"])
    assert again.status == 200
