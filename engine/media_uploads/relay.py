"""Uploading a file to ImageKit for the dashboard's catalog (issue 15 §7), signed like a client's
upload (engine/media_uploads/imagekit.py). One HTTP call per upload, with a timeout; ImageKit's
answer names the file's URL."""

from __future__ import annotations

import io
import logging
from typing import Any

import aiohttp

from engine.config import Config
from engine.errors import DomainError, validation_error
from engine.media_uploads.imagekit import (
    MAX_UPLOAD_BYTES,
    SignedUrlBody,
    extension_of,
    sign_upload,
    type_of,
    upload_fields,
)  # fmt: skip

log = logging.getLogger("flylive.media_uploads")
TIMEOUT_SECONDS = 60
FOLDER = "/catalog"


def configured(config: Config) -> bool:
    return bool(config.imagekit_private_key and config.imagekit_public_key)


async def upload(config: Config, user_id: int, filename: str, data: bytes, content_type: str) -> str:
    """Upload the file; its URL on ImageKit. 422 for a file that is not an image, video or sound
    (by its extension) or is empty or too big; 503 when uploads are off or ImageKit fails."""
    if not configured(config):
        raise DomainError("uploads_unavailable", "Uploads are not configured (IMAGEKIT_PUBLIC_KEY, "
                          "IMAGEKIT_PRIVATE_KEY).", status=503)  # fmt: skip
    extension = extension_of(filename)
    kind = type_of(extension)
    if kind is None:
        raise validation_error({"file": ["Only images (webp, jpg, png, svg), videos (mp4, mov, avi, mkv) and "
                                         "sounds (mp3, wav, ogg) are uploaded."]})  # fmt: skip
    if not data or len(data) > MAX_UPLOAD_BYTES:
        raise validation_error({"file": ["The file is empty or too big."]})
    signed = sign_upload(config.imagekit_private_key, user_id,
                         SignedUrlBody(type=kind, extension=extension))  # type: ignore[arg-type]  # fmt: skip
    body = aiohttp.FormData()
    for name, value in upload_fields(config.imagekit_public_key, signed, FOLDER).items():
        body.add_field(name, value)
    # A stream, not bytes: aiohttp would copy a large bytes body in the event loop (and warns).
    body.add_field("file", io.BytesIO(data), filename=str(signed["filename"]), content_type=content_type)
    answer: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)) as http:
            async with http.post(config.imagekit_upload_url, data=body) as resp:
                answer = await resp.json(content_type=None) if resp.content_length != 0 else {}
                ok = resp.status < 300
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("imagekit upload failed", extra={"user_id": user_id, "error": repr(exc)})
        raise DomainError("upload_failed", "ImageKit could not be reached. Try again.", status=503) from exc
    url = answer.get("url") if isinstance(answer, dict) else None
    if not ok or not isinstance(url, str):
        log.warning("imagekit refused an upload", extra={"user_id": user_id, "answer": str(answer)[:300]})
        raise DomainError("upload_failed", f"ImageKit refused the file: {str(answer.get('message', ''))[:200]}",
                          status=503)  # fmt: skip
    log.info("catalog asset uploaded", extra={"user_id": user_id, "bytes": len(data), "url": url})
    return url
