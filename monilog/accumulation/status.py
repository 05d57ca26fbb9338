"""Status codes: the status rules the engine applies (errors, server errors, status classes).

This is the one home of the error rule (:func:`is_error`): a report's errors, a section's
errors, the error rates of the alert rules and the dashboard all come from it; and of the
server-error rule (:func:`is_server_error`) of the ``server_errors`` alert rules.
"""

from __future__ import annotations

from operator import mul
from typing import Iterable, List, Tuple

STATUS_CLASSES: Tuple[str, ...] = ("1xx", "2xx", "3xx", "4xx", "5xx")
"""The classes of status codes 100–599, in the order reports show them."""
OTHER_STATUS_CLASS = "other"
"""The class of a status code outside 100–599 (``0``, ``999``...)."""


def is_error(code: int) -> bool:
    """The error rule: a 4xx or 5xx response (400–599)."""
    return 400 <= code <= 599


def is_server_error(code: int) -> bool:
    """A server error: a 5xx response (500–599), what the ``server_errors`` alert rules count."""
    return 500 <= code <= 599


ERROR_CODES = frozenset(filter(is_error, range(1000)))
"""Every error code (:func:`is_error` is false past 999), to find them without a call per code."""
ERROR_FLAGS = bytes(map(is_error, range(1000)))
"""Whether each code 0–999 is an error, as bytes: the error rule as the C accelerator is given it."""


def status_class(code: int) -> str:
    """The class of a status code: ``"1xx"`` to ``"5xx"``, or ``"other"`` outside 100–599."""
    return f"{code // 100}xx" if 100 <= code <= 599 else OTHER_STATUS_CLASS


def error_hits(hits: Iterable[int], statuses: Iterable[int]) -> List[int]:
    """Each row's hits when its status is an error, else 0."""
    return list(map(mul, hits, map(ERROR_CODES.__contains__, statuses)))

