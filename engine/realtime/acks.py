"""The shape of every socket acknowledgement that refuses something, in one place.

realtime-contract §0: `{success: false, error}` with the contract's display string in `error`
(clients match it exactly), plus a stable `code` where the contract gives one, plus any details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Ack = dict[str, Any]

INVALID_PAYLOAD = "Invalid payload"
INTERNAL_ERROR = "Internal server error"
TOO_MANY_REQUESTS = "Too many requests"


def failure(error: str, code: str | None = None, **extra: Any) -> Ack:
    """The one failure ack: `{success: false, error, code?, …}`."""
    return {"success": False, "error": error, **({"code": code} if code else {}), **extra}


def refusal(errors: Mapping[str, str], code: str, **extra: Any) -> Ack:
    """A failure ack for a domain's error `code`, with the contract's string for it from `errors`."""
    return failure(errors[code], code, **extra)
