"""The parsed form of one access-log line, and the error raised for a line that cannot be parsed."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Optional


class LogRecord(NamedTuple):
    """One HTTP request as read from an access log.

    Empty fields (``-`` in the log) are empty strings, except ``size`` which is 0.
    """

    host: str
    """Client host name or address."""
    ident: str
    """RFC 1413 identity of the client (almost always empty)."""
    user: str
    """Authenticated user name."""
    time: datetime
    """When the request was logged, timezone-aware, with the line's own UTC offset."""
    method: str
    """HTTP method (``GET``, ``POST``...); empty when the client sent no request line."""
    target: str
    """Request target as logged: a path, an absolute URL, ``*`` or ``host:port``."""
    protocol: str
    """Protocol version, e.g. ``HTTP/1.1``."""
    status: int
    """HTTP status code."""
    size: int
    """Response size in bytes (0 when logged as ``-``)."""
    referer: str
    """Referer header (Combined and W3C formats)."""
    user_agent: str
    """User-Agent header (Combined and W3C formats)."""
    section: str
    """Traffic section of the target, see :func:`monilog.parsing.section.section_of`."""
    epoch: int
    """``time`` as whole seconds since the Unix epoch: the key for per-second counting."""
    vhost: str = ""
    """The virtual host that answered (``%v``, ``$host``...), empty when the format has none."""
    duration: Optional[float] = None
    """Seconds the server took to answer (``$request_time``, ``%D``...), None when not logged."""
    upstream: Optional[float] = None
    """Seconds the upstream (backend) took, summed over the tries logged, None when not logged."""


class ParseError(ValueError):
    """A line that is not a valid access-log record.

    ``reason`` is a short, stable label (one of :data:`SKIP_REASONS`) under which the
    pipeline counts skipped lines; ``line`` is the offending line, possibly shortened.
    """

    def __init__(self, reason: str, line: str = "") -> None:
        super().__init__(f"{reason}: {line[:200]!r}" if line else reason)
        self.reason = reason
        self.line = line[:200]


SKIP_REASONS = (
    "malformed",
    "bad timestamp",
    "bad status",
    "bad size",
    "line too long",
    "no #Fields directive",
    "bad #Fields directive",
    "field count mismatch",
    "bad json",
    "missing field",
    "blank line",
    "directive",
)
"""Every :attr:`ParseError.reason`. The last two are raised only by ``parse_line``, for
lines that are not records; a :class:`~monilog.parsing.parser.LogParser` returns ``None``
for them instead, so the pipeline never counts them as skipped."""
