"""The one domain error type. Edges map it to the wire: HTTP status + error envelope, or a socket ack."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A failure the caller can act on, with a stable machine `code` and a display `message`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        fields: Mapping[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = dict(fields or {})
        self.retry_after = retry_after


def validation_error(fields: Mapping[str, list[str]]) -> DomainError:
    """422 with Laravel's message shape: the first error, then "(and N more errors)"."""
    first = next(iter(fields.values()))[0] if fields else "The given data was invalid."
    others = sum(len(messages) for messages in fields.values()) - 1
    if others > 0:
        first += f" (and {others} more error{'s' if others > 1 else ''})"
    return DomainError("validation_failed", first, status=422, fields=fields)


def not_found(what: str = "Resource") -> DomainError:
    return DomainError("not_found", f"{what} not found.", status=404)


def unauthenticated(message: str = "Unauthenticated.") -> DomainError:
    return DomainError("unauthenticated", message, status=401)


def forbidden(message: str = "This action is unauthorized.") -> DomainError:
    return DomainError("forbidden", message, status=403)


def rate_limited(retry_after: int) -> DomainError:
    return DomainError(
        "rate_limited",
        f"Too many requests. Please try again in {retry_after} seconds.",
        status=429,
        retry_after=retry_after,
    )
