"""A background worker for outputs that deliver events somewhere slow (webhooks, commands, notifications).

Monitoring must never wait on a slow or dead endpoint. An output hands each item to a
:class:`BackgroundWorker`, which returns at once and delivers the items one at a time, in order,
on its own daemon thread.

* The queue is bounded: when ``capacity`` items are already waiting, a new one is dropped and
  counted (:attr:`BackgroundWorker.dropped`) rather than held in memory without limit.
* A delivery that raises is reported through ``on_problem`` (by default one line on standard
  error) and counted in :attr:`BackgroundWorker.failed`; the worker goes on with the next item.
* :meth:`BackgroundWorker.close` gives the items still waiting ``drain`` seconds to be delivered,
  then abandons the rest (counted as dropped) and reports what was not delivered. A delivery in
  progress is handed the :attr:`BackgroundWorker.abandoned` event, to cut its retries short.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Callable, Generic, TypeVar

from monilog.presentation.sanitize import clean

T = TypeVar("T")

DEFAULT_CAPACITY = 100
"""Items that may wait for delivery before new ones are dropped."""

DEFAULT_DRAIN_SECONDS = 5.0
"""How long :meth:`BackgroundWorker.close` waits for waiting items to be delivered."""

ABANDON_CHECK_SECONDS = 0.25
"""How often a delivery that waits checks :attr:`BackgroundWorker.abandoned`."""


def report_problem(message: str) -> None:
    """The default way outputs report a failed delivery: one line on standard error, sanitised
    (a reason phrase comes from the remote end)."""
    try:
        print(f"monilog: {clean(message)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # standard error closed: nowhere left to say it
        pass


class DeliveryError(Exception):
    """A delivery failed for a reason worth one line (no traceback)."""


_STOP = object()


class BackgroundWorker(Generic[T]):
    """Delivers items with ``deliver`` on a daemon thread, behind a bounded queue.

    :param name: what is delivered to, for problem reports and the thread's name.
    :param deliver: called on the worker thread with each item and the :attr:`abandoned` event;
        raises on failure.
    :param capacity: items that may wait; more are dropped and counted.
    :param on_problem: receives one-line problem reports (called from the worker thread too).
    """

    def __init__(
        self,
        name: str,
        deliver: Callable[[T, threading.Event], None],
        *,
        capacity: int = DEFAULT_CAPACITY,
        on_problem: Callable[[str], None] = report_problem,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity!r}")
        self.name = name
        self.capacity = capacity
        self.on_problem = on_problem
        self.delivered = 0
        self.failed = 0
        self.dropped = 0
        self.abandoned = threading.Event()
        """Set when :meth:`close` gave up waiting: deliveries should stop retrying."""
        self._deliver = deliver
        self._queue: "queue.Queue[object]" = queue.Queue()
        self._closed = False
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=f"monilog {name}", daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Queue ``item`` for delivery; False (and counted as dropped) when the queue is full or closed."""
        # One producer (the monitor calls its sinks one at a time), so the size check cannot race
        # with another submit; the worker only ever shrinks the queue.
        if self._closed or self._queue.qsize() >= self.capacity:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % self.capacity == 0:
                self.on_problem(f"{self.name}: delivery queue full, {self.dropped} dropped so far")
            return False
        self._queue.put(item)
        return True

    def stop(self) -> None:
        """Accept no more items; the worker ends once it has delivered those waiting."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)

    def close(self, drain: float = DEFAULT_DRAIN_SECONDS) -> None:
        """Deliver what is waiting for at most ``drain`` seconds, then stop; report what was lost."""
        if self._finished:
            return
        self._finished = True
        self.stop()
        self._thread.join(drain)
        if self._thread.is_alive():
            self.abandoned.set()  # the rest is dropped without delivery; retries stop waiting
            self._thread.join(1.0)
        # a delivery still hanging (e.g. in a network timeout) leaves its followers and _STOP queued
        lost = self.dropped + (max(self._queue.qsize() - 1, 0) if self._thread.is_alive() else 0)
        if lost:
            self.on_problem(f"{self.name}: {lost} not delivered (queue full or stopped before delivery)")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self.abandoned.is_set():
                self.dropped += 1
                continue
            try:
                self._deliver(item, self.abandoned)  # type: ignore[arg-type]
                self.delivered += 1
            except Exception as error:
                self.failed += 1
                detail = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
                self.on_problem(f"{self.name}: {detail}")
