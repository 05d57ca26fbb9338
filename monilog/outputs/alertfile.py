"""The alert file (``--alert-file PATH``): alert history that survives restarts.

Every alert and recovery is appended to the file as one JSON line, the ``alert`` / ``recover``
object of the JSON-lines schema (:mod:`monilog.presentation.jsonlines`), flushed and synced to
disk at once. At start, :func:`read_alert_file` reads the file back and the monitor shows those
events as earlier alerts (``Monitor(history=...)``).

Decisions:

* A line that cannot be read back (cut by a crash in the middle of a write, edited by hand, not
  UTF-8, not JSON, another kind of object, wrong types, NaN, a count of hundreds of digits, a
  time out of range, longer than :data:`MAX_LINE_BYTES`) is skipped and counted, never fatal:
  the count is given once, as a notice at start. Before appending, a file whose last line is
  unterminated gets a newline, so the next event is not glued to the broken line.
* Only the last :data:`MAX_HISTORY` events are read back (the file is read as a stream, so a
  huge file costs time, not memory): the history shown stays readable. The file itself is
  never truncated or rewritten; rotate it with the usual tools if it grows too much.
* A missing file is an empty history (it is created on the first event); a file that cannot
  be read or appended to is an error at start (:class:`OSError`). A write that fails later is
  reported and monitoring goes on.
"""

from __future__ import annotations

import collections
import json
import os
from typing import BinaryIO, Callable, Deque, NamedTuple, Optional, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.outputs.sink import Sink
from monilog.outputs.worker import report_problem
from monilog.presentation.jsonlines import dumps, event_from_dict, event_to_dict
from monilog.watcher.lines import LineSplitter, read_lines

MAX_HISTORY = 200
"""Events read back at start: the last hundred alerts with their recoveries."""

MAX_LINE_BYTES = 64 * 1024
"""Longer lines are unreadable (an event takes a few hundred bytes): memory stays bounded."""


class AlertHistory(NamedTuple):
    """What :func:`read_alert_file` found."""

    events: Tuple[AlertEvent, ...]
    """The last events of the file, oldest first."""
    total: int
    """Events in the file (more than ``events`` holds when it was cut to the limit)."""
    bad_lines: int
    """Lines that could not be read as an event, skipped."""


def read_alert_file(path: str, limit: int = MAX_HISTORY) -> AlertHistory:
    """The events of an alert file, keeping the last ``limit``; a missing file is empty.

    :raises OSError: the file exists but cannot be read (permissions, a directory...).
    """
    events: Deque[AlertEvent] = collections.deque(maxlen=limit)
    total = bad = 0
    try:
        for raw in read_lines(path, splitter=LineSplitter(MAX_LINE_BYTES)):  # a longer line is cut: unreadable
            if not raw.strip():
                continue
            try:
                event = event_from_dict(json.loads(raw.decode("utf-8")))
            except (ValueError, RecursionError):  # bad UTF-8, JSON or event; JSON nested thousands deep
                bad += 1
                continue
            events.append(event)
            total += 1
    except FileNotFoundError:
        return AlertHistory((), 0, 0)
    return AlertHistory(tuple(events), total, bad)


def describe_history(path: str, history: AlertHistory) -> Optional[str]:
    """A notice about unreadable lines or a cut history, or None when there is nothing to say."""
    parts = []
    if history.bad_lines:
        parts.append(f"{history.bad_lines} unreadable line{'s' if history.bad_lines != 1 else ''} skipped")
    if history.total > len(history.events):
        parts.append(f"showing the last {len(history.events)} of {history.total} events")
    return f"alert file {path}: {', '.join(parts)}" if parts else None


class AlertFileSink(Sink):
    """Appends every alert and recovery to ``path`` as a JSON line.

    :raises OSError: the file cannot be opened for appending.
    """

    def __init__(self, path: str, on_problem: Callable[[str], None] = report_problem) -> None:
        self.path = path
        self.on_problem = on_problem
        self._file: BinaryIO = open(path, "a+b")
        if self._file.seek(0, os.SEEK_END) > 0:
            self._file.seek(-1, os.SEEK_END)
            if self._file.read(1) != b"\n":  # a write cut by a crash: keep the next line whole
                self._file.write(b"\n")

    def event(self, event: AlertEvent) -> None:
        line = (dumps(event_to_dict(event)) + "\n").encode("utf-8")
        try:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
        except (OSError, ValueError) as error:
            self.on_problem(f"alert file {self.path}: cannot write the {event.kind}: {getattr(error, 'strerror', None) or error}")

    def close(self) -> None:
        self._file.close()
