"""ImageKit client-side upload signatures (legacy `POST /api/signed-url`, backend-contract §5.1).

The client uploads straight to ImageKit with `token`, `expire` and `signature`; ImageKit checks
`signature = hex(HMAC-SHA1(private_key, token + expire))`. The legacy server accepted any
type/extension pair; here the extension must belong to the type.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Literal

import msgspec

EXTENSIONS = {
    "image": ("webp", "jpg", "jpeg", "png", "svg"),
    "video": ("mp4", "mov", "avi", "mkv"),
    "audio": ("mp3", "wav", "ogg"),
}
EXPIRES_IN = 1800


class SignedUrlBody(msgspec.Struct):
    type: Literal["image", "video", "audio"]
    extension: Literal["webp", "jpg", "jpeg", "png", "svg", "mp4", "mov", "avi", "mkv", "mp3", "wav", "ogg"]


def extension_matches(body: SignedUrlBody) -> bool:
    return body.extension in EXTENSIONS[body.type]


def sign_upload(private_key: str, user_id: int, body: SignedUrlBody, now: float | None = None) -> dict[str, object]:
    token = str(uuid.uuid4())
    expire = int(now if now is not None else time.time()) + EXPIRES_IN
    signature = hmac.new(private_key.encode(), f"{token}{expire}".encode(), hashlib.sha1).hexdigest()
    return {
        "signature": signature,
        "expire": expire,
        "token": token,
        "filename": f"{user_id}-{body.type}-{uuid.uuid4()}.{body.extension}",
        "tag": [f"{user_id}-user"],
    }


# --- a file relayed to ImageKit (the dashboard's catalog uploads, issue 15 §7) -------------------
# The dashboard's Content-Security-Policy lets a page post only to the engine, so the staff
# member's browser sends the file here and the engine uploads it with the same signature a client
# would use (token, expire, signature: sign_upload above) plus the account's public key.

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def extension_of(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def type_of(extension: str) -> str | None:
    """The upload type an extension belongs to (None: not an accepted file)."""
    return next((kind for kind, extensions in EXTENSIONS.items() if extension in extensions), None)


def upload_fields(public_key: str, signed: dict[str, object], folder: str) -> dict[str, str]:
    """ImageKit's upload API fields besides the file itself."""
    return {
        "fileName": str(signed["filename"]),
        "publicKey": public_key,
        "signature": str(signed["signature"]),
        "expire": str(signed["expire"]),
        "token": str(signed["token"]),
        "tags": ",".join(str(t) for t in signed["tag"]),  # type: ignore[attr-defined]
        "folder": folder,
        "useUniqueFileName": "false",
    }
