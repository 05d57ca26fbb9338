"""The traffic timeline and the writer: :class:`LogGenerator`.

Timeline
--------
A timeline is a list of steps: step ``i`` lasts ``durations[i]`` seconds at ``rates[i]``
requests per second (0 = silence). Steps follow each other from ``start``.

Arrivals are a Poisson process *conditioned on its count*: step ``i`` gets exactly
``round(rates[i] * durations[i])`` arrivals, placed uniformly at random in the step and sorted.
Gaps between them are exponential, as in any Poisson process, and the per-second counts vary
as in real traffic, but the step total is exact, so a step measures at its nominal rate (an
unconditioned Poisson count at 9 req/s over 150 s would be off by 2.7 % one time in three).
The sorted uniforms are drawn one at a time by the order-statistics recursion, so a timeline of
any length streams in constant memory.

Same seed, same arguments (including ``start``) give the same lines, byte for byte. Without a
seed one is drawn at random and kept in :attr:`LogGenerator.seed`, so a run can be repeated.

Writing
-------
* Realtime (the default): each line is written when its timestamp comes, in one ``write`` on
  an ``O_APPEND`` descriptor (so it reaches followers whole and immediately, and interleaves
  safely with other writers). Sleeps are scheduled against the start on the monotonic clock,
  so they never accumulate drift; a writer that falls behind catches up without sleeping. The
  run lasts the whole timeline, trailing silence included. With an explicit ``start`` the log
  clock is offset from the wall clock by that much (a server with a skewed clock).
* ``realtime=False``: the whole timeline at once, in large writes of whole lines.
* ``append`` (default) adds to an existing file; otherwise the file is truncated first.
* W3C logs get their ``#Software``/``#Version``/``#Date``/``#Fields`` header whenever a file
  is started: a new or empty file, a truncated one, each file created by rotation, and
  standard output. A non-empty file appended to keeps its own header.
* ``rotate_every=N`` rotates like logrotate's default (rename and create) before line N+1,
  2N+1...: ``access.log.{keep-1}`` becomes ``access.log.{keep}`` (the former one is deleted),
  ..., ``access.log`` becomes ``access.log.1``, and a new ``access.log`` is created.
* ``torn=True`` writes each line in two writes :data:`TORN_PAUSE` seconds apart (also when not
  in realtime), to test that followers reassemble partial lines.
* The path ``-`` writes to standard output (no rotation).
"""

from __future__ import annotations

import math
import os
import random
import time
from datetime import datetime
from random import Random
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from monilog.generator.choices import DEFAULT_KEEP, WRITTEN_FORMATS
from monilog.generator.traffic import W3C_FIELDS, TrafficModel, w3c_timestamp
from monilog.version import __version__

if TYPE_CHECKING:
    from monilog.generator.kafka import TopicWriter

StartTime = Union[datetime, float, int, None]
"""When the timeline starts: an aware datetime, a naive one (local time), epoch seconds, or
``None`` for "now" (taken when the timeline or the writing begins)."""

BATCH = 4096
"""Arrivals drawn and formatted together."""

WRITE_CHUNK = 1 << 20
"""Approximate size in characters of one write when not in realtime."""

TORN_PAUSE = 0.05
"""Seconds between the two halves of a torn line."""

_BELOW_ONE = 1.0 - 2.0 ** -53


def epoch_of(start: StartTime) -> Optional[float]:
    """Seconds since the epoch of ``start`` (naive datetimes are local time); ``None`` stays."""
    if start is None or isinstance(start, (int, float)):
        return None if start is None else float(start)
    return start.timestamp()


def _arrival_fractions(rng: Random, count: int) -> Iterator[float]:
    """``count`` sorted uniform values in [0, 1), drawn one by one.

    Given the previous value ``x`` and ``m`` values still to come, the next is the minimum of
    ``m`` uniforms on ``[x, 1)``: ``x + (1 - x) * (1 - U ** (1 / m))``.
    """
    position = 0.0
    log, expm1, uniform = math.log, math.expm1, rng.random
    for remaining in range(count, 0, -1):
        position -= (1.0 - position) * expm1(log(1.0 - uniform()) / remaining)
        if position >= 1.0:
            position = _BELOW_ONE
        yield position


class LogGenerator:
    """Synthetic access-log traffic following a timeline of request rates.

    :param rates: requests per second of each step (finite, >= 0).
    :param durations: seconds of each step (finite, > 0); as many as ``rates``.
    :param fmt: ``"common"``, ``"combined"`` or ``"w3c"``.
    :param seed: makes the output reproducible; ``None`` draws one (see :attr:`seed`).
    :param start: when the first step starts (see :data:`StartTime`).
    :param sections: distinct sections (``/api``, ``/blog``...).
    :param paths: distinct paths in each section.
    :param clients: distinct client addresses.
    :param error_rate: expected fraction of responses with status >= 400.
    :raises ValueError: for any invalid argument, with a message naming it.
    """

    def __init__(self, rates: Sequence[float], durations: Sequence[float], fmt: str = "combined",
                 seed: Optional[int] = None, start: StartTime = None, sections: int = 10,
                 paths: int = 20, clients: int = 300, error_rate: float = 0.05) -> None:
        self.rates: Tuple[float, ...] = tuple(float(rate) for rate in rates)
        self.durations: Tuple[float, ...] = tuple(float(duration) for duration in durations)
        if not self.rates:
            raise ValueError("at least one step is needed")
        if len(self.rates) != len(self.durations):
            raise ValueError(f"rates and durations must have the same length "
                             f"({len(self.rates)} rates, {len(self.durations)} durations)")
        for rate in self.rates:
            if not (math.isfinite(rate) and rate >= 0):
                raise ValueError(f"rates must be finite and >= 0, not {rate:g}")
        for duration in self.durations:
            if not (math.isfinite(duration) and duration > 0):
                raise ValueError(f"durations must be finite and > 0, not {duration:g}")
        if fmt not in WRITTEN_FORMATS:
            raise ValueError(f"unknown log format {fmt!r}: expected one of {', '.join(WRITTEN_FORMATS)}")
        self.fmt = fmt
        self.seed: int = random.SystemRandom().getrandbits(63) if seed is None else int(seed)
        """The seed in use: the given one, or the one drawn at random."""
        self.start: Optional[float] = epoch_of(start)
        """Epoch seconds of the first step, or ``None`` for "now"."""
        self.model = TrafficModel(Random(f"{self.seed}/pools"), sections, paths, clients, error_rate)
        self._make_lines = self.model.formatter(fmt)

    @property
    def sections(self) -> Tuple[str, ...]:
        """Every section the generated requests fall in, most popular first."""
        return self.model.sections

    @property
    def total_duration(self) -> float:
        """Seconds from the start of the first step to the end of the last."""
        return math.fsum(self.durations)

    @property
    def step_counts(self) -> Tuple[int, ...]:
        """Number of lines of each step: ``round(rate * duration)``."""
        return tuple(round(rate * duration) for rate, duration in zip(self.rates, self.durations))

    @property
    def total_lines(self) -> int:
        """Number of lines of the whole timeline."""
        return sum(self.step_counts)

    def step_bounds(self, start: float) -> List[Tuple[float, float]]:
        """``(begin, end)`` epoch seconds of each step when the timeline starts at ``start``."""
        bounds: List[Tuple[float, float]] = []
        elapsed = 0.0
        for duration in self.durations:
            bounds.append((start + elapsed, start + elapsed + duration))
            elapsed += duration
        return bounds

    def batches(self, start: Optional[float] = None) -> Iterator[Tuple[List[float], List[str]]]:
        """The timeline as ``(times, lines)`` batches: epoch seconds and lines without newline.

        :param start: epoch seconds of the first step; default :attr:`start`, else now.
        """
        if start is None:
            start = time.time() if self.start is None else self.start
        arrivals_rng = Random(f"{self.seed}/arrivals")
        requests_rng = Random(f"{self.seed}/requests")
        for (begin, end), count in zip(self.step_bounds(start), self.step_counts):
            duration = end - begin
            times: List[float] = []
            for fraction in _arrival_fractions(arrivals_rng, count):
                times.append(begin + fraction * duration)
                if len(times) == BATCH:
                    yield times, self._make_lines(requests_rng, times)
                    times = []
            if times:
                yield times, self._make_lines(requests_rng, times)

    def timeline(self, start: Optional[float] = None) -> Iterator[Tuple[float, str]]:
        """Every ``(epoch seconds, line)`` of the timeline in order; lines have no newline."""
        for times, lines in self.batches(start):
            yield from zip(times, lines)

    def header(self, when: float) -> str:
        """The lines that start a file written at ``when`` (epoch seconds): W3C directives, else ``""``."""
        if self.fmt != "w3c":
            return ""
        return (f"#Software: monilog log_generator {__version__}\n#Version: 1.0\n"
                f"#Date: {w3c_timestamp(int(when))}\n#Fields: {W3C_FIELDS}\n")

    def write(self, path: str, realtime: bool = True, append: bool = True,
              rotate_every: Optional[int] = None, keep: int = DEFAULT_KEEP, torn: bool = False) -> int:
        """Write the timeline to ``path`` (``-`` = standard output); return the lines written.

        See the module documentation for realtime pacing, headers, rotation and torn lines.

        :raises ValueError: for an invalid ``rotate_every`` or ``keep``, or rotating ``-``.
        :raises OSError: when the file cannot be opened or written.
        """
        if rotate_every is not None and rotate_every < 1:
            raise ValueError(f"rotate_every must be at least 1, not {rotate_every}")
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        if rotate_every is not None and path == "-":
            raise ValueError("standard output cannot be rotated")
        from monilog.watcher.kafka import is_kafka  # here: log_generator --help loads no watcher

        start = time.time() if self.start is None else self.start
        if is_kafka(path):  # a topic: one message per line
            from monilog.generator.kafka import TopicWriter

            if rotate_every is not None:
                raise ValueError("a Kafka topic cannot be rotated")
            with TopicWriter(path, realtime) as topic:
                if realtime or torn:
                    self._write_lines(topic, start, realtime, torn)
                else:
                    self._write_chunks(topic, start)
                return topic.lines
        with _LogFile(path, self.header, append, rotate_every, keep) as log_file:
            if realtime or torn:
                self._write_lines(log_file, start, realtime, torn)
            else:
                self._write_chunks(log_file, start)
            return log_file.lines

    def _write_lines(self, log_file: Output, start: float, realtime: bool, torn: bool) -> None:
        """One line per write (two if torn), each at its time when ``realtime``."""
        origin = time.monotonic()
        for times, lines in self.batches(start):
            for moment, line in zip(times, lines):
                if realtime:
                    _sleep_until(origin + (moment - start))
                log_file.write_line(f"{line}\n", moment, torn)
        if realtime:
            _sleep_until(origin + self.total_duration)

    def _write_chunks(self, log_file: Output, start: float) -> None:
        """Whole lines in writes of about :data:`WRITE_CHUNK` characters, split at rotations."""
        chunk_lines = max(WRITE_CHUNK // 200, 1)
        pending: List[str] = []
        first_time = start
        for times, lines in self.batches(start):
            index = 0
            while index < len(lines):
                if not pending:
                    first_time = times[index]
                limit = min(chunk_lines, log_file.room())
                taken = lines[index:index + limit - len(pending)]
                pending += taken
                index += len(taken)
                if len(pending) == limit:
                    log_file.write_lines(pending, first_time)
                    pending = []
        if pending:
            log_file.write_lines(pending, first_time)


def _sleep_until(deadline: float) -> None:
    """Sleep until ``time.monotonic()`` reaches ``deadline`` (at once if already past)."""
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)


class _LogFile:
    """An append-only log file that starts with a header and rotates every N lines."""

    def __init__(self, path: str, header: Callable[[float], str], append: bool,
                 rotate_every: Optional[int], keep: int) -> None:
        self.path = path
        self.lines = 0
        """Lines written so far, over all files."""
        self._header = header
        self._rotate_every = rotate_every
        self._keep = keep
        self._in_file = 0
        if path == "-":
            self._fd = 1
            self._owned = False
            self._needs_header = True
        else:
            self._fd = self._open(truncate=not append)
            self._owned = True
            self._needs_header = os.fstat(self._fd).st_size == 0

    def __enter__(self) -> _LogFile:
        return self

    def __exit__(self, *_: object) -> None:
        if self._owned:
            os.close(self._fd)

    def _open(self, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        return os.open(self.path, flags, 0o644)

    def room(self) -> int:
        """Lines that can still be written before the next rotation (a large number if none)."""
        if self._rotate_every is None:
            return 1 << 62
        return self._rotate_every - self._in_file if self._in_file < self._rotate_every else self._rotate_every

    def _prepare(self, when: float) -> None:
        """Rotate if the current file is full, and write the header a new file needs."""
        if self._rotate_every is not None and self._in_file >= self._rotate_every:
            self._rotate()
        if self._needs_header:
            self._needs_header = False
            _write_all(self._fd, self._header(when))

    def _rotate(self) -> None:
        os.close(self._fd)
        for number in range(self._keep - 1, 0, -1):
            older = f"{self.path}.{number}"
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{number + 1}")
        os.replace(self.path, f"{self.path}.1")
        self._fd = self._open(truncate=True)
        self._in_file = 0
        self._needs_header = True

    def write_line(self, line: str, when: float, torn: bool) -> None:
        """Write one line (ending in a newline) stamped ``when``: one write, or two if ``torn``."""
        self._prepare(when)
        if torn:
            middle = len(line) // 2
            _write_all(self._fd, line[:middle])
            time.sleep(TORN_PAUSE)
            line = line[middle:]
        _write_all(self._fd, line)
        self._in_file += 1
        self.lines += 1

    def write_lines(self, lines: List[str], when: float) -> None:
        """Write whole lines (without newlines) at once; they must fit in :meth:`room`."""
        self._prepare(when)
        _write_all(self._fd, "\n".join(lines) + "\n")
        self._in_file += len(lines)
        self.lines += len(lines)


Output = Union[_LogFile, "TopicWriter"]
"""Where the lines go: a log file or a Kafka topic."""


def _write_all(fd: int, text: str) -> None:
    """Write all of ``text`` (UTF-8) to ``fd``, resuming after short writes."""
    data = memoryview(text.encode("utf-8"))
    while data:
        data = data[os.write(fd, data):]
