"""The JSON module the Socket.IO server decodes client packets with: python-socketio's `json` with
a bound on nesting.

The stdlib decoder python-socketio uses recurses once per level, so a packet nested a few thousand
deep raises RecursionError, and a few hundred deep still reaches the handlers, whose own walks over
the payload can then overflow the stack. No event of the contract nests deeper than a handful of
levels, so anything past MAX_DEPTH is refused here, as malformed, before a handler sees it.

msgspec decodes first (it is several times faster); what it refuses goes to the stdlib decoder,
so the language accepted stays the stdlib's (lone surrogate escapes, NaN, numbers past 64 bits),
which the payload types then judge field by field.

Encoding (every emit and ack, and the Redis manager's messages) is msgspec's too, which also writes
`msgspec.Raw` fragments as they are: a room batch encodes each event once (engine/rooms/batching.py).
What msgspec cannot encode (an integer past 64 bits) goes to the stdlib encoder.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from engineio import json as engineio_json

__all__ = ["MAX_DEPTH", "TooDeep", "dumps", "loads"]

MAX_DEPTH = 32

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def dumps(value: Any, **_options: Any) -> str:
    """Compact JSON (python-socketio passes `separators=(",", ":")`, msgspec's only form)."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, OverflowError):
        return json.dumps(value, separators=(",", ":"))


class TooDeep(ValueError):
    """JSON nested deeper than MAX_DEPTH."""


def loads(text: str | bytes) -> Any:
    try:
        try:
            value = _decoder.decode(text)
        except msgspec.DecodeError:
            # engineio's loads: the stdlib's, refusing integers of more than 100 digits.
            value = engineio_json.loads(text)
    except RecursionError as exc:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH}") from exc
    # Counting brackets (strings included) is a cheap upper bound on the depth: only a text with
    # more of them than the limit needs the walk.
    if _opening_brackets(text) > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH}")
    return value


def _opening_brackets(text: str | bytes) -> int:
    if isinstance(text, str):
        return text.count("[") + text.count("{")
    return text.count(b"[") + text.count(b"{")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (list, dict)))
    return False
