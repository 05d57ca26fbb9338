"""Webhooks (``--webhook URL``): POST every alert and recovery as JSON to HTTP endpoints.

The body is the event's ``alert`` / ``recover`` object of the JSON-lines schema
(:func:`monilog.presentation.jsonlines.event_to_dict`), sent with
``Content-Type: application/json``. Reports are not sent: a webhook is for waking someone up.

Decisions:

* Each URL has its own :class:`~monilog.outputs.worker.BackgroundWorker`, so a dead endpoint
  neither stalls monitoring nor delays the other endpoints; events reach each endpoint in order.
* A delivery is tried :data:`ATTEMPTS` times, each with a :data:`TIMEOUT` seconds timeout,
  waiting ``BACKOFF * 2**n`` seconds between tries. It is retried after a connection failure,
  a timeout, a 5xx, 408 or 429 answer; another 4xx answer is final (retrying would not help).
  Any 2xx answer is a success; redirects are followed as urllib does.
* A failed delivery is reported in one line (standard error by default) and monitoring goes on.
  Reports show only the scheme, host and port of a URL: a path or query often holds a secret
  token (chat and incident webhooks do).
* Only ``http`` and ``https`` URLs with a host are accepted, checked at start.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable, List, Optional, Sequence

from monilog.version import __version__
from monilog.accumulation.alerter import AlertEvent
from monilog.outputs.sink import Sink
from monilog.outputs.worker import DEFAULT_CAPACITY, DEFAULT_DRAIN_SECONDS, BackgroundWorker, DeliveryError, report_problem
from monilog.presentation.jsonlines import dumps, event_to_dict

TIMEOUT = 5.0
"""Seconds one HTTP attempt may take."""

ATTEMPTS = 3
"""Tries per delivery (the first and two retries)."""

BACKOFF = 1.0
"""Seconds before the first retry; doubled before each further one."""

RETRY_STATUSES = frozenset({408, 429})
"""4xx answers worth retrying (besides every 5xx)."""


def check_url(url: str) -> str:
    """``url`` if it is an ``http(s)://host...`` URL; raise :class:`ValueError` otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http:// or https:// URL: {redact(url)}")
    return url


def redact(url: str) -> str:
    """A URL cut to ``scheme://host[:port]`` (plus ``/...`` when a path or query was cut), safe to show:
    paths, queries and user info often hold secrets."""
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "(invalid URL)"
    host = parts.netloc.rpartition("@")[2]  # never show credentials
    return f"{parts.scheme}://{host}{'/...' if parts.path.strip('/') or parts.query else ''}"


def post_json(url: str, body: bytes, *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS,
              backoff: float = BACKOFF, abandoned: Optional[threading.Event] = None) -> None:
    """POST ``body`` as JSON to ``url``, retrying transient failures; raise :class:`DeliveryError` when it fails.

    ``abandoned`` cuts the waits between retries short (the worker is closing).
    """
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": f"monilog/{__version__}",
    })
    stop = abandoned or threading.Event()
    problem, tries = "", 0
    for attempt in range(attempts):
        if attempt and stop.wait(backoff * 2 ** (attempt - 1)):
            break
        tries += 1
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return
        except urllib.error.HTTPError as error:
            error.close()
            problem = f"HTTP {error.code} {error.reason}"
            if error.code < 500 and error.code not in RETRY_STATUSES:
                break
        except (OSError, http.client.HTTPException) as error:  # refused, timeout, TLS, garbled answer...
            problem = str(getattr(error, "reason", None) or error) or type(error).__name__
    raise DeliveryError(f"POST failed: {problem} (after {tries} attempt{'s' if tries != 1 else ''})")


class WebhookSink(Sink):
    """POSTs each alert and recovery event as JSON to every URL, off the monitoring thread.

    :param urls: ``http(s)`` endpoints (checked now; :class:`ValueError` for a bad one).
    :param timeout: seconds per HTTP attempt.
    :param attempts: tries per event and URL.
    :param backoff: seconds before the first retry, doubled for each further one.
    :param capacity: events that may wait per URL before new ones are dropped.
    :param on_problem: receives one-line failure reports.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: float = BACKOFF,
        capacity: int = DEFAULT_CAPACITY,
        on_problem: Callable[[str], None] = report_problem,
    ) -> None:
        checked = [check_url(url) for url in urls]
        self.timeout, self.attempts, self.backoff = timeout, attempts, backoff
        self.workers: List[BackgroundWorker[bytes]] = [
            BackgroundWorker(f"webhook {redact(url)}", self._poster(url), capacity=capacity, on_problem=on_problem)
            for url in checked
        ]

    def _poster(self, url: str) -> Callable[[bytes, threading.Event], None]:
        def deliver(body: bytes, abandoned: threading.Event) -> None:
            post_json(url, body, timeout=self.timeout, attempts=self.attempts, backoff=self.backoff, abandoned=abandoned)

        return deliver

    def event(self, event: AlertEvent) -> None:
        body = dumps(event_to_dict(event)).encode("utf-8")
        for worker in self.workers:
            worker.submit(body)

    def close(self) -> None:
        deadline = time.monotonic() + DEFAULT_DRAIN_SECONDS  # shared: endpoints drain side by side
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.close(max(0.0, deadline - time.monotonic()))
