"""Replay whole files: chunks aggregated in parallel, applied to the monitor in file and time order.

:func:`replay` is what ``monitoring --replay`` runs. It goes through the one engine of
:mod:`monilog.monitor` like following live does; only where the lines come from differs:

* Each regular file is cut at line starts into chunks (:class:`~monilog.replayer.tuning.ReplayTuning`
  sizes them). Worker processes read their chunk themselves and aggregate it into a
  :class:`~monilog.accumulation.aggregate.Batch` (:mod:`monilog.replayer.aggregation`); the main
  process applies the batches of each file in order with :meth:`Monitor.apply
  <monilog.monitor.Monitor.apply>`. A few chunks are in flight per file, so memory does not grow
  with the file.
* A chunk a worker refuses (a ``#`` directive line, a file that shrank, a worker that failed),
  every chunk of a file whose parser reads W3C, anything that is not a regular file (a pipe), and
  a chunk of pathologically long lines are read by the main process and fed line by line in
  batches: the same parser and the same apply step, so the same results.
* A compressed file (gzip, bzip2 or xz, told by its first bytes whatever its name: see
  :func:`~monilog.watcher.compression_of`) cannot be cut at byte offsets: the main process reads
  it as one stream, decompressed a block at a time with the standard library (concatenated
  streams included), and feeds its lines in batches like a pipe's. Where its data is cut short or
  corrupt, a notice says so and the lines before count (the replay goes on and ends normally, as
  for a file that is not text).
* A Kafka topic (``kafka://HOST:PORT/TOPIC``, :class:`~monilog.watcher.kafka.TopicReplay`) is
  read from each partition's earliest offset to its end at start; each partition is one stream
  of blocks of lines, aggregated by the workers like a file's chunks (the block travels with its
  task) and merged with the others like a file.
* Several files (and partitions) are merged in time order as one server's traffic: their batches are cut per second
  and merged with :func:`heapq.merge` on the second, as records of one second stay together. Lines
  skipped in a file count just before the next record of that file (or after its last one).

Decisions: files are read up to the size they had when the replay started (a file that shrinks
meanwhile gets a notice). A file that is not text (UTF-16, compressed in another format such as
zstd: see :func:`~monilog.watcher.text_problem`) is not read, and one notice says so. There is
one worker process per available core; on Linux they are forked when the calling process has a
single thread (else started by a ``forkserver``), elsewhere started the platform's default way. Small
inputs, a single core, or a process that may not start others (a daemon) aggregate in the
calling process. Setting ``stop`` ends the replay between two batches:
the summary then adds up over what was applied.

Progress: ``progress``, if given, is called in the calling process after each batch that moves
the replay on in its files, and once at the end, with a :class:`ReplayProgress`: bytes of the files as stored (so a
compressed file counts by its compressed bytes), which end at the total once every file has been
read. A chunk counts once applied; a file read as lines (a pipe, a W3C log, a compressed file)
counts by the bytes its reader has taken. The engine knows nothing of how progress is shown:
callers throttle it (``monitoring`` draws a bar at most 10 times a second).
"""

from __future__ import annotations

import gc
import heapq
import os
import stat
import threading
from collections import deque
from functools import partial
from itertools import islice
from operator import attrgetter
from typing import (
    BinaryIO,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
)

from monilog.accumulation.aggregate import Batch
from monilog.accumulation.report import RunSummary
from monilog.monitor import Monitor, without_cyclic_gc
from monilog.replayer.aggregation import ChunkResult, ChunkTask, Refusal, aggregate_chunk, reparse, span_reader, task_lines
from monilog.replayer.chunks import Damaged, chunk_bounds, decompressed_lines
from monilog.replayer.tuning import ReplayTuning
from monilog.replayer.workers import WorkerPool
from monilog.watcher import Compression, compression_of, read_lines, text_problem
from monilog.watcher.kafka import KafkaSettings, TopicReplay, is_kafka

TEXT_SAMPLE_BYTES = 1024
"""How many first bytes of a file tell whether it is a text log."""

T = TypeVar("T")


class ReplayProgress(NamedTuple):
    """How far a replay is, as passed to its ``progress`` callback."""

    path: str
    """The file the last batch applied came from."""
    done: int
    """Bytes of the files read and applied so far."""
    total: Optional[int]
    """Bytes of all the files replayed, as they were at the start; None when an input is not a
    regular file (a pipe: its size is not known)."""
    lines: int
    """Lines applied so far."""


class _Part(NamedTuple):
    """One second of one file's batch, for merging files (a batch of one segment, or of none)."""

    epoch: int
    batch: Batch
    path: str
    position: int
    """Bytes of its file read once this part is applied."""


_Positioned = Tuple[Batch, int]
"""A batch of a file, and the bytes of that file read once it is applied."""


class _Tracker:
    """Adds up the bytes and lines applied and calls the progress callback when bytes move on."""

    def __init__(self, report: Optional[Callable[[ReplayProgress], None]], total: Optional[int]) -> None:
        self.report, self.total = report, total
        self.done = self.lines = 0
        self._at: Dict[str, int] = {}
        self._path = ""
        self._reported = 0

    def applied(self, path: str, position: int, lines: int) -> None:
        self.lines += lines
        self._path = path
        moved = position - self._at.get(path, 0)
        if moved > 0:
            self._at[path] = position
            self.done += moved
            self.finish()

    def finish(self) -> None:
        """Report where the replay is, if it moved on since the last report (the last lines of a
        compressed file come after its last bytes were read)."""
        if self.report is not None and self.lines + self.done > self._reported:
            self._reported = self.lines + self.done
            self.report(ReplayProgress(self._path, self.done, self.total, self.lines))


class _Input(NamedTuple):
    """A file to replay, and how its first bytes say to read it."""

    path: str
    size: Optional[int]
    """Its size, to cut it into chunks; None to read it as one stream of lines in this process
    (a pipe, a W3C log, a compressed file)."""
    compression: Optional[Compression]
    """How it is compressed, if it is, in a format this replay decompresses."""
    problem: Optional[str]
    """Why it is not replayed (:func:`~monilog.watcher.text_problem`), if it is not."""
    stored: Optional[int]
    """Its size on disk (compressed, for a compressed file); None when not a regular file."""


def replay(
    monitor: Monitor, paths: Sequence[str], *, tuning: Optional[ReplayTuning] = None,
    stop: Optional[threading.Event] = None, progress: Optional[Callable[[ReplayProgress], None]] = None,
    kafka: Optional[KafkaSettings] = None,
) -> RunSummary:
    """Feed whole files (and ``kafka://`` topics, read with the ``kafka`` settings) to ``monitor``
    in timestamp order and return its summary.

    Setting ``stop`` (from a signal handler) ends the replay early, with the summary of what was read.
    ``progress`` is told how far the replay is (see the module documentation).
    """
    tuning = tuning or ReplayTuning()
    topics: List[TopicReplay] = []
    pool = None
    try:
        for path in paths:
            if is_kafka(path):
                topics.append(TopicReplay(path, kafka or KafkaSettings(), notice=partial(_notice, monitor),
                                          on_skipped=partial(_skipped, monitor), stop=stop))
        inputs = [_examine(path) for path in paths if not is_kafka(path)]
        count = tuning.workers or _worker_count()
        if count < 2 or (not topics and sum(item.size or 0 for item in inputs) < tuning.in_process_bytes):
            count = 0
        merged = len(inputs) + sum(len(topic.partitions) for topic in topics) > 1
        span = 1 if merged else monitor.batch_span
        sizes = [item.stored for item in inputs if item.problem is None]
        tracker = _Tracker(progress, None if topics or None in sizes else sum(size or 0 for size in sizes))
        if count:
            try:
                pool = WorkerPool(count, tuning.chunks_in_flight)
            except (OSError, AssertionError):  # no more processes, or this one is a daemon that may not have any
                pool = None
        feeder = _Feeder(pool) if pool is not None else None
        streams = [(item.path, _file_batches(monitor, item, span, feeder, tuning, not merged)) for item in inputs]
        for topic in topics:
            streams += [(f"{topic.url}#{index}", _topic_batches(monitor, topic.url, blocks, span, feeder, tuning, not merged))
                        for index, blocks in enumerate(topic.streams(tuning.merged_chunk_bytes))]  # a partition each
        with without_cyclic_gc():  # see _until
            if not merged:
                for path, stream in streams:  # one, or none when ``stop`` came while a topic was out of reach
                    for batch, position in _until(stop, stream):
                        monitor.apply(batch)
                        tracker.applied(path, position, batch.lines)
            else:
                parts = heapq.merge(*(_seconds(path, stream) for path, stream in streams), key=attrgetter("epoch"))
                for part in _until(stop, parts):
                    monitor.apply(part.batch)
                    tracker.applied(part.path, part.position, part.batch.lines)
        tracker.finish()
    finally:
        if pool is not None:
            pool.close()
        for topic in topics:
            topic.close()
    return monitor.finish()


def _notice(monitor: Monitor, message: str, kind: str) -> None:
    monitor.notice(message, kind=kind)


def _skipped(monitor: Monitor, source: str, reason: str, amount: int) -> None:
    monitor.count_skipped(reason, amount)


def _examine(path: str) -> _Input:
    """How to read ``path``: its first bytes tell whether it is compressed, W3C, or not text."""
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        return _Input(path, None, None, None, None)
    with open(path, "rb") as stream:
        head = stream.read(TEXT_SAMPLE_BYTES)
    compression = compression_of(head)
    if compression is not None and compression.module is not None:
        return _Input(path, None, compression, None, info.st_size)
    # a file starting with a '#' line, as W3C logs do, is read by this process's parser
    return _Input(path, None if head.startswith(b"#") else info.st_size, None, text_problem(head), info.st_size)


def _file_batches(
    monitor: Monitor, item: _Input, span: int, feeder: Optional[_Feeder], tuning: ReplayTuning, fold: bool,
) -> Iterator[_Positioned]:
    """The batches of one file, in file order (none for a file that is not text: a notice says so),
    the last one, empty if need be, at the end of the file as it was at the start; ``fold``: the
    workers fold the periods they hold whole (:attr:`ChunkTask.fold_whole_periods`)."""
    path, size = item.path, item.size
    if item.problem is not None:
        monitor.notice(f"{path}: {item.problem}: not replayed", kind="not-text")
        return
    if size is None:
        if item.compression is None:
            yield from _line_batches(monitor, path, read_lines(path), span, tuning, item.stored)
        else:
            with open(path, "rb") as raw:
                lines = _decompressed_lines(monitor, raw, item.compression)
                yield from _line_batches(monitor, path, lines, span, tuning, item.stored, raw)
        return
    largest = tuning.chunk_bytes if span != 1 else tuning.merged_chunk_bytes
    task = ChunkTask(path, 0, 0, monitor.fmt, span, tuning.piece_bytes, monitor.reading, cut_keys=monitor.cut_keys,
                     counted_lines=tuning.counted_lines, fold_whole_periods=fold)
    span_of = span_reader(monitor.fmt, span, monitor.reading) if fold and task.cut_keys is not None else None
    bounds = chunk_bounds(path, size, tuning.first_chunk_bytes, tuning.min_chunk_bytes, largest,
                          feeder.pool.count if feeder else 0, span_of)
    yield from _aggregated(monitor, path, (task._replace(start=start, end=end, starts_span=starts_span)
                                           for start, end, starts_span in bounds), span, feeder, tuning)


def _topic_batches(monitor: Monitor, url: str, blocks: Iterable[bytes], span: int, feeder: Optional[_Feeder],
                   tuning: ReplayTuning, fold: bool) -> Iterator[_Positioned]:
    """The batches of one partition of a topic, from its blocks of whole lines, each with the bytes
    of the partition read once it is applied; ``fold`` as for :func:`_file_batches`."""
    task = ChunkTask(url, 0, 0, monitor.fmt, span, tuning.piece_bytes, monitor.reading, cut_keys=monitor.cut_keys,
                     counted_lines=tuning.counted_lines, fold_whole_periods=fold)

    def tasks() -> Iterator[ChunkTask]:
        offset = 0
        for block in blocks:
            yield task._replace(start=offset, end=offset + len(block), data=block)
            offset += len(block)

    yield from _aggregated(monitor, url, tasks(), span, feeder, tuning)


def _aggregated(monitor: Monitor, path: str, tasks: Iterable[ChunkTask], span: int, feeder: Optional[_Feeder],
                tuning: ReplayTuning) -> Iterator[_Positioned]:
    """The batches of a source's chunks, aggregated ahead by the ``feeder``'s workers (or here), in order; a chunk
    refused is read by this process, with the source's own parser."""
    parser = monitor.parser_for(path)
    for task, result in _chunk_results(tasks, feeder, tuning):
        if isinstance(result, Batch) and parser.detected != "w3c":
            result.loader = partial(reparse, task)
            monitor.check_format(path, result)
            yield result, task.end
            if result.records:
                parser.clf_seen = True  # later '#' lines of the file are comments
            continue
        if isinstance(result, Refusal) and result.failure:
            where = f"bytes {task.start}-{task.end}" if task.data is None else f"a block of {task.end - task.start} bytes"
            monitor.notice(f"{path}: {where} read by the main process after {result.reason}", kind="replay")
        for batch, _ in _line_batches(monitor, path, task_lines(task), span, tuning, task.end - task.start):
            yield batch, task.start  # the chunk counts once all its batches are applied
        yield Batch([], [], 0, 0, None), task.end


def _decompressed_lines(monitor: Monitor, raw: BinaryIO, compression: Compression) -> Iterator[bytes]:
    """The lines of a compressed file; where its data is damaged, a notice, and the lines before count."""
    try:
        yield from decompressed_lines(raw, compression)
    except Damaged as damage:
        monitor.notice(f"{raw.name}: {damage}: the lines before the damage are replayed", kind="damaged")


def _line_batches(monitor: Monitor, path: str, lines: Iterable[bytes], span: int, tuning: ReplayTuning,
                  size: Optional[int], raw: Optional[BinaryIO] = None) -> Iterator[_Positioned]:
    """Lines read by this process, parsed and aggregated in batches by the source's own parser,
    each with the bytes read once it is applied: ``raw``'s position when given (a compressed
    file's), else the bytes of the lines, up to ``size``; the last batch, empty if need be, at
    ``size`` (a pipe's, unknown, at the bytes of its lines)."""
    lines = iter(lines)
    position = 0
    while True:
        block = list(islice(lines, tuning.lines_per_batch))
        if not block:
            break
        position = raw.tell() if raw is not None else position + sum(map(len, block)) + len(block)
        yield monitor.batch(path, b"\n".join(block) + b"\n", span), position if size is None else min(position, size)
    if size is not None and position != size:
        yield Batch([], [], 0, 0, None), size


def _chunk_results(tasks: Iterable[ChunkTask], feeder: Optional[_Feeder], tuning: ReplayTuning,
                   ) -> Iterator[Tuple[ChunkTask, ChunkResult]]:
    """Results of a source's chunks in order, computed ahead by the ``feeder``'s pool.

    A source holds up to :attr:`WorkerPool.limit` chunks ahead of the one it waits for; the
    feeder hands them to the workers while fewer than that many results are outstanding in all,
    so several files merged cannot pile up results in memory.
    """
    if feeder is None:
        for task in tasks:
            yield task, Refusal("oversized chunk") if task.end - task.start > tuning.max_chunk_bytes else aggregate_chunk(task)
        return
    pool = feeder.pool
    pending = feeder.queue()
    try:
        for task in tasks:
            pending.append(_Pending(task, Refusal("oversized chunk") if task.end - task.start > tuning.max_chunk_bytes else None))
            feeder.feed()
            while len(pending) > pool.limit:
                yield feeder.take(pending)
        while pending:
            yield feeder.take(pending)
    finally:
        feeder.forget(pending)


class _Feeder:
    """Hands the chunks the sources hold ahead to the workers, fairly: the next chunk handed out
    is the first one not handed out yet of the source with the fewest handed out.

    Merged sources are read in time order, a chunk of each in turn, so the chunk a source will
    need next is ready when it is needed, instead of waiting behind chunks of another source far
    ahead (the first source to take the slots would keep them, and the others' chunks would be
    aggregated one at a time, when waited for).
    """

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        self._queues: List[Deque[_Pending]] = []

    def queue(self) -> Deque[_Pending]:
        """A new source's chunks, to fill in order (and to :meth:`forget` at its end)."""
        queue: Deque[_Pending] = deque()
        self._queues.append(queue)
        return queue

    def forget(self, queue: Deque[_Pending]) -> None:
        self._queues = [other for other in self._queues if other is not queue]

    def feed(self) -> None:
        """Hand out chunks while fewer results than the pool's limit are outstanding."""
        pool = self.pool
        while pool.outstanding < pool.limit:
            chosen, fewest = None, 0
            for queue in self._queues:
                handed = next((index for index, entry in enumerate(queue) if entry.ticket is None), None)
                if handed is not None and (chosen is None or handed < fewest):
                    chosen, fewest = queue, handed
            if chosen is None:
                return
            entry = chosen[fewest]
            entry.ticket = pool.submit(entry.task)

    def take(self, queue: Deque[_Pending]) -> Tuple[ChunkTask, ChunkResult]:
        """The result of a source's first chunk (waited for); its slot goes to the next chunk due."""
        result = queue.popleft().result(self.pool)
        self.feed()
        return result


class _Pending:
    """A chunk handed to the workers (or not yet, or refused before)."""

    __slots__ = ("task", "ticket")

    def __init__(self, task: ChunkTask, ticket: Union[int, Refusal, None]) -> None:
        self.task, self.ticket = task, ticket

    def result(self, pool: WorkerPool) -> Tuple[ChunkTask, ChunkResult]:
        ticket = self.ticket
        if ticket is None:
            ticket = pool.submit(self.task)
        if isinstance(ticket, Refusal):
            return self.task, ticket
        return self.task, pool.result(ticket)


def _seconds(path: str, batches: Iterator[_Positioned]) -> Iterator[_Part]:
    """One file's batches cut per segment (one second each), for merging; lines skipped after a
    batch's last record go with the file's next record. Each part counts its batch's bytes read."""
    carried: List[str] = []
    lines = 0
    epoch = 0
    position = 0
    for batch, position in batches:
        lines += batch.lines
        for segment in batch.segments:
            if carried:
                segment = segment._replace(skips=[(0, reason) for reason in carried] + segment.skips)
                carried = []
            part = Batch([segment], [], lines, batch.records, batch.columns)
            part.loader = batch.loader
            lines, epoch = 0, segment.epoch
            yield _Part(epoch, part, path, position)
        carried.extend(batch.skipped_after)
    if carried or lines or position:  # the rest, and the bytes read at the end
        yield _Part(epoch, Batch([], carried, lines, 0, None), path, position)


def _worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


COLLECT_EVERY = 256
"""Items (batches, or seconds of merged files) a replay applies between two passes of the cyclic
collector over its young generations (see :func:`_until`)."""


def _until(stop: Optional[threading.Event], items: Iterable[T]) -> Iterator[T]:
    """``items`` until ``stop`` is set, for :func:`replay` to apply with the cyclic collector
    off, here run over its two young generations once every :data:`COLLECT_EVERY` items (the
    oldest, whose pass costs as much as all that lives, such as the seconds of merged files
    waiting to be merged, when the replay has ended and the collector is on again): taking and
    applying a batch makes no reference cycle, and the passes the collector would make over a
    worker's result as it is unpickled (thousands of tuples and dicts, all alive) cost the main
    process of a log of random paths 7 % of its time (86 ms)."""
    for number, item in enumerate(items, 1):
        if stop is not None and stop.is_set():
            return
        yield item
        if number % COLLECT_EVERY == 0:
            gc.collect(1)
