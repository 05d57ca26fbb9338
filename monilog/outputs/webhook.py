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
  Any 2xx answer is a success.
* Redirects: a 307 or 308 answer is followed by POSTing the same body with the same headers to
  its ``Location`` (at most :data:`MAX_REDIRECTS` times per try). A 301, 302 or 303 is refused
  as a failed delivery whose report names the new location (redacted, as every URL is): clients
  turn the POST into a bodiless GET there, which would count as delivered while nothing was.
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
from email.message import Message
from typing import IO, Callable, Dict, List, NamedTuple, Optional, Sequence

from monilog import __version__
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

MAX_REDIRECTS = 5
"""307 / 308 redirects followed per try."""

REFUSED_REDIRECTS = frozenset({301, 302, 303})
"""Redirects that would turn the POST into a GET: refused."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Leaves every 3xx answer to :func:`post_json` (as an :class:`~urllib.error.HTTPError`)."""

    def http_error_302(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                       headers: Message) -> None:
        return None

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_NoRedirects)


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
    headers = {"Content-Type": "application/json", "User-Agent": f"monilog/{__version__}"}
    stop = abandoned or threading.Event()
    problem, tries = "", 0
    for attempt in range(attempts):
        if attempt and stop.wait(backoff * 2 ** (attempt - 1)):
            break
        tries += 1
        failure = _try_once(url, body, headers, timeout)
        if failure is None:
            return
        problem = failure.problem
        if not failure.retry:
            break
    raise DeliveryError(f"POST failed: {problem} (after {tries} attempt{'s' if tries != 1 else ''})")


class _Failure(NamedTuple):
    problem: str
    retry: bool


def _try_once(url: str, body: bytes, headers: Dict[str, str], timeout: float) -> Optional[_Failure]:
    """POST once, following 307 / 308 redirects: None when answered 2xx, else what went wrong."""
    for _ in range(MAX_REDIRECTS + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with _OPENER.open(request, timeout=timeout) as response:
                response.read()
            return None
        except urllib.error.HTTPError as error:
            error.close()
            status = f"HTTP {error.code} {error.reason}"
            location = error.headers.get("Location") if error.headers is not None else None
            target = urllib.parse.urljoin(url, location) if location else None
            if error.code in (307, 308) and target is not None:
                try:
                    url = check_url(target)
                except ValueError:
                    return _Failure(f"{status}: redirected to a location that is not http(s)", retry=False)
                continue
            if error.code in REFUSED_REDIRECTS and target is not None:
                return _Failure(f"{status}: the endpoint moved to {redact(target)}; not followed (a {error.code} "
                                "turns the POST into a bodiless GET): use the new URL", retry=False)
            return _Failure(status, retry=error.code >= 500 or error.code in RETRY_STATUSES)
        except (OSError, http.client.HTTPException) as error:  # refused, timeout, TLS, garbled answer...
            return _Failure(str(getattr(error, "reason", None) or error) or type(error).__name__, retry=True)
    return _Failure(f"more than {MAX_REDIRECTS} redirects", retry=False)


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
