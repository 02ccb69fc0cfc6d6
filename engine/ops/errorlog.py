"""The recent ERROR log lines of this process, for the dashboard (`/admin/system/errors`).

A logging.Handler on the root logger keeps the last few hundred ERROR (and CRITICAL) records in a
bounded deque: memory stays fixed however much a failure logs, and reading needs no I/O. Per
process by design — each engine process shows its own; the log shipper has the fleet's."""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
from collections.abc import Callable

from engine.logs import request_id_var
from engine.ops.model import ErrorEntry

RING_SIZE = 500
MESSAGE_MAX = 2_000
EXC_MAX = 8_000


class ErrorLog(logging.Handler):
    def __init__(self, size: int = RING_SIZE, on_error: Callable[[str], None] | None = None) -> None:
        super().__init__(logging.ERROR)
        self._on_error = on_error  # e.g. count the line by logger in the metrics
        self._ring: collections.deque[ErrorEntry] = collections.deque(maxlen=size)
        # emit runs on whichever thread logged (the default executor too): deque appends are atomic,
        # but a snapshot must not see the deque change size while it is copied.
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = None
            if record.exc_info:
                exc = logging.Formatter().formatException(record.exc_info)[:EXC_MAX]
            entry = ErrorEntry(
                at=dt.datetime.fromtimestamp(record.created, dt.UTC),
                logger=record.name,
                message=record.getMessage()[:MESSAGE_MAX],
                request_id=request_id_var.get(),
                exc=exc,
            )
        except Exception:
            self.handleError(record)
            return
        with self._guard:
            self._ring.append(entry)
        if self._on_error is not None:
            self._on_error(record.name)

    def entries(self) -> list[ErrorEntry]:
        """Newest first."""
        with self._guard:
            return list(reversed(self._ring))

    def clear(self) -> int:
        with self._guard:
            count = len(self._ring)
            self._ring.clear()
        return count

    def install(self) -> None:
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
