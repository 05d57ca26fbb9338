"""Measure the CPU time spent per line while following a live file: ``monitoring`` beside GoAccess.

Run from the repository root (a benchmark, not a test)::

    python bench/follow_cpu_bench.py                          # 20,000 lines/s, 30 s, 3 runs: about 15 minutes
    python bench/follow_cpu_bench.py --seconds 10 --runs 1    # quick look, about 2 minutes
    python bench/follow_cpu_bench.py --no-goaccess            # monitoring only, about 4 minutes

It measures whatever ``monitoring`` is first on ``PATH`` (and the ``monilog`` its interpreter
imports), so it can be re-run unchanged after a change of the engine; the header of the results
names the monilog version and, when its source is a git checkout, the commit.

In every run a writer process appends Combined lines from the traffic generator, stamped with the
current time, at ``--rate`` lines per second, every 10 ms, for ``--seconds``, to a file that one
follower, started 2 s before, follows from its end. The followers run in turn (the machine may
have only 2 cores), in the same order in each of the ``--runs`` repetitions:

* ``monitoring --json``: ``monitoring --json --no-log-file --max-idle 3 FILE``, its output to a
  pipe that the bench drains;
* ``monitoring --json, format string``: the same, with ``--log-format`` given Apache's Combined
  ``LogFormat`` string: the same lines read by a compiled format instead of the built-in parser;
* ``monitoring dashboard``: ``monitoring --no-log-file --max-idle 3 FILE`` on a pseudo-terminal
  of 120x40 (``TERM=xterm-256color``), so that it shows the live dashboard, the bench draining it;
* ``GoAccess TUI``: ``goaccess FILE --log-format=COMBINED --no-term-resolver`` on the same kind
  of pseudo-terminal: its terminal dashboard, which follows the file by default. The
  distribution's global configuration file applies, as for any user; ``--log-format`` alone keeps
  the configuration dialog away, and ``--no-term-resolver`` keeps the dashboard from looking up
  every client address in the DNS (which would leave this machine);
* ``monitoring --web``: ``monitoring --json`` with ``--web 127.0.0.1:PORT``, the live page open:
  a client in the bench reads ``/api/view`` once, as the page does when it opens, then its
  event stream (``/api/events``: reports, alerts and a tick every 0.5 s) as a browser would;
* ``GoAccess HTML``: ``goaccess FILE --log-format=COMBINED -o report.html --real-time-html
  --addr=127.0.0.1 --port=PORT``, with a WebSocket client in the bench receiving its updates as a
  browser would (loopback only).

The figure is the CPU time (user + system) of the follower and any process below it from the
moment the writer starts until the follower has dealt with the last line, divided by the lines
written: for ``monitoring``, until it exits by itself 3 s after the last line (``--max-idle 3``,
from ``wait4``); for GoAccess, which does not stop by itself, until it has used less than 0.02 s
of CPU over 2.5 s (from ``/proc``), after which it is stopped. Start-up CPU (before the writer
starts) is shown apart and not counted. ``lag s`` is how long after the last line was written the
follower was done with it (``kept up`` when the median is at most 2 s). GoAccess 1.7 reads at
most 8192 new lines per refresh (about 1.2 s in the terminal: a 1 s key wait and a 0.2 s sleep;
1 s between updates of the HTML report), so above some 7,000 lines/s it falls behind while the
writer runs and catches up afterwards, in bigger batches.

A follower that read nothing would look cheap, so each run is checked: the lines ``monitoring``
parsed come from its summary (the JSON ``summary`` object, or the text summary it prints when the
dashboard closes), GoAccess's total requests from its dashboard after a resize makes it redraw the
whole screen, or from the last WebSocket update. ``lost`` is lines written minus lines processed.
Ratios compare the monilog followers with the GoAccess ones run in the same repetition.

Start-up is measured too: the wall time of ``monitoring --version`` and of
``python -c "from monilog import Alerter"`` (medians of ``--startup-runs``, beside a bare
``python -c pass``), the modules that import pulls in (is ``rich`` or ``threading`` among them?)
and, from one ``python -X importtime`` run each, where the import time of that import and of
``monitoring --version`` goes.

Results are printed and written to ``bench/results/follow_cpu.txt`` (``--output`` to change).
Every process the bench starts runs in its own process group and is stopped, and its files
removed, whatever happens.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import WRITER, compile_monilog, load_average, machine, table, tree_cpu, write_results

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "follow_cpu.txt")
MAX_IDLE = 3.0
"""``--max-idle`` of monitoring: it stops this many seconds after the last line."""
STARTUP = 2.0
"""Seconds between a follower's start and the writer's."""
SETTLE_WINDOW = 2.5
"""A follower that does not stop by itself is done once it used less than ``SETTLE_CPU`` CPU seconds
over this many seconds (longer than GoAccess's refresh cycle of about 1.2 s)."""
SETTLE_CPU = 0.02
SETTLE_STEP = 0.25
KEPT_UP = 2.0
"""A follower kept up when its median lag is at most this many seconds."""
ROWS, COLUMNS = 40, 120
FORMAT_STRING = "monitoring --json, format string"
"""The follower reading the same lines through a compiled ``--log-format`` instead of the built-in parser."""
COMBINED_APACHE = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
"""Apache's Combined ``LogFormat``, as a user would paste it."""
TAIL = 4 * 1024 * 1024
"""Bytes of each follower's output kept (the end matters: the summary, the last full redraw)."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
NOTABLE = ["rich", "threading", "multiprocessing", "concurrent.futures", "asyncio", "subprocess", "socket",
           "json", "re", "datetime", "zoneinfo", "requests", "prometheus_client", "apprise"]


# --- processes -----------------------------------------------------------------------------------

STARTED: list[subprocess.Popen[bytes]] = []
"""The followers started and not yet stopped, so that none outlives the bench."""


def stop(process: subprocess.Popen[bytes], first: int = signal.SIGINT) -> None:
    """Stop ``process`` and its process group: ``first``, then SIGTERM, then SIGKILL; reap it."""
    for sig, grace in ((first, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if process.returncode is not None:
            break
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with suppress(subprocess.TimeoutExpired, ChildProcessError):
            process.wait(grace)
    if process in STARTED:
        # anything left in its group; done once, right after the leader was reaped, so that the
        # group id cannot be another process's by then
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        STARTED.remove(process)


def stop_all() -> None:
    """Stop every follower still running."""
    while STARTED:  # stop() takes each off the list
        stop(STARTED[-1], signal.SIGTERM)


class Output:
    """Drains a file descriptor in a thread, counting the bytes and keeping the last ``TAIL``."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        self.total = 0
        self._tail = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO: the terminal's last other end closed
                break
            if not data:
                break
            with self._lock:
                self.total += len(data)
                self._tail += data
                if len(self._tail) > 2 * TAIL:
                    del self._tail[:-TAIL]

    def since(self, position: int) -> str:
        """What arrived after ``position`` (bytes from the start) and is still kept, as text."""
        with self._lock:
            kept_from = self.total - len(self._tail)
            data = bytes(self._tail[max(0, position - kept_from):])
        return data.decode("utf-8", "replace")

    def close(self, wait: float = 2.0) -> None:
        """Wait a little for the end of the output, then close the descriptor (once)."""
        if self.closed:
            return
        self._thread.join(wait)
        self.closed = True
        with suppress(OSError):
            os.close(self.fd)
        self._thread.join(1.0)


def environment(terminal: bool) -> dict[str, str]:
    """The bench's environment, with a colour terminal's ``TERM`` and no size override."""
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    if terminal:
        env["TERM"] = "xterm-256color"
    return env


def spawn(command: Sequence[str], cwd: str, terminal: bool) -> tuple[subprocess.Popen[bytes], Output]:
    """Start ``command`` in its own session, on a new pseudo-terminal or with its output to a pipe."""
    if terminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        try:
            process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                                       env=environment(True), start_new_session=True)
        finally:
            os.close(slave)
        STARTED.append(process)
        return process, Output(master)
    read, write = os.pipe()
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=write, stderr=write, cwd=cwd,
                                   env=environment(False), start_new_session=True)
    finally:
        os.close(write)
    STARTED.append(process)
    return process, Output(read)


def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> float | None:
    """Wait up to ``timeout`` for ``process`` to exit; its CPU seconds (with its children's) if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        time.sleep(0.05)
    return None


def settle(process: subprocess.Popen[bytes], timeout: float) -> tuple[float, float]:
    """Wait until ``process`` is idle (at most ``timeout``): its tree's CPU seconds then, and the
    monotonic time of the last step in which it used any CPU."""
    deadline = time.monotonic() + timeout
    samples = [(time.monotonic(), tree_cpu(process.pid))]
    active = samples[0][0]
    while time.monotonic() < deadline:
        time.sleep(SETTLE_STEP)
        now, cpu = time.monotonic(), tree_cpu(process.pid)
        if cpu > samples[-1][1]:
            active = now
        samples.append((now, cpu))
        window = [cpu_then for then, cpu_then in samples if now - then >= SETTLE_WINDOW]
        if window and cpu - window[-1] < SETTLE_CPU:
            break
    return samples[-1][1], active


def last_int(pattern: str, text: str) -> int | None:
    """The number captured by the last match of ``pattern`` in ``text``."""
    found = re.findall(pattern, text)
    return int(found[-1].replace(",", "")) if found else None


# --- GoAccess's WebSocket --------------------------------------------------------------------------

class WebSocketClient:
    """Receives the updates a real-time GoAccess report pushes, like a browser showing it."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.last: bytes | None = None
        self.messages = 0
        self.received = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline or self._stop.is_set():
                    raise
                time.sleep(0.1)

    def _run(self) -> None:
        try:
            with self._connect() as sock:
                self._session(sock)
        except (OSError, ValueError) as error:
            self.error = str(error) or type(error).__name__

    def _session(self, sock: socket.socket) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                      "Origin: http://127.0.0.1\r\n\r\n").encode())
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            buffer += self._receive(sock)
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ValueError(f"no WebSocket upgrade: {head[:80]!r}")
        buffer = bytearray(rest)
        message = bytearray()
        while not self._stop.is_set():
            frame = self._frame(buffer)
            if frame is None:
                buffer += self._receive(sock)
                continue
            fin, opcode, payload = frame
            if opcode == 8:
                return
            if opcode == 9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                sock.sendall(bytes([0x8A, 0x80 | len(payload[:125])]) + mask
                             + bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:125])))
                continue
            if opcode in (0, 1, 2):
                message += payload
                if fin:
                    self.last, self.messages = bytes(message), self.messages + 1
                    message = bytearray()

    def _receive(self, sock: socket.socket) -> bytes:
        while not self._stop.is_set():
            try:
                data = sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                raise ValueError("connection closed")
            self.received += len(data)
            return data
        raise ValueError("stopped")

    @staticmethod
    def _frame(buffer: bytearray) -> tuple[bool, int, bytes] | None:
        """Take one whole frame off the front of ``buffer`` (``None`` while incomplete)."""
        if len(buffer) < 2:
            return None
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4:
                return None
            length, offset = struct.unpack(">H", buffer[2:4])[0], 4
        elif length == 127:
            if len(buffer) < 10:
                return None
            length, offset = struct.unpack(">Q", buffer[2:10])[0], 10
        mask = b""
        if buffer[1] & 0x80:
            mask, offset = bytes(buffer[offset:offset + 4]), offset + 4
        if len(buffer) < offset + length:
            return None
        payload = bytes(buffer[offset:offset + length])
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        fin, opcode = bool(buffer[0] & 0x80), buffer[0] & 0x0F
        del buffer[:offset + length]
        return fin, opcode, payload

    def total_requests(self) -> int | None:
        """``general.total_requests`` of the last update received."""
        if self.last is None:
            return None
        try:
            value = json.loads(self.last)["general"]["total_requests"]
        except (ValueError, KeyError, TypeError):
            return None
        return int(value)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3.0)


class EventStreamClient:
    """Reads ``/api/view`` once, then ``/api/events``, as monilog's live page does."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.received = 0
        self.messages = 0
        self.error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _get(self, path: str) -> socket.socket:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                break
            except OSError:
                if time.monotonic() > deadline or self._stop.is_set():
                    raise
                time.sleep(0.1)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nConnection: close\r\n\r\n".encode())
        return sock

    def _run(self) -> None:
        try:
            with self._get("/api/view") as sock:
                while self._read(sock):
                    pass
            with self._get("/api/events") as sock:
                while not self._stop.is_set():
                    data = self._read(sock)
                    if data is None:
                        continue
                    if not data:
                        return
                    self.messages += data.count(b"\n\n")
        except OSError as error:
            self.error = str(error) or type(error).__name__

    def _read(self, sock: socket.socket) -> bytes | None:
        try:
            data = sock.recv(1 << 16)
        except TimeoutError:
            return None
        self.received += len(data)
        return data

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3.0)


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- followers -----------------------------------------------------------------------------------

class Follower(NamedTuple):
    name: str
    command: Callable[[str, str], list[str]]
    """``command(file, directory)``: the command line following ``file``."""
    shown: str
    """The command line as the results show it."""
    terminal: bool
    """Runs on a pseudo-terminal (else its output goes to a pipe)."""
    exits: bool
    """Stops by itself (``--max-idle``); else it is measured once settled, then stopped."""
    goaccess: bool
    websocket: bool = False
    events: bool = False
    """A client reads monilog's live page data (``--web``)."""


class RunResult(NamedTuple):
    follower: str
    repetition: int
    written: int
    writer_seconds: float
    processed: int | None
    cpu: float
    """CPU seconds from the writer's start until the follower was done."""
    startup_cpu: float
    lag: float
    """Seconds from the writer's end until the follower had dealt with the last line: its exit less
    ``MAX_IDLE`` for ``monitoring``, for GoAccess its last use of CPU before it went idle."""
    window: float
    """Seconds from the writer's start until the CPU was read."""
    output: int
    """Bytes the follower wrote to its terminal, pipe or WebSocket over ``window``."""
    note: str

    @property
    def per_line(self) -> float:
        return 1e6 * self.cpu / self.written if self.written else float("nan")


def followers(monitoring: str, goaccess: str | None) -> list[Follower]:
    """The followers to measure, monilog's and GoAccess's in turn."""
    found = [Follower("monitoring --json",
                      lambda path, _: [monitoring, "--json", "--no-log-file", "--max-idle", f"{MAX_IDLE:g}", path],
                      f"monitoring --json --no-log-file --max-idle {MAX_IDLE:g} FILE  (pipe)", False, True, False),
             Follower(FORMAT_STRING,
                      lambda path, _: [monitoring, "--json", "--no-log-file", "--max-idle", f"{MAX_IDLE:g}",
                                       "--log-format", COMBINED_APACHE, path],
                      f"monitoring --json --no-log-file --max-idle {MAX_IDLE:g} --log-format '{COMBINED_APACHE}' "
                      "FILE  (pipe)", False, True, False)]
    if goaccess:
        found.append(Follower("GoAccess TUI",
                              lambda path, _: [goaccess, path, "--log-format=COMBINED", "--no-term-resolver"],
                              f"goaccess FILE --log-format=COMBINED --no-term-resolver  (pty {COLUMNS}x{ROWS})",
                              True, False, True))
    found.append(Follower("monitoring dashboard",
                          lambda path, _: [monitoring, "--no-log-file", "--max-idle", f"{MAX_IDLE:g}", path],
                          f"monitoring --no-log-file --max-idle {MAX_IDLE:g} FILE  (pty {COLUMNS}x{ROWS})",
                          True, True, False))
    found.append(Follower(
        "monitoring --web",
        lambda path, _: [monitoring, "--json", "--no-log-file", "--max-idle", f"{MAX_IDLE:g}",
                         "--web", f"127.0.0.1:{free_port()}", path],
        f"monitoring --json --no-log-file --max-idle {MAX_IDLE:g} --web 127.0.0.1:PORT FILE  (pipe; page open)",
        False, True, False, events=True))
    if goaccess:
        found.append(Follower(
            "GoAccess HTML",
            lambda path, directory: [goaccess, path, "--log-format=COMBINED",
                                     "-o", os.path.join(directory, "report.html"), "--real-time-html",
                                     "--addr=127.0.0.1", f"--port={free_port()}"],
            "goaccess FILE --log-format=COMBINED -o report.html --real-time-html --addr=127.0.0.1 --port=PORT"
            "  (WebSocket client connected)", False, False, True, websocket=True))
    return found


def port_of(command: Sequence[str]) -> int:
    if "--web" in command:
        return int(command[command.index("--web") + 1].rsplit(":", 1)[1])
    return int(next(arg for arg in command if arg.startswith("--port="))[len("--port="):])


def measure(follower: Follower, repetition: int, directory: str, interpreter: str, rate: int,
            seconds: float) -> RunResult:
    """One run: start ``follower`` on an empty file, append to it, measure, check, stop it."""
    path = os.path.join(directory, "follow.log")
    open(path, "wb").close()
    command = follower.command(path, directory)
    process, output = spawn(command, directory, follower.terminal)
    client: WebSocketClient | EventStreamClient | None = None
    note = ""
    try:
        if follower.websocket:
            client = WebSocketClient(port_of(command), STARTUP + 5.0)
        elif follower.events:
            client = EventStreamClient(port_of(command), STARTUP + 5.0)
        time.sleep(STARTUP)
        if process.poll() is not None:
            raise RuntimeError(f"{follower.name} exited at start-up (status {process.returncode}): "
                               + ANSI.sub("", output.since(0))[-400:])
        startup_cpu = tree_cpu(process.pid)
        output_before = output.total + (client.received if client else 0)
        started = time.monotonic()
        writer = subprocess.run([interpreter, "-c", WRITER, path, str(rate), str(seconds)], cwd=directory,
                                capture_output=True, text=True, check=True, timeout=3 * seconds + 60)
        written = int(writer.stdout)
        wrote_at = time.monotonic()
        backlog = 60.0 + 4 * seconds  # GoAccess may need long to catch up: bounded all the same
        if follower.exits:
            total = wait_exit(process, MAX_IDLE + backlog)
            if total is None:
                note = "did not stop by itself"
                total = tree_cpu(process.pid)
            cpu = total - startup_cpu
            lag = max(0.0, time.monotonic() - wrote_at - MAX_IDLE)
        else:
            total, active = settle(process, backlog)
            cpu = total - startup_cpu
            lag = max(0.0, active - wrote_at)
        window = time.monotonic() - started
        output_bytes = output.total + (client.received if client else 0) - output_before
        processed = check(follower, process, output, client if isinstance(client, WebSocketClient) else None)
        if isinstance(client, EventStreamClient) and not client.messages:
            note = f"the page's client received nothing {client.error}".strip()
    finally:
        stop(process)
        output.close()
        if client is not None:
            client.close()
        with suppress(OSError):
            os.unlink(path)
    if processed is None:
        note = note or "could not tell how many lines it processed"
    return RunResult(follower.name, repetition, written, wrote_at - started, processed, cpu, startup_cpu,
                     lag, window, output_bytes, note)


def check(follower: Follower, process: subprocess.Popen[bytes], output: Output,
          client: WebSocketClient | None) -> int | None:
    """How many lines the follower says it processed."""
    if follower.websocket:
        assert client is not None
        return client.total_requests()
    if follower.goaccess:
        # a resize makes the dashboard redraw the whole screen, "Total Requests" with it
        mark = output.total
        fcntl.ioctl(output.fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS + 1, 0, 0))
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGWINCH)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            found = last_int(r"Total Requests\s+([0-9][0-9,]*)", ANSI.sub("", output.since(mark)))
            if found is not None:
                return found
        return None
    output.close(5.0)  # monitoring has exited: read its output to the end
    text = ANSI.sub("", output.since(0))
    if not follower.terminal:
        for line in reversed(text.splitlines()):
            with suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("type") == "summary":
                    return int(record["parsed"])
        return None
    return last_int(r"([0-9][0-9,]*) parsed", text)


CALIBRATION = ("import time\n"
               "start = time.perf_counter()\n"
               "total = 0\n"
               "for i in range(5_000_000):\n"
               "    total += i\n"
               "print(time.perf_counter() - start)\n")
"""A fixed pure-Python loop: its time tells how fast the machine was (shared machines vary)."""


def calibrate(interpreter: str, directory: str) -> float:
    """Milliseconds of the ``CALIBRATION`` loop, best of 3."""
    return 1000 * min(float(subprocess.run([interpreter, "-c", CALIBRATION], cwd=directory, capture_output=True,
                                           text=True, check=True, timeout=120).stdout) for _ in range(3))


# --- start-up ------------------------------------------------------------------------------------

def wall_times(command: Sequence[str], runs: int, cwd: str) -> list[float]:
    """Wall seconds of ``runs`` runs of ``command`` (which must succeed).

    Each run is waited for by one blocking wait, a timer killing it after 60 s: a wait with a
    timeout (``subprocess.run(timeout=...)``) polls, sleeping 1, 2, 4... up to 50 ms in between,
    which rounds every time up to the end of a sleep (32, 64, 114, 164 ms)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=environment(False), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        watchdog = threading.Timer(60, process.kill)
        watchdog.start()
        try:
            status = process.wait()
        finally:
            watchdog.cancel()
        times.append(time.perf_counter() - start)
        if status != 0:
            raise subprocess.CalledProcessError(status, command)
    return times


PROBE = ("import json, os, subprocess, sys\n"
         "from monilog import Alerter\n"
         "import monilog\n"
         "modules = sorted(sys.modules)\n"
         "where = os.path.dirname(os.path.abspath(monilog.__file__))\n"
         "def git(*args):\n"
         "    try:\n"
         "        return subprocess.run(['git', '-C', where, *args], capture_output=True, text=True,\n"
         "                              timeout=10).stdout.strip()\n"
         "    except OSError:\n"
         "        return ''\n"
         "print(json.dumps({'version': getattr(monilog, '__version__', '?'), 'modules': modules,\n"
         "                  'commit': git('rev-parse', '--short', 'HEAD'),\n"
         "                  'dirty': bool(git('status', '--porcelain', '--untracked-files=no', '--', '.'))}))\n")
"""Imports what ``from monilog import Alerter`` needs, then says which modules are loaded, the
version and the git commit of that monilog (the modules list is taken before ``git`` runs)."""


class Startup(NamedTuple):
    version: list[float]
    alerter: list[float]
    bare: list[float]
    modules: list[str]
    bare_modules: list[str]
    monilog: str
    importtime: list[tuple[int, int, str]]
    cli_importtime: list[tuple[int, int, str]]
    """The same for ``monitoring --version``: its command module and what that imports directly."""
    """(self µs, cumulative µs, module) of ``monilog`` and the modules it imports directly."""


def measure_startup(monitoring: str, interpreter: str, runs: int, directory: str) -> Startup:
    """Wall times of start-up commands, and what ``from monilog import Alerter`` imports."""
    version = wall_times([monitoring, "--version"], runs, directory)
    alerter = wall_times([interpreter, "-c", "from monilog import Alerter"], runs, directory)
    bare = wall_times([interpreter, "-c", "pass"], runs, directory)
    probe = json.loads(subprocess.run([interpreter, "-c", PROBE], cwd=directory, env=environment(False),
                                      capture_output=True, text=True, check=True, timeout=60).stdout)
    bare_modules = json.loads(subprocess.run(
        [interpreter, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"], cwd=directory,
        env=environment(False), capture_output=True, text=True, check=True, timeout=60).stdout)
    described = f"monilog {probe['version']}"
    if probe["commit"]:
        described += f" (git {probe['commit']}{' with uncommitted changes' if probe['dirty'] else ''})"
    timed = subprocess.run([interpreter, "-X", "importtime", "-c", "from monilog import Alerter"], cwd=directory,
                           env=environment(False), capture_output=True, text=True, check=True, timeout=60).stderr
    cli = subprocess.run([interpreter, "-X", "importtime", monitoring, "--version"], cwd=directory,
                         env=environment(False), capture_output=True, text=True, check=False, timeout=60).stderr
    return Startup(version, alerter, bare, probe["modules"], bare_modules, described, import_tree(timed, "monilog"),
                   import_tree(cli, "monilog.cli.monitoring"))


def import_tree(report: str, root: str) -> list[tuple[int, int, str]]:
    """Module ``root`` and its direct imports from a ``-X importtime`` report, the costliest first."""
    entries: list[tuple[int, int, int, str]] = []
    for line in report.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            entries.append((int(match[1]), int(match[2]), len(match[3]) // 2, match[4]))
    # -X importtime prints a module after its imports: walk back from the root's own line
    for index, (own, cumulative, depth, name) in enumerate(entries):
        if name == root:
            children = []
            for child in reversed(entries[:index]):
                if child[2] <= depth:
                    break
                if child[2] == depth + 1:
                    children.append((child[0], child[1], child[3]))
            children.sort(key=lambda entry: -entry[1])
            return [(own, cumulative, name), *children]
    return []


# --- report --------------------------------------------------------------------------------------

def spread(values: Sequence[float], digits: int = 2) -> list[str]:
    return [f"{statistics.median(values):.{digits}f}", f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"]


def report(results: Sequence[RunResult], plan: Sequence[Follower], startup: Startup, options: argparse.Namespace,
           goaccess_version: str, load_before: float, speed: tuple[float, float]) -> tuple[str, bool]:
    """The results as text, and whether every follower processed every line."""
    complete = all(result.processed == result.written for result in results)
    rows = []
    for follower in plan:
        mine = [result for result in results if result.follower == follower.name]
        if not mine:
            continue
        lost = [result.written - result.processed for result in mine if result.processed is not None]
        rows.append([
            follower.name, str(len(mine)), *spread([result.per_line for result in mine]),
            f"{statistics.median(result.startup_cpu for result in mine):.2f}",
            f"{statistics.median(result.lag for result in mine):.1f}",
            "yes" if statistics.median(result.lag for result in mine) <= KEPT_UP else "no",
            f"{statistics.median(result.output / result.window for result in mine) / 1000:,.1f}",
            ", ".join(f"{value:,}" for value in lost) if lost else "?",
        ])
    header = ["follower", "runs", "µs CPU/line median", "min", "max", "start-up CPU s", "lag s", "kept up",
              "output kB/s", "lines lost"]

    ratio_rows = []
    by_run = {(result.follower, result.repetition): result for result in results}
    def ratio(ours: str, theirs: str) -> None:
        """A row of ``ours``'s CPU per line over ``theirs``'s in each repetition both ran."""
        pairs = []
        for repetition in range(options.runs):
            a, b = by_run.get((ours, repetition)), by_run.get((theirs, repetition))
            if a is not None and b is not None and b.per_line > 0:
                pairs.append(a.per_line / b.per_line)
        if pairs:
            ratio_rows.append([f"{ours} / {theirs}", *spread(pairs), "  ".join(f"{pair:.2f}" for pair in pairs)])

    for ours in (follower for follower in plan if not follower.goaccess):
        for theirs in (follower for follower in plan if follower.goaccess):
            ratio(ours.name, theirs.name)
    ratio("monitoring --web", "monitoring --json")  # what the live page open costs
    ratio(FORMAT_STRING, "monitoring --json")  # a compiled format against the built-in parser, on the same lines

    runs = [[str(result.repetition + 1), result.follower, f"{result.written:,}", f"{result.writer_seconds:.1f}",
             "?" if result.processed is None else f"{result.processed:,}", f"{result.cpu:.2f}",
             f"{result.per_line:.2f}", f"{result.lag:.1f}", result.note] for result in results]

    version, alerter, bare = ([1000 * value for value in times]
                              for times in (startup.version, startup.alerter, startup.bare))
    extra = sorted(set(startup.modules) - set(startup.bare_modules))
    notable = [f"{name} {'yes' if name in startup.modules else 'no'}" for name in NOTABLE]
    third_party = sorted({name.split(".")[0] for name in extra} - {"monilog"}
                         - set(sys.stdlib_module_names) - {"_distutils_hack"})
    def timing(tree: Sequence[tuple[int, int, str]]) -> list[str]:
        return [f"  {own / 1000:7.1f} ms self {cumulative / 1000:7.1f} ms cumulative  {name}"
                for own, cumulative, name in tree[:12]] or ["  (not found)"]

    lines = [
        f"CPU time per line while following a live file: {machine()}",
        f"{startup.monilog}; {goaccess_version or 'GoAccess not run'}",
        (f"{options.rate:,} lines/s for {options.seconds:g} s per run ({options.rate * options.seconds:,.0f} lines, "
        f"Combined, written every 10 ms), {options.runs} repetitions, followers in turn in the order below; "
        f"load average before {load_before:.2f}, after {load_average()[0]:.2f}"),
        (f"machine speed: a 5M-iteration Python loop took {speed[0]:.0f} ms before the runs, {speed[1]:.0f} ms after "
         "(best of 3; less is faster)"),
        "",
        "followers:",
        *[f"  {follower.name:22} {follower.shown}" for follower in plan],
        "",
        table(rows, header),
        "",
        *(["ratios of CPU per line (monilog / GoAccess, --web / --json, format string / --json), per repetition:",
           table(ratio_rows, ["pair", "median", "min", "max", "each repetition"]), ""] if ratio_rows else []),
        "every run:",
        table(runs, ["rep", "follower", "written", "writer s", "processed", "CPU s", "µs/line", "lag s",
                     "note"]),
        "every follower processed every line: " + ("yes" if complete else "NO"),
        "",
        f"start-up, wall time over {options.startup_runs} runs (median, min, max ms):",
        table([["monitoring --version", *spread(version, 1)],
               ['python -c "from monilog import Alerter"', *spread(alerter, 1)],
               ["python -c pass", *spread(bare, 1)]], ["command", "median ms", "min", "max"]),
        (f"from monilog import Alerter: {len(startup.modules)} modules loaded, {len(extra)} more than a bare "
        f"interpreter ({sum(name.split('.')[0] == 'monilog' for name in extra)} of monilog); "
        f"third-party: {', '.join(third_party) or 'none'}"),
        "  " + ", ".join(notable),
        "where the import time goes (one python -X importtime run; monilog, then its direct imports):",
        *timing(startup.importtime),
        "and for monitoring --version (its command module, then its direct imports):",
        *timing(startup.cli_importtime),
    ]
    return "\n".join(lines).rstrip(), complete


def interpreter_of(script: str) -> str:
    """The Python interpreter a console script runs with (its ``#!`` line), else this one."""
    with suppress(OSError), open(script, "rb") as stream:
        first = stream.readline().decode(errors="replace")
        if first.startswith("#!"):
            candidate = first[2:].strip().split()[0] if first[2:].strip() else ""
            if os.path.basename(candidate).startswith("python") and os.access(candidate, os.X_OK):
                return candidate
    return sys.executable


def version_of(goaccess: str) -> str:
    done = subprocess.run([goaccess, "--version"], capture_output=True, text=True, timeout=30, check=False)
    match = re.search(r"GoAccess\s*-\s*([0-9][0-9.]*[0-9])", done.stdout)
    return f"GoAccess {match[1]}" if match else "GoAccess"


@contextmanager
def terminated_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exit that runs the clean-up, and stop every follower at the end."""
    def leave(signum: int, _: Any) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        stop_all()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> None:
    """Measure start-up, run every follower ``--runs`` times, print the table and save it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=int, default=20_000, help="lines appended per second (default 20,000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of appending per run (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of every follower (default 3)")
    parser.add_argument("--startup-runs", type=int, default=20, help="runs of each start-up command (default 20)")
    parser.add_argument("--no-goaccess", action="store_true", help="skip GoAccess even when installed")
    parser.add_argument("--no-html", action="store_true", help="skip GoAccess's real-time HTML report")
    parser.add_argument("--web-only", action="store_true", help="only monitoring --json, without and with its live page open")
    parser.add_argument("--output", default=RESULTS, help="results file (default bench/results/follow_cpu.txt)")
    options = parser.parse_args()
    if options.rate < 100 or options.seconds <= 0 or options.runs < 1 or options.startup_runs < 1:
        parser.error("--rate must be at least 100, --seconds positive, --runs and --startup-runs at least 1")

    monitoring = shutil.which("monitoring")
    if monitoring is None:
        raise SystemExit("monitoring is not on PATH: install monilog first")
    interpreter = interpreter_of(monitoring)
    compile_monilog(interpreter)
    goaccess = None if options.no_goaccess else shutil.which("goaccess")
    plan = [follower for follower in followers(monitoring, goaccess)
            if not (options.no_html and follower.websocket)
            and not (options.web_only and follower.name not in ("monitoring --json", "monitoring --web"))]

    load_before = load_average()[0]
    results: list[RunResult] = []
    with terminated_cleanly(), tempfile.TemporaryDirectory(prefix="monilog-follow-cpu-") as directory:
        speed_before = calibrate(interpreter, directory)
        startup = measure_startup(monitoring, interpreter, options.startup_runs, directory)
        print(f"{startup.monilog}: monitoring --version {statistics.median(startup.version) * 1000:.0f} ms",
              file=sys.stderr, flush=True)
        for repetition in range(options.runs):
            for follower in plan:
                result = measure(follower, repetition, directory, interpreter, options.rate, options.seconds)
                results.append(result)
                print(f"run {repetition + 1} {follower.name}: {result.written:,} written, "
                      f"{'?' if result.processed is None else f'{result.processed:,}'} processed, "
                      f"{result.cpu:.2f} s CPU, {result.per_line:.2f} µs/line {result.note}",
                      file=sys.stderr, flush=True)
        speed_after = calibrate(interpreter, directory)

    text, complete = report(results, plan, startup, options, version_of(goaccess) if goaccess else "",
                            load_before, (speed_before, speed_after))
    print(text)
    write_results(options.output, text)
    if not complete:
        print("warning: some follower did not process every line (see the table)", file=sys.stderr)


if __name__ == "__main__":
    main()
