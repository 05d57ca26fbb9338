"""The exec hook (``--exec CMD``): run a command for every alert and recovery.

The command line is split once, at start, with :func:`shlex.split` and run directly, never
through a shell: nothing from the log or the event is ever interpolated into a command string.
The event reaches the command two ways:

* on standard input, as one JSON line: the ``alert`` / ``recover`` object of the JSON-lines
  schema (:func:`monilog.presentation.jsonlines.event_to_dict`);
* in environment variables, one per key of that object, ``MONILOG_`` + the key in upper case,
  except ``type`` which is ``MONILOG_EVENT`` (``alert`` or ``recover``): ``MONILOG_TIME``,
  ``MONILOG_HITS``, ``MONILOG_AVERAGE``, ``MONILOG_THRESHOLD``, ``MONILOG_WINDOW``,
  ``MONILOG_MESSAGE``, and on recovery ``MONILOG_STARTED``, ``MONILOG_DURATION_SECONDS``,
  ``MONILOG_PEAK_HITS``. Values are the JSON values as text (a null is empty); strings are
  given verbatim (a NUL character, which an environment cannot hold, is written ``\\0``).

Decisions:

* Commands run one at a time, in event order, on a background worker
  (:class:`~monilog.outputs.worker.BackgroundWorker`), so a slow command never stalls monitoring.
* Each run may take :data:`TIMEOUT` seconds; then its whole process group is killed and the
  failure reported. It runs in a session of its own, so a Ctrl-C meant for ``monitoring`` does
  not reach it.
* The command's output is captured, not shown: standard output may carry monitoring's JSON lines
  or a dashboard. A command that fails (non-zero status, signal, timeout) is reported in one line
  with the last line of its standard error.
* A command that cannot be found or parsed is refused at start (:class:`ValueError`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import Callable, Dict, List, Optional

from monilog.accumulation.alerter import AlertEvent
from monilog.outputs.sink import Sink
from monilog.outputs.worker import (
    ABANDON_CHECK_SECONDS,
    DEFAULT_CAPACITY,
    BackgroundWorker,
    DeliveryError,
    report_problem,
)
from monilog.presentation.jsonlines import dumps, event_to_dict
from monilog.presentation.sanitize import clean

TIMEOUT = 30.0
"""Seconds one run of the command may take before it is killed."""

ENV_PREFIX = "MONILOG_"


def parse_command(command: str) -> List[str]:
    """Split ``command`` like a POSIX shell would, and check its program can be run.

    :raises ValueError: empty or unbalanced quotes, or a program not found or not executable.
    """
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise ValueError(f"cannot parse the command {command!r}: {error}") from None
    if not argv:
        raise ValueError("the command is empty")
    if shutil.which(argv[0]) is None:
        raise ValueError(f"{argv[0]}: command not found or not executable")
    return argv


def event_environment(event: AlertEvent) -> Dict[str, str]:
    """The ``MONILOG_*`` environment variables describing ``event``."""
    env: Dict[str, str] = {}
    for key, value in event_to_dict(event).items():
        name = ENV_PREFIX + ("EVENT" if key == "type" else key.upper())
        if value is None:
            text = ""
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[name] = text.replace("\0", "\\0")
    return env


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode("utf-8", "replace").splitlines() if line.strip()]
    return clean(lines[-1], 200) if lines else ""


def run_command(
    argv: List[str], event: AlertEvent, *, timeout: float = TIMEOUT, abandoned: Optional[threading.Event] = None,
) -> None:
    """Run ``argv`` once for ``event`` (JSON on stdin, ``MONILOG_*`` variables); raise :class:`DeliveryError` on failure.

    The command is killed (its whole process group) after ``timeout`` seconds, or as soon as
    ``abandoned`` is set: monitoring is ending and will not wait for it.
    """
    env = dict(os.environ)
    env.update(event_environment(event))
    stdin = (dumps(event_to_dict(event)) + "\n").encode("utf-8")
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, start_new_session=True,
        )
    except OSError as error:
        raise DeliveryError(f"cannot run: {error.strerror or error}") from None
    deadline = time.monotonic() + timeout
    send: Optional[bytes] = stdin  # communicate() takes the input on its first call only
    while True:
        try:
            _, errors = process.communicate(send, timeout=min(ABANDON_CHECK_SECONDS, max(deadline - time.monotonic(), 0.01)))
            break
        except subprocess.TimeoutExpired:
            send = None
            if abandoned is not None and abandoned.is_set():
                _kill_group(process)
                raise DeliveryError("killed: monitoring ended before the command did") from None
            if time.monotonic() >= deadline:
                _kill_group(process)
                raise DeliveryError(f"killed after {timeout:g} s (timeout)") from None
    if process.returncode:
        status = (f"killed by signal {-process.returncode}" if process.returncode < 0
                  else f"exited with status {process.returncode}")
        detail = _last_line(errors)
        raise DeliveryError(f"{status}{': ' + detail if detail else ''}")


def _kill_group(process: "subprocess.Popen[bytes]") -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:  # already gone
        pass
    try:
        process.communicate(timeout=5.0)
    except subprocess.TimeoutExpired:  # a descendant in a session of its own holds the pipe
        process.kill()
        process.wait()


class ExecSink(Sink):
    """Runs a command for each alert and recovery event, off the monitoring thread.

    :param command: the command line, split with :mod:`shlex` (never run by a shell).
    :param timeout: seconds one run may take.
    :param capacity: events that may wait before new ones are dropped.
    :param on_problem: receives one-line failure reports.
    :raises ValueError: the command cannot be parsed or its program is not found.
    """

    def __init__(
        self,
        command: str,
        *,
        timeout: float = TIMEOUT,
        capacity: int = DEFAULT_CAPACITY,
        on_problem: Callable[[str], None] = report_problem,
    ) -> None:
        self.argv = parse_command(command)
        self.timeout = timeout
        self.worker: BackgroundWorker[AlertEvent] = BackgroundWorker(
            f"exec {clean(self.argv[0], 80)}", self._run, capacity=capacity, on_problem=on_problem,
        )

    def _run(self, event: AlertEvent, abandoned: threading.Event) -> None:
        run_command(self.argv, event, timeout=self.timeout, abandoned=abandoned)

    def event(self, event: AlertEvent) -> None:
        self.worker.submit(event)

    def close(self) -> None:
        self.worker.close()
