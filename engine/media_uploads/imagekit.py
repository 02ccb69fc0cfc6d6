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
