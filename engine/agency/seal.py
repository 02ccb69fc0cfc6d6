"""Sealing the ID document references of agency applications at rest: AES-256-GCM with a key from
AGENCY_ID_DOCS_KEY (or, when that is empty, derived from JWT_SECRET, so a development deployment
needs no extra secret). The agency id is the associated data: a sealed value copied onto another
agency's row does not open. No I/O."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.config import Config

VERSION = b"\x01"
NONCE_BYTES = 12


def key_of(config: Config) -> bytes:
    secret = config.agency_id_docs_key or config.jwt_secret
    return hashlib.sha256(b"flylive agency id documents\x00" + secret.encode()).digest()


def seal(key: bytes, agency_id: int, text: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, text.encode(), str(agency_id).encode())


def unseal(key: bytes, agency_id: int, sealed: bytes | None) -> str | None:
    """The reference, or None (none stored, anonymised, or sealed with another key)."""
    if not sealed or sealed[:1] != VERSION:
        return None
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, str(agency_id).encode()).decode()
    except Exception:  # InvalidTag: another key, or tampered with
        return None
