"""Replay whole log files fast: chunks parsed in parallel into counts, merged in time order.

:func:`replay` is what ``monitoring --replay`` runs (through :func:`monilog.run.replay`). It gives
the same reports, alerts and summary as the reference path, which parses every line into a
:class:`~monilog.parsing.record.LogRecord` and hands it to :meth:`Monitor.add_records
<monilog.monitor.Monitor.add_records>`, several files merged with :func:`heapq.merge`; only faster.
Set the environment variable ``MONILOG_REFERENCE=1`` (or pass ``reference=True``) to run the
reference path instead, e.g. to compare.

How
---
* Each regular file is cut at line starts into chunks (at most :data:`CHUNK_BYTES`, fewer towards
  the end; the first one small, since the monitor needs a few records through the reference path
  to set its clock). Worker processes read their chunk themselves and turn it into a
  :class:`ChunkAggregate` with :func:`aggregate_pieces`: the fast parser
  (:mod:`monilog.parsing.fast`) gives columns, the columns give hit counts of consecutive records
  with the same second (*runs*) and, per *segment* (the records of the chunk that count in one
  report period; one second when several files are merged), counters ready for
  :meth:`Statistics.add_counts <monilog.accumulation.statistics.Statistics.add_counts>`.
  Nothing is kept per line once a piece of a chunk is aggregated, and a few chunks are in flight
  per file, so memory does not grow with the file.
* The main process takes the chunks of each file in order and feeds the segments to
  :meth:`Monitor.add_aggregate <monilog.monitor.Monitor.add_aggregate>`, which moves the alert
  clock run by run exactly as the records would. Several files are merged with
  :func:`heapq.merge` on the segments' first second, as the reference merges records.

Identical by construction
-------------------------
A chunk is *well-behaved* when it has no ``#`` directive line, its timestamps share one UTC offset
and never step further ahead than the alerter's ``max_jump`` from the latest one. They may go back
(Apache stamps a line with the time its request arrived, and writes it when the request ends):
a record behind the period of the latest second counts in that period as a late one, as the
monitor counts it. When files are merged, timestamps must not go back within a chunk. Lines the
fast pattern does not handle go through the reference parser inside the worker, so malformed
lines are skipped for the reference's reasons.

A well-behaved chunk is aggregated on its own, as if its first record were the latest so far.
It is added in bulk only if, when its turn comes, the monitor is in its steady state (clock set,
nothing held back) and the chunk's first record is neither behind the period in progress nor
beyond ``max_jump`` after the clock: then every record counts in the period the worker put it
in, none can be pending or an outlier, and bulk accounting equals adding the records one by one
(:meth:`Monitor.add_aggregate` checks it and refuses anything else). Any other chunk (a 2099
timestamp, a W3C file, the first lines of a run) is read again by the main process and its
records go through the reference path. Skipped lines are counted at the moment the reference
path would count them (before the next record of their file), so every report shows the same
skip counts. Counters keep the order in which keys were first seen, so even statistics capped at
``max_keys`` keep the same keys.

Decisions: files are read up to the size they had when the replay started; a chunk longer than
:data:`MAX_CHUNK_BYTES` (a pathological line) and anything that is not a regular file (a pipe)
go through the reference path. There is one worker process per available core; on Linux they
are forked when the calling process has a single thread (else started by a ``forkserver``),
elsewhere started the platform's default way. Small inputs, a single core, or a process that may
not start others (a daemon) aggregate in the calling process.
"""

from __future__ import annotations

import gc
import heapq
import multiprocessing
import os
import signal
import stat
import sys
import threading
from collections import Counter, deque
from datetime import tzinfo
from itertools import groupby, islice
from operator import attrgetter, le
from typing import Any, Deque, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar, Union

from monilog.accumulation.report import RunSummary
from monilog.monitor import Monitor
from monilog.parsing.fast import (
    FAST_FORMATS, ParsedBlock, decode_request, decode_sizes, decode_stamp, decode_status, decode_who, parse_block,
)
from monilog.parsing.record import LogRecord
from monilog.watcher import LineSplitter, read_lines

REFERENCE_ENV = "MONILOG_REFERENCE"
"""Environment variable: set to ``1`` to replay through the reference path."""

CHUNK_BYTES = 16 << 20
"""Largest size of the chunks files are cut into (cut at the next line start): big chunks mean
fewer segments for the main process to apply."""
MIN_CHUNK_BYTES = 1 << 20
"""Smallest chunk size. In between, with worker processes, a chunk is a share of what is left
of its file (half of it divided by the workers), so the last chunks keep every worker busy."""
PIECE_BYTES = 512 << 10
"""Size of the pieces a chunk is parsed in (their short-lived objects stay in the CPU caches)."""
FIRST_CHUNK_BYTES = 64 << 10
"""Size of each file's first chunk, which usually goes through the reference path."""
MAX_CHUNK_BYTES = 64 << 20
"""A chunk longer than this (made of very long lines) is read line by line instead."""
IN_PROCESS_BYTES = 8 << 20
"""Inputs smaller than this are aggregated without worker processes."""
MERGED_CHUNK_BYTES = 2 << 20
"""Largest chunk when files are merged: their counters are kept per second, so a chunk's
aggregate is bigger and is kept smaller."""
CHUNKS_IN_FLIGHT = 2
"""Chunks handed ahead to each worker (results outstanding at most, whatever the number of files)."""
READ_BLOCK = 1 << 20
SCAN_BLOCK = 8 << 10

_DECODE_CACHE_LIMIT = 1 << 16
WORKER_FAILURE = "a replay worker failed"
"""Start of the reason given for a chunk a worker could not aggregate (a bug, or a killed worker):
the chunk is replayed through the reference path and a notice says so."""


class Segment(NamedTuple):
    """Records of one chunk that all count in one period (or one second), counted for the monitor."""

    epoch: int
    """Second of the first record (the merge key, as a record's ``epoch``)."""
    period: int
    """Start of the segment of time the records count in."""
    runs: List[Tuple[int, int]]
    """``(second, hits)`` of consecutive records with the same second, in file order."""
    zone: tzinfo
    section_status: Dict[Tuple[str, int], int]
    section_bytes: Dict[str, int]
    methods: Dict[str, int]
    clients: Dict[str, int]
    users: Dict[str, int]
    skipped: Dict[str, int]
    """Lines skipped after the segment's first record and before the next record."""


class ChunkAggregate(NamedTuple):
    """A well-behaved chunk, aggregated."""

    lines: int
    skipped: Dict[str, int]
    """Lines skipped before the chunk's first record."""
    segments: List[Segment]
    latest: int
    """The latest second of the chunk (0 without records)."""


def aggregate_block(
    block: bytes, fmt: str, segment_seconds: int, max_jump: float, ordered: bool = True,
) -> Union[ChunkAggregate, str]:
    """Aggregate a block of whole lines, or say (a short reason) why it is not well-behaved.

    ``segment_seconds`` is the length of the aligned segments of time counters are kept for (a
    record counts in the segment of the latest second so far, as the monitor counts a late
    record in the period in progress); ``max_jump`` the alerter's limit on a step forward in
    time; ``ordered`` requires seconds that never go back.
    """
    return aggregate_pieces(_pieces(block), fmt, segment_seconds, max_jump, ordered)


def aggregate_pieces(
    pieces: Iterable[bytes], fmt: str, segment_seconds: int, max_jump: float, ordered: bool = True,
) -> Union[ChunkAggregate, str]:
    """:func:`aggregate_block` of consecutive blocks of whole lines, joined.

    Parsing in pieces of about :data:`PIECE_BYTES` keeps the short-lived objects of a piece in
    the CPU caches, and the memory of a worker small whatever the chunk size.
    """
    total: Optional[ChunkAggregate] = None
    for block in pieces:
        latest = total.latest if total is not None and total.segments else None
        piece = _aggregate_piece(block, fmt, segment_seconds, max_jump, ordered, latest)
        if isinstance(piece, str):
            return piece
        if total is None:
            total = piece
        else:
            joined = _join(total, piece)
            if isinstance(joined, str):
                return joined
            total = joined
    return total if total is not None else ChunkAggregate(0, {}, [], 0)


def _pieces(block: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(block):
        end = block.find(b"\n", start + PIECE_BYTES - 1) + 1 or len(block)
        yield block[start:end]
        start = end


def _aggregate_piece(
    block: bytes, fmt: str, segment_seconds: int, max_jump: float, ordered: bool, latest: Optional[int],
) -> Union[ChunkAggregate, str]:
    """Aggregate one piece; ``latest`` is the latest second of the pieces before it, if any."""
    if block.startswith(b"#") or b"\n#" in block:
        return "directive line"  # it may switch the file's parser to W3C
    parsed = parse_block(block, fmt)
    stamps = parsed.stamps
    if not stamps:
        return ChunkAggregate(parsed.lines, _reasons(parsed.skipped), [], 0)
    moments = {key: decode_stamp(key) for key in set(stamps)}
    zones = {zone for _, zone in moments.values()}
    if len(zones) != 1:
        return "several UTC offsets"
    zone = zones.pop()
    epoch_of = {key: epoch for key, (epoch, _) in moments.items()}
    epochs = list(map(epoch_of.__getitem__, stamps))
    if all(map(le, epochs, islice(epochs, 1, None))):
        runs = list(Counter(epochs).items())  # in time order, since the epochs are
    elif ordered:
        return "out of time order"
    else:
        runs = [(second, sum(1 for _ in group)) for second, group in groupby(epochs)]
    del epochs, epoch_of, moments

    if latest is None:
        latest = runs[0][0]
    elif ordered and runs[0][0] < latest:
        return "out of time order"
    bounds: List[Tuple[int, int, int, int, int]] = []  # segment, first run, end run, first record, end record
    first_run = first_record = record = 0
    segment = latest - latest % segment_seconds
    for index, (second, hits) in enumerate(runs):
        if second > latest:
            if second - latest > max_jump:
                return "jump in time"
            latest = second
            if latest - latest % segment_seconds != segment:
                bounds.append((segment, first_run, index, first_record, record))
                first_run, first_record = index, record
                segment = latest - latest % segment_seconds
        record += hits
    bounds.append((segment, first_run, len(runs), first_record, record))

    leading: Dict[str, int] = {}
    after: List[Dict[str, int]] = [{} for _ in bounds]
    which = 0
    for next_record, reason in parsed.skipped:
        if next_record == 0:
            target = leading
        else:
            while bounds[which][4] < next_record:
                which += 1
            target = after[which]
        target[reason] = target.get(reason, 0) + 1

    sizes = decode_sizes(parsed.sizes)
    segments = [
        _segment(parsed, sizes, period, runs[run_start:run_end], record_start, record_end, zone, skipped)
        for (period, run_start, run_end, record_start, record_end), skipped in zip(bounds, after)
        if run_end > run_start
    ]
    return ChunkAggregate(parsed.lines, leading, segments, latest)


def _join(first: ChunkAggregate, second: ChunkAggregate) -> Union[ChunkAggregate, str]:
    """The aggregate of two consecutive blocks, ``second`` aggregated after ``first`` (whose dicts are reused)."""
    lines = first.lines + second.lines
    if not second.segments:
        _add_to(first.segments[-1].skipped if first.segments else first.skipped, second.skipped)
        return ChunkAggregate(lines, first.skipped, first.segments, first.latest)
    if not first.segments:
        _add_to(first.skipped, second.skipped)
        return ChunkAggregate(lines, first.skipped, second.segments, second.latest)
    last, following = first.segments[-1], second.segments[0]
    if last.zone != following.zone:
        return "several UTC offsets"
    _add_to(last.skipped, second.skipped)
    if last.period != following.period:
        return ChunkAggregate(lines, first.skipped, first.segments + second.segments, second.latest)
    runs = last.runs
    if runs[-1][0] == following.epoch:
        runs[-1] = (following.epoch, runs[-1][1] + following.runs[0][1])
        runs.extend(following.runs[1:])
    else:
        runs.extend(following.runs)
    for mine, theirs in zip(last[4:], following[4:]):  # the counters, then the skipped lines
        _add_to(mine, theirs)
    return ChunkAggregate(lines, first.skipped, first.segments + second.segments[1:], second.latest)


def _add_to(counts: Dict[Any, int], more: Dict[Any, int]) -> None:
    """Add ``more`` into ``counts``; keys new to ``counts`` go last, in their order."""
    for key, count in more.items():
        counts[key] = counts.get(key, 0) + count


def _reasons(skipped: Sequence[Tuple[int, str]]) -> Dict[str, int]:
    return dict(Counter(reason for _, reason in skipped))


_who_cache: Dict[Any, Tuple[str, str]] = {}
_request_cache: Dict[Any, Tuple[str, str]] = {}


def _segment(
    parsed: ParsedBlock, sizes: List[int], period: int, runs: List[Tuple[int, int]], start: int, end: int,
    zone: tzinfo, skipped: Dict[str, int],
) -> Segment:
    """Count records ``start`` to ``end`` of a parsed block; keys keep their first-seen order."""
    if len(_who_cache) > _DECODE_CACHE_LIMIT:
        _who_cache.clear()
    if len(_request_cache) > _DECODE_CACHE_LIMIT:
        _request_cache.clear()
    clients: Dict[str, int] = {}
    users: Dict[str, int] = {}
    for key, count in Counter(parsed.who[start:end]).items():
        decoded = _who_cache.get(key)
        if decoded is None:
            decoded = _who_cache[key] = decode_who(key)
        host, user = decoded
        clients[host] = clients.get(host, 0) + count
        if user:
            users[user] = users.get(user, 0) + count

    requests = parsed.requests[start:end]
    section_status: Dict[Tuple[str, int], int] = {}
    methods: Dict[str, int] = {}
    for (request, status), count in Counter(zip(requests, parsed.statuses[start:end])).items():
        decoded = _request_cache.get(request)
        if decoded is None:
            decoded = _request_cache[request] = decode_request(request)
        method, section = decoded
        pair = (section, decode_status(status))
        section_status[pair] = section_status.get(pair, 0) + count
        methods[method] = methods.get(method, 0) + count

    by_request: Dict[Any, int] = {}
    get = by_request.get
    for request, size in zip(requests, sizes[start:end]):
        by_request[request] = get(request, 0) + size
    section_bytes: Dict[str, int] = {}
    for request, total in by_request.items():
        section = _request_cache[request][1]
        section_bytes[section] = section_bytes.get(section, 0) + total
    return Segment(runs[0][0], period, runs, zone, section_status, section_bytes, methods, clients, users, skipped)


# -- chunks of files ------------------------------------------------------------------------------


class _Task(NamedTuple):
    path: str
    start: int
    end: int
    fmt: str
    segment_seconds: int
    max_jump: float
    ordered: bool


def _aggregate_safely(task: _Task) -> Union[ChunkAggregate, str]:
    """:func:`_aggregate_range`, an unexpected error becoming the reason to take the reference path."""
    try:
        return _aggregate_range(task)
    except Exception as error:  # noqa: BLE001 - the chunk is replayed line by line and a notice says why
        return f"{WORKER_FAILURE}: {type(error).__name__}: {error}"


def _aggregate_range(task: _Task) -> Union[ChunkAggregate, str]:
    """Read and aggregate one chunk (in a worker process, or in this one for small inputs)."""
    collecting = gc.isenabled()
    gc.disable()  # aggregation makes no reference cycles, only many short-lived tuples
    try:
        with open(task.path, "rb", buffering=0) as stream:
            return aggregate_pieces(_file_pieces(stream.fileno(), task.start, task.end), task.fmt,
                                    task.segment_seconds, task.max_jump, task.ordered)
    except _ChunkChanged:
        return "file changed"
    finally:
        if collecting:
            gc.enable()


class _ChunkChanged(Exception):
    """The file no longer has the bytes its chunk was planned on."""


def _file_pieces(descriptor: int, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of a file in blocks of whole lines of about :data:`PIECE_BYTES`.

    Each read starts at a line start: the partial line at the end of a read is read again.
    """
    while start < end:
        size = min(PIECE_BYTES, end - start)
        while True:
            data = os.pread(descriptor, size, start)
            if len(data) < size:
                raise _ChunkChanged
            if start + size >= end:
                break
            newline = data.rfind(b"\n")
            if newline >= 0:
                data = data[:newline + 1]
                break
            size = min(2 * size, end - start)  # a line longer than a piece
        yield data
        start += len(data)


def _next_line_start(stream: Any, position: int, size: int) -> int:
    """The first line start at or after ``position`` (``size`` when there is none)."""
    if position >= size:
        return size
    stream.seek(position - 1)
    offset = position - 1
    while offset < size:
        block = stream.read(min(SCAN_BLOCK, size - offset))
        if not block:
            break
        newline = block.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
        offset += len(block)
    return size


def _chunk_bounds(path: str, size: int, workers: int, largest: int) -> Iterator[Tuple[int, int]]:
    """``(start, end)`` of the chunks of a file of ``size`` bytes, cut at line starts."""
    with open(path, "rb", buffering=0) as stream:
        start, length = 0, FIRST_CHUNK_BYTES
        while start < size:
            end = _next_line_start(stream, start + length, size)
            yield start, end
            start = end
            share = (size - start) // (2 * workers) if workers else largest
            length = min(largest, max(MIN_CHUNK_BYTES, share))


def _range_lines(path: str, start: int, end: Optional[int]) -> Iterator[bytes]:
    """The lines of bytes ``start`` to ``end`` (None: the end) of a file, split as :func:`read_lines` does."""
    splitter = LineSplitter()
    with open(path, "rb", buffering=0) as stream:
        stream.seek(start)
        while end is None or start < end:
            block = stream.read(READ_BLOCK if end is None else min(READ_BLOCK, end - start))
            if not block:
                break
            start += len(block)
            yield from splitter.feed(block)
    last = splitter.flush()
    if last is not None:
        yield last


ChunkResult = Tuple[int, int, Union[ChunkAggregate, str]]


class _Workers:
    """Worker processes aggregating chunks, each fed through its own pipe.

    No helper thread runs in this process (a :class:`multiprocessing.pool.Pool` has three, and
    they compete with the replay for the interpreter lock). Each worker answers its tasks in
    order; a worker that dies leaves its chunks to the reference path.
    """

    def __init__(self, count: int) -> None:
        if sys.platform.startswith("linux"):
            # fork is the fastest start, and safe while this process has a single thread
            context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "forkserver")
        else:
            context = multiprocessing.get_context()
        self._connections: List[Any] = []
        self._processes: List[Any] = []
        self._queued: List[Deque[int]] = []
        self._done: Dict[int, Union[ChunkAggregate, str]] = {}
        self._worker_of: Dict[int, int] = {}
        self._tickets = self._taken = 0
        self.count = count
        """Number of worker processes."""
        self.limit = CHUNKS_IN_FLIGHT * count
        """How many results may be outstanding before chunks are only handed out when needed."""
        try:
            for _ in range(count):
                mine, theirs = context.Pipe()
                process = context.Process(target=_worker_main, args=(theirs,), daemon=True)
                self._connections.append(mine)
                self._queued.append(deque())
                process.start()
                self._processes.append(process)
                theirs.close()
        except BaseException:
            self.close()
            raise

    def submit(self, task: _Task) -> int:
        """Hand ``task`` to the least busy worker; return the ticket for :meth:`result`."""
        ticket = self._tickets
        self._tickets += 1
        while True:
            alive = [index for index, connection in enumerate(self._connections) if connection is not None]
            if not alive:
                self._done[ticket] = _aggregate_safely(task)
                return ticket
            worker = min(alive, key=lambda index: len(self._queued[index]))
            try:
                self._connections[worker].send(task)
            except OSError:
                self._lose(worker)
                continue
            self._queued[worker].append(ticket)
            self._worker_of[ticket] = worker
            return ticket

    @property
    def outstanding(self) -> int:
        """Tickets handed out whose result was not taken yet."""
        return self._tickets - self._taken

    def result(self, ticket: int) -> Union[ChunkAggregate, str]:
        """The aggregate (or reason) of a submitted task, waiting for it if needed."""
        while ticket not in self._done:
            worker = self._worker_of[ticket]
            try:
                answer = self._connections[worker].recv()
            except (EOFError, OSError):
                self._lose(worker)
                continue
            self._done[self._queued[worker].popleft()] = answer
        self._worker_of.pop(ticket, None)
        self._taken += 1
        return self._done.pop(ticket)

    def _lose(self, worker: int) -> None:
        """Give up a worker that died: its queued chunks go through the reference path."""
        self._connections[worker].close()
        self._connections[worker] = None
        for lost in self._queued[worker]:
            self._done[lost] = f"{WORKER_FAILURE}: the process ended"
        self._queued[worker].clear()

    def close(self) -> None:
        """Stop the workers (at once: any work still queued is abandoned)."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join()
        for connection in self._connections:
            if connection is not None:
                connection.close()


def _worker_main(connection: Any) -> None:
    """A worker process: aggregate each task received, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a handler inherited from the caller would not do
    gc.disable()  # aggregation makes no reference cycles, only many short-lived tuples
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(_aggregate_safely(task))


def _chunk_results(task: _Task, size: int, workers: Optional[_Workers], largest: int) -> Iterator[ChunkResult]:
    """Aggregates of a file's chunks (at most ``largest`` bytes) in order, computed ahead by ``workers``.

    Chunks are handed to the workers ahead of need while fewer than :attr:`_Workers.limit`
    results are outstanding in all, so several files merged cannot pile up results in memory.
    """
    pending: Deque[List[Any]] = deque()  # [start, end, ticket, or reason, or None before submission]
    for start, end in _chunk_bounds(task.path, size, workers.count if workers else 0, largest):
        oversized = "oversized chunk" if end - start > MAX_CHUNK_BYTES else None
        if workers is None:
            yield start, end, oversized or _aggregate_safely(task._replace(start=start, end=end))
            continue
        pending.append([start, end, oversized])
        for entry in pending:
            if entry[2] is None:
                if workers.outstanding >= workers.limit:
                    break
                entry[2] = workers.submit(task._replace(start=entry[0], end=entry[1]))
        while len(pending) > workers.limit:
            yield _ready(pending.popleft(), task, workers)
    while pending:
        yield _ready(pending.popleft(), task, workers)  # type: ignore[arg-type]


def _ready(entry: List[Any], task: _Task, workers: _Workers) -> ChunkResult:
    start, end, ticket = entry
    if ticket is None:
        ticket = workers.submit(task._replace(start=start, end=end))
    return start, end, ticket if isinstance(ticket, str) else workers.result(ticket)


def _file_items(monitor: Monitor, path: str, chunks: Iterator[ChunkResult]) -> Iterator[Union[Segment, LogRecord]]:
    """The segments and records of one file, in file order, counting its lines and skipped lines."""
    parser = monitor.parser_for(path)
    parsed_one = False  # whether the file's own parser has read a record (then '#' lines are comments)
    for start, end, result in chunks:
        if parser.detected == "w3c":  # a directive switched it: no fast path for the rest of the file
            yield from monitor.parse(path, _range_lines(path, start, None))
            return
        # A chunk is aggregated on its own, as if its first record were the latest so far: that is
        # how the monitor counts it when that record is not behind the period in progress.
        if isinstance(result, ChunkAggregate) and (
            not result.segments or parsed_one and monitor.aggregate_ready(result.segments[0].epoch)
        ):
            monitor.count_lines(result.lines)
            _count_skipped(monitor, result.skipped)
            for segment in result.segments:
                yield segment
                _count_skipped(monitor, segment.skipped)
        else:
            if isinstance(result, str) and result.startswith(WORKER_FAILURE):
                monitor.notice(f"{path}: bytes {start}-{end} replayed line by line after {result}", kind="replay")
            for record in monitor.parse(path, _range_lines(path, start, end)):
                parsed_one = True
                yield record


def _starts_with_directive(path: str) -> bool:
    """Whether a file starts with a ``#`` line, as W3C logs do (no fast path for those)."""
    with open(path, "rb") as stream:
        return stream.read(1) == b"#"


def _count_skipped(monitor: Monitor, skipped: Dict[str, int]) -> None:
    for reason, count in skipped.items():
        monitor.count_skipped(reason, count)


def _worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def replay(
    monitor: Monitor, paths: Sequence[str], *, reference: Optional[bool] = None, workers: Optional[int] = None,
    stop: Optional[threading.Event] = None,
) -> RunSummary:
    """Feed whole files to ``monitor`` in timestamp order and return its summary.

    Setting ``stop`` (from a signal handler) ends the replay early, with the summary of what was read.

    :param reference: replay record by record (the reference path); by default when the
        environment variable :data:`REFERENCE_ENV` is set to anything but ``0``.
    :param workers: worker processes (default: one per available core; 0 or 1 aggregates in
        this process).
    """
    if reference is None:
        reference = os.environ.get(REFERENCE_ENV, "") not in ("", "0")
    if reference or monitor.fmt not in FAST_FORMATS:
        return reference_replay(monitor, paths, stop)

    sizes: List[Optional[int]] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            info = None
        sizes.append(info.st_size if info is not None and stat.S_ISREG(info.st_mode) else None)
    count = _worker_count() if workers is None else workers
    total = sum(size or 0 for size in sizes)
    if count < 2 or total < IN_PROCESS_BYTES:
        count = 0
    # One file: segments are report periods, and lines may go back in time (late ones count in the
    # period in progress). Merged files: segments are seconds, the merge interleaves them exactly.
    segment_seconds, ordered = (monitor.period, False) if len(paths) == 1 else (1, True)
    processes = None
    if count:
        try:
            processes = _Workers(count)
        except (OSError, AssertionError):  # no more processes, or this one is a daemon that may not have any
            processes = None
    try:
        streams: List[Iterator[Union[Segment, LogRecord]]] = []
        for path, size in zip(paths, sizes):
            if size is None or _starts_with_directive(path):
                streams.append(monitor.parse(path, read_lines(path)))
            else:
                task = _Task(path, 0, 0, monitor.fmt, segment_seconds, monitor.alerter.max_jump, ordered)
                chunks = _chunk_results(task, size, processes, CHUNK_BYTES if len(paths) == 1 else MERGED_CHUNK_BYTES)
                streams.append(_file_items(monitor, path, chunks))
        items = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=attrgetter("epoch"))
        for item in _until(stop, items):
            if type(item) is Segment:
                monitor.add_aggregate(
                    item.runs, item.zone, section_status=item.section_status, section_bytes=item.section_bytes,
                    methods=item.methods, clients=item.clients, users=item.users,
                )
            else:
                monitor.add_records((item,))
    finally:
        if processes is not None:
            processes.close()
    return monitor.finish()


def reference_replay(monitor: Monitor, paths: Sequence[str], stop: Optional[threading.Event] = None) -> RunSummary:
    """The reference path: every line parsed into a record, several files merged record by record."""
    streams: List[Iterator[LogRecord]] = [monitor.parse(path, read_lines(path)) for path in paths]
    records = streams[0] if len(streams) == 1 else heapq.merge(*streams, key=attrgetter("epoch"))
    monitor.add_records(_until(stop, records))
    return monitor.finish()


T = TypeVar("T")


def _until(stop: Optional[threading.Event], items: Iterable[T]) -> Iterator[T]:
    """``items`` until ``stop`` is set."""
    if stop is None:
        yield from items
        return
    for item in items:
        if stop.is_set():
            return
        yield item
