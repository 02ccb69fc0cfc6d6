"""Access tokens (short-lived HS256 JWTs) and opaque refresh tokens.

The `alg` header is pinned to HS256, so a token claiming `none` or an asymmetric algorithm is
rejected before any key is tried. During key rotation new tokens are signed with the current key
while tokens signed with any key in the previous-key list still verify until they expire.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"


class TokenError(Exception):
    """`reason` is "expired" or "invalid"; callers map it to their wire error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: str
    name: str
    issued_at: int
    expires_at: int
    raw: dict[str, Any]


class TokenSigner:
    def __init__(self, secret: str, previous: tuple[str, ...] = (), ttl_seconds: int = 900) -> None:
        self._secret = secret
        self._verify_keys = (secret, *previous)
        self.ttl = ttl_seconds

    def issue(self, user_id: int, session_id: str, profile: dict[str, Any]) -> tuple[str, int]:
        """Sign an access token; `profile` carries the display claims sockets read (name, …)."""
        now = int(time.time())
        expires = now + self.ttl
        claims = {
            **profile,
            "sub": str(user_id),
            "id": user_id,
            "sid": session_id,
            "iat": now,
            "exp": expires,
            "typ": "access",
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("invalid") from exc
        if header.get("alg") != ALGORITHM:
            raise TokenError("invalid")
        for key in self._verify_keys:
            try:
                claims = jwt.decode(
                    token, key, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub", "sid"]}
                )
            except jwt.ExpiredSignatureError as exc:
                raise TokenError("expired") from exc
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise TokenError("invalid") from exc
            if claims.get("typ") != "access" or not str(claims["sub"]).isascii() or not str(claims["sub"]).isdigit():
                raise TokenError("invalid")
            return AccessClaims(
                int(claims["sub"]),
                str(claims["sid"]),
                str(claims.get("name", "")),
                int(claims["iat"]),
                int(claims["exp"]),
                claims,
            )
        raise TokenError("invalid")


def new_refresh_token() -> tuple[str, bytes]:
    """Return (token for the client, hash to store). Only the hash ever reaches the database."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
