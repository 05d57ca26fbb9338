"""Webhooks (``--webhook URL``): POST every alert and recovery as JSON to HTTP endpoints.

The body is the event's ``alert`` / ``recover`` object of the JSON-lines schema
(:func:`monilog.presentation.jsonlines.event_to_dict`) plus ``"id"``, a UUID made once per
event, sent with ``Content-Type: application/json`` and an ``Idempotency-Key`` header holding
that id: every retry of an event carries the same body and key, so an endpoint can drop the
duplicates. Reports are not sent: a webhook is for waking someone up.

Decisions:

* Each URL has its own :class:`~monilog.outputs.worker.BackgroundWorker`, so a dead endpoint
  neither stalls monitoring nor delays the other endpoints; events reach each endpoint in order.
* A delivery is tried up to :data:`ATTEMPTS` times, waiting ``BACKOFF * 2**n`` seconds between
  tries. It is retried after a connection failure, a 5xx, 408 or 429 answer, or no answer within
  ``timeout`` seconds (:data:`~monilog.outputs.webhooktimes.TIMEOUT`, ``--webhook-timeout``); another 4xx answer is final
  (retrying would not help). Any 2xx answer is a success, also a late one: a try that was
  retried keeps waiting for its answer until the delivery ends, ``timeout`` seconds after the
  last try, so a slow endpoint's events count as delivered, not as failed.
* At exit, events still waiting get the timeout to be delivered, at least 5 s
  (:data:`~monilog.outputs.worker.DEFAULT_DRAIN_SECONDS`) and at most :data:`MAX_DRAIN_SECONDS`
  (Ctrl-C must not wait for an hour-long timeout), then are reported as not delivered.
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
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from email.message import Message
from typing import IO, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.outputs.sink import Sink
from monilog.outputs.webhooktimes import TIMEOUT
from monilog.outputs.worker import (
    ABANDON_CHECK_SECONDS,
    DEFAULT_CAPACITY,
    DEFAULT_DRAIN_SECONDS,
    BackgroundWorker,
    DeliveryError,
    report_problem,
)
from monilog.presentation.jsonlines import dumps, event_to_dict
from monilog.version import __version__

MAX_DRAIN_SECONDS = 30.0
"""The longest the end of a run waits for a slow endpoint."""

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


def post_json(url: str, body: bytes, *, key: str, timeout: float = TIMEOUT, attempts: int = ATTEMPTS,
              backoff: float = BACKOFF, abandoned: Optional[threading.Event] = None) -> None:
    """POST ``body`` as JSON to ``url`` until a try is answered 2xx; raise :class:`DeliveryError` when none is.

    Every try carries ``key`` as its ``Idempotency-Key``. A try unanswered after ``timeout``
    seconds is retried but goes on waiting, on its own thread, for an answer that still counts
    until the delivery ends. ``abandoned`` ends the delivery early (the worker is closing).
    """
    headers = {"Content-Type": "application/json", "User-Agent": f"monilog/{__version__}", "Idempotency-Key": key}
    linger = attempts * timeout + backoff * 2 ** attempts  # a try's socket outlives the whole delivery
    answers: "queue.Queue[Tuple[int, Optional[_Failure]]]" = queue.Queue()
    stop = abandoned or threading.Event()

    def send(number: int) -> None:
        answers.put((number, _try_once(url, body, headers, linger)))

    tries = waiting = 0
    last: Optional[_Failure] = None  # the answer to the latest try
    next_try: Optional[float] = time.monotonic()  # None: no more tries
    give_up = 0.0  # when the latest try has waited ``timeout`` seconds
    while not stop.is_set():
        now = time.monotonic()
        if next_try is not None and now >= next_try:
            tries += 1
            waiting += 1
            last = None
            threading.Thread(target=send, args=(tries,), name="monilog webhook try", daemon=True).start()
            give_up = now + timeout
            next_try = give_up + backoff * 2 ** (tries - 1) if tries < attempts else None
        elif next_try is None and (not waiting or now >= give_up):
            break
        try:
            wake = give_up if next_try is None else next_try
            number, failure = answers.get(timeout=min(ABANDON_CHECK_SECONDS, max(wake - now, 0.0)))
        except queue.Empty:
            continue
        waiting -= 1
        if failure is None:
            return
        if number == tries:  # the latest try's answer decides whether and when to try again
            last = failure
            retry = failure.retry and tries < attempts
            next_try = time.monotonic() + backoff * 2 ** (tries - 1) if retry else None
    if last is not None:
        problem = last.problem
    else:
        problem = "no answer before monitoring ended" if stop.is_set() else f"no answer within {timeout:g} s"
    raise DeliveryError(f"POST failed: {problem} (after {tries} attempt{'s' if tries != 1 else ''})")


class _Failure(NamedTuple):
    """Why a try failed, and whether trying again may help."""

    problem: str
    retry: bool


class Delivery(NamedTuple):
    """One event to deliver, the same to every endpoint."""

    id: str
    """The event's id: the body's ``"id"`` and every try's ``Idempotency-Key``."""
    body: bytes


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
    :param timeout: seconds to wait for an answer before trying again.
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
        self.workers: List[BackgroundWorker[Delivery]] = [
            BackgroundWorker(f"webhook {redact(url)}", self._poster(url), capacity=capacity, on_problem=on_problem)
            for url in checked
        ]

    def _poster(self, url: str) -> Callable[[Delivery, threading.Event], None]:
        def deliver(delivery: Delivery, abandoned: threading.Event) -> None:
            post_json(url, delivery.body, key=delivery.id, timeout=self.timeout, attempts=self.attempts,
                      backoff=self.backoff, abandoned=abandoned)

        return deliver

    def event(self, event: AlertEvent) -> None:
        data = event_to_dict(event)
        data["id"] = str(uuid.uuid4())
        delivery = Delivery(data["id"], dumps(data).encode("utf-8"))
        for worker in self.workers:
            worker.submit(delivery)

    def close(self) -> None:
        # shared: endpoints drain side by side; a try in flight gets its timeout, within bounds
        deadline = time.monotonic() + min(max(DEFAULT_DRAIN_SECONDS, self.timeout), MAX_DRAIN_SECONDS)
        for worker in self.workers:
            worker.stop()
        for worker in self.workers:
            worker.close(max(0.0, deadline - time.monotonic()))
