"""Shared pieces of the tests: crafted log lines, console scripts, a recording HTTP server, polling."""

from __future__ import annotations

import os
import queue
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import (
    Any,
    Callable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from monilog.accumulation.alerter import AlertEvent
from monilog.accumulation.report import PeriodReport, RunSummary
from monilog.outputs.sink import Sink

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
"""Start of every crafted timeline."""

DEADLINE = 20.0
"""Seconds to wait for something that should happen at once."""

V = TypeVar("V")


def line(moment: datetime, path: str = "/pages/create", status: int = 200, size: int = 1024, user: str = "-") -> str:
    """One Common Log Format line."""
    return f'10.0.0.7 - {user} [{moment.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET {path} HTTP/1.1" {status} {size}\n'


def timeline(rates: Sequence[int], start: datetime = T0) -> List[str]:
    """Lines with ``rates[i]`` hits in second ``i`` after ``start``."""
    return [line(start + timedelta(seconds=i)) for i, rate in enumerate(rates) for _ in range(rate)]


ALERT_TIMELINE = [3] * 30 + [1] * 40
"""With threshold 2 over a 10 s window: an alert at T0+7 and a recovery at T0+35."""


def wait_for(condition: Callable[[], Optional[V]], what: str, deadline: float = DEADLINE, step: float = 0.05) -> V:
    """Poll ``condition`` until it returns something truthy; fail the test after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:g} s waiting for {what}")
        time.sleep(step)


def script(name: str) -> str:
    """Path of an installed console script of this environment (skip the test when missing)."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    found = beside if os.path.exists(beside) else shutil.which(name)
    if not found:
        raise unittest.SkipTest(f"console script {name} is not installed (pip install -e .)")
    return found


def closed_port() -> int:
    """A loopback TCP port nothing listens on (bound then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Request(NamedTuple):
    """A request the :class:`RecordingServer` received."""

    method: str
    path: str
    content_type: str
    body: bytes
    headers: Mapping[str, str]


Answer = Tuple[int, Mapping[str, str]]
"""A status and the headers to send with it."""


class RecordingServer:
    """An HTTP server on 127.0.0.1 (free port) recording every POST and GET, answering from a script.

    ``statuses`` are answered in order to successive requests, then 200 forever. ``respond``,
    when given, is called (on the server's thread for that request) with each request and
    decides the answer instead; it may block to make the server slow.
    Use :meth:`start` with ``TestCase.addCleanup(server.stop)``.
    """

    def __init__(self, statuses: Sequence[int] = (), respond: Optional[Callable[[Request], Answer]] = None) -> None:
        self.requests: "queue.Queue[Request]" = queue.Queue()
        self.received: List[Request] = []
        statuses_left = list(statuses)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.command, self.path, self.headers.get("Content-Type", ""), body,
                                  dict(self.headers.items()))
                recorder.received.append(request)
                recorder.requests.put(request)
                if respond is not None:
                    status, headers = respond(request)
                else:
                    status, headers = (statuses_left.pop(0) if statuses_left else 200), {}
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the client stopped waiting for this answer
                    pass

            do_GET = do_POST  # recorded, to show when a POST was turned into a GET

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # a short poll interval: stop() waits for the serving loop to notice
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def start(self) -> "RecordingServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(DEADLINE)

    def take(self, count: int) -> List[Request]:
        """The next ``count`` requests, waiting for each at most :data:`DEADLINE` seconds."""
        return [self.requests.get(timeout=DEADLINE) for _ in range(count)]


WITHOUT_MODULE = """
import sys
sys.modules[sys.argv[1]] = None  # as if it were not installed
from monilog.cli.monitoring import main
sys.exit(main(["--replay", "--no-log-file", *sys.argv[3:], sys.argv[2]]))
"""


def assert_missing_extra_refused(test: unittest.TestCase, module: str, extra: str, *options: str) -> None:
    """``monitoring --replay OPTIONS`` without ``module`` installed: one line naming the extra, exit 2."""
    result = subprocess.run([sys.executable, "-c", WITHOUT_MODULE, module, __file__, *options],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    test.assertEqual(result.returncode, 2, result.stderr)
    test.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
    test.assertIn(f"pip install 'monilog[{extra}]'", result.stderr)
    test.assertEqual(result.stdout, "")


class Recorder(Sink):
    """Keeps everything a monitor hands to its sinks, in order."""

    def __init__(self) -> None:
        self.items: List[Tuple[str, Any]] = []

    def report(self, report: PeriodReport) -> None:
        self.items.append(("report", report))

    def event(self, event: AlertEvent) -> None:
        self.items.append(("event", event))

    def notice(self, message: str) -> None:
        self.items.append(("notice", message))

    def summary(self, summary: RunSummary) -> None:
        self.items.append(("summary", summary))

    @property
    def reports(self) -> List[PeriodReport]:
        return [item for kind, item in self.items if kind == "report"]

    @property
    def events(self) -> List[AlertEvent]:
        return [item for kind, item in self.items if kind == "event"]


class Problems:
    """Collects one-line problem reports of outputs (their ``on_problem``), thread-safe."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            self.lines.append(message)

    def matching(self, text: str) -> List[str]:
        with self._lock:
            return [message for message in self.lines if text in message]


def shuffled_within(seconds: List[int], lateness: int, rng: random.Random) -> List[int]:
    """``seconds`` (sorted) reordered so that each is at most ``lateness`` behind the largest before it."""
    out: List[int] = []
    pool = list(seconds)
    while pool:
        newest = max(out, default=pool[0])
        # any second that leaves the oldest one left within lateness of it may come next
        candidates = [index for index, second in enumerate(pool) if second <= pool[0] + lateness][:8]
        assert pool[0] >= newest - lateness
        out.append(pool.pop(rng.choice(candidates)))
    return out
