"""Hostile cardinality: a log whose every line has its own path, client and user keeps memory
bounded, following live and replaying alike (structure only: speed is for bench/cardinality_bench.py).
"""

from __future__ import annotations

import gc
import os
import random
import shutil
import sys
import tempfile
import threading
import unittest
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import accumulate
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple
from unittest import mock

from monilog.accumulation.aggregate import Batch, count_records
from monilog.accumulation.counts import Counts
from monilog.accumulation.overflow import MIN_CUT_KEYS
from monilog.accumulation.report import RunSummary
from monilog.accumulation.rules import parse_rule
from monilog.accumulation.statistics import CLIENTS, SECTIONS, USERS, Statistics, StatsSnapshot, merged
from monilog.monitor import Monitor, without_cyclic_gc
from monilog.parsing.block import LINE_KEYS, decode_request, decode_who, parse_block
from monilog.parsing.columns import KeyDecoder, LineBlock, ParsedBlock, split_pairs
from monilog.parsing.jsonlog import JsonFormat
from monilog.parsing.logformat import LogFormat
from monilog.parsing.parser import LogParser
from monilog.parsing.reading import VhostKeys
from monilog.replayer import replay
from monilog.replayer.aggregation import ChunkTask, aggregate_pieces, reparse, span_reader
from monilog.replayer.chunks import Chunk, chunk_bounds
from monilog.replayer.tuning import ReplayTuning
from monilog.replayer.workers import WorkerPool
from monilog.run import follow
from monilog.watcher import LineSplitter
from tests.support import DEADLINE, Recorder, wait_for

T0 = 1_700_000_000
MAX_KEYS = 200
BATCH = 1000


def hostile_lines(count: int, rate: int = 300) -> List[bytes]:
    """``rate`` lines a second, each with a path, a client and a user of its own."""
    lines = []
    for number in range(count):
        when = datetime.fromtimestamp(T0 + number // rate, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
        lines.append(f'10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255} - u{number} [{when}] '
                     f'"GET /{number:x}{random.getrandbits(32):08x}/x?{number} HTTP/1.1" {200 + number % 5 * 100} '
                     f'{number % 977}'.encode())
    return lines


class BoundedTest(unittest.TestCase):
    def check(self, recorder: Recorder, lines: int) -> None:
        reports = recorder.reports
        self.assertGreater(len(reports), 5)
        for stats in [report.stats for report in reports] + [recorder.items[-1][1].stats]:
            for name in (SECTIONS, CLIENTS, USERS):
                mapping = getattr(stats, name)
                self.assertLessEqual(len(mapping), MAX_KEYS, name)
                tracked = sum(entry.hits for entry in mapping.values()) if name == SECTIONS else sum(mapping.values())
                self.assertEqual(tracked + stats.folded[name], stats.hits, name)  # every line has a user
            self.assertLessEqual(len(stats.status_codes), MAX_KEYS)
            self.assertFalse(stats.unique_clients_exact)
        self.assertEqual(recorder.items[-1][1].parsed, lines)
        # every line has a client of its own: the run's distinct clients are estimated, not capped
        self.assertLess(abs(recorder.items[-1][1].stats.unique_clients - lines), 0.04 * lines)
        self.assertEqual(sum(report.stats.hits for report in reports), lines)

    def test_following_live_keeps_keys_and_decode_caches_bounded(self) -> None:
        recorder = Recorder()
        monitor = Monitor(threshold=1000, window=10, period=10, max_keys=MAX_KEYS, sinks=[recorder])
        lines = hostile_lines(30 * BATCH)
        for start in range(0, len(lines), BATCH):
            monitor.feed("access.log", lines[start:start + BATCH])
            for cache in (LINE_KEYS.who_cache, LINE_KEYS.request_cache):
                self.assertLessEqual(len(cache), KeyDecoder.CACHE_LIMIT + BATCH)
            self.assertLessEqual(len(monitor._periods), 2)  # the period in progress (and the next)
        monitor.finish()
        self.check(recorder, len(lines))

    def test_a_replay_keeps_keys_bounded_and_counts_like_following(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-cardinality-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        lines = hostile_lines(30 * BATCH)
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        outputs = []
        for tuning in (ReplayTuning(chunk_bytes=256 << 10, min_chunk_bytes=64 << 10, piece_bytes=32 << 10,
                                    in_process_bytes=0, workers=2),  # worker processes
                       ReplayTuning(piece_bytes=4 << 10)):  # in this process, other batch boundaries
            recorder = Recorder()
            replay(Monitor(threshold=1000, window=10, period=10, max_keys=MAX_KEYS, sinks=[recorder]), [path],
                   tuning=tuning)
            self.check(recorder, len(lines))
            outputs.append(recorder.items)
        self.assertEqual(outputs[0], outputs[1], "the same whatever the chunks")


def repeating_lines(count: int) -> List[bytes]:
    """300 lines a second from 3,000 paths and 2,500 clients: keys seen again, in other chunks."""
    draw = random.Random(5).randrange
    lines = []
    for number in range(count):
        when = datetime.fromtimestamp(T0 + number // 300, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
        client = draw(2500)
        lines.append(f'10.1.{client // 250}.{client % 250} - u{draw(2000)} [{when}] "GET /s{draw(3000)}/x?{number} '
                     f'HTTP/1.1" {draw(2, 6) * 100} {draw(999)}'.encode())
    return lines


@contextmanager
def applied_counts() -> Iterator[List[Counts]]:
    """The counters statistics are given (:meth:`Statistics.add_counts`) while the block runs."""
    applied: List[Counts] = []
    adding = Statistics.add_counts

    def recording(stats: Statistics, counts: Counts, late: int = 0, fold_unsent: bool = False) -> None:
        applied.append(counts)
        adding(stats, counts, late, fold_unsent)

    with mock.patch.object(Statistics, "add_counts", autospec=True, side_effect=recording):
        yield applied


class UncutMonitor(Monitor):
    """A monitor whose counters are never cut (the reference of the cut): its replays' workers
    send them whole, and its blocks are counted whole."""

    @property
    def cut_keys(self) -> Optional[int]:
        return None


class CutReplayTest(unittest.TestCase):
    def test_workers_cutting_their_counters_change_no_report(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-cut-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        lines = repeating_lines(36 * BATCH)
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        # chunks of 1,000 to 3,000 lines: periods of 3,000 cut inside, their second segments cut too
        tuning = ReplayTuning(chunk_bytes=300 << 10, min_chunk_bytes=100 << 10, piece_bytes=64 << 10,
                              in_process_bytes=0, workers=2)
        outputs = []
        for kind in (Monitor, UncutMonitor):
            recorder = Recorder()
            monitor = kind(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder])
            replay(monitor, [path], tuning=tuning)
            outputs.append(recorder.items)
        self.assertEqual(Monitor(max_keys=MIN_CUT_KEYS).cut_keys, MIN_CUT_KEYS)
        reports = [item[1] for item in outputs[0] if item[0] == "report"]
        self.assertGreater(len(reports), 10)
        self.assertTrue(all(report.stats.folded[SECTIONS] for report in reports))
        self.assertEqual(outputs[0], outputs[1])

    def test_blocks_followed_live_cut_as_counted_change_no_report(self) -> None:
        lines = repeating_lines(24 * BATCH) + hostile_lines(12 * BATCH)
        outputs = []
        for kind in (Monitor, UncutMonitor):
            recorder = Recorder()
            monitor = kind(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder])
            with applied_counts() as applied:
                for start in range(0, len(lines), 2500):  # blocks of more keys than a cut keeps
                    monitor.feed("access.log", lines[start:start + 2500])
                monitor.finish()
            self.assertEqual(any(counts.overflow is not None for counts in applied), kind is Monitor)
            outputs.append(recorder.items)
        self.assertEqual(outputs[0], outputs[1])

    def test_no_cut_below_its_smallest_or_with_alert_rules(self) -> None:
        self.assertIsNone(Monitor(max_keys=MIN_CUT_KEYS - 1).cut_keys)
        self.assertIsNone(Monitor(max_keys=MIN_CUT_KEYS, rules=[parse_rule("rate by client > 5")]).cut_keys)


def stamped_lines(seconds: range, rate: int = 300, first: int = 0) -> List[bytes]:
    """``rate`` lines for each second of ``seconds`` (from T0), each with a path and a client of its
    own, numbered from ``first``."""
    lines = []
    for second in seconds:
        when = datetime.fromtimestamp(T0 + second, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
        for number in range(first, first + rate):
            lines.append(f'10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255} - - [{when}] '
                         f'"GET /p{number}/x HTTP/1.1" {200 + number % 5 * 100} {number % 977}'.encode())
        first += rate
    return lines


MB_CHUNKS = ReplayTuning(chunk_bytes=1 << 20, min_chunk_bytes=1 << 20, in_process_bytes=1 << 30)
"""Chunks of 1 MB (after the first, of 64 KB), aggregated in this process."""


def replayed_cut_and_uncut(path: str) -> List[Tuple[list, List[Counts], int]]:
    """``path`` replayed in :data:`MB_CHUNKS` by a
    monitor that cuts its counters and by one that does not: for each, its sink's items, the
    counters its statistics were given, and how many chunks it read again."""
    replays = []
    for kind in (Monitor, UncutMonitor):
        recorder = Recorder()
        monitor = kind(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder])
        with applied_counts() as applied, mock.patch("monilog.replayer.engine.reparse", side_effect=reparse) as reparsed:
            replay(monitor, [path], tuning=MB_CHUNKS)
        replays.append((recorder.items, applied, reparsed.call_count))
    return replays


class FoldedPeriodsTest(unittest.TestCase):
    """A replay's worker sends the keys beyond the cut of a period it holds whole folded, unsent;
    the main process folds them unread, or counts the period's lines again where it would read them."""

    def test_a_chunk_s_whole_periods_are_folded_and_its_first_and_repeated_ones_sent(self) -> None:
        lines = stamped_lines(range(0, 40)) + stamped_lines(range(25, 30), first=10**6) + stamped_lines(range(40, 60))
        block = b"\n".join(lines) + b"\n"
        for fold, starts_span in ((True, False), (False, False), (True, True)):
            batch = aggregate_pieces([block], "common", 10, cut_keys=MIN_CUT_KEYS, fold_whole_periods=fold,
                                     starts_span=starts_span)
            assert isinstance(batch, Batch)
            spans = [segment.span - T0 for segment in batch.segments]
            self.assertEqual(spans, [0, 10, 20, 30, 20, 40, 50])
            unsent = [segment.counts.overflow is not None and not segment.counts.overflow.sent for segment in batch.segments]
            # 0: the chunk before may hold more of it, unless the chunk was cut where the span changed;
            # 20: twice in the chunk; 50: the chunk after may hold more, applied after it
            self.assertEqual(unsent, [starts_span, fold, False, fold, False, fold, fold])
            self.assertTrue(all(segment.counts.overflow is not None for segment in batch.segments))

    def test_a_period_whose_first_keys_may_leave_room_is_sent_whole(self) -> None:
        lines = stamped_lines(range(0, 30))
        lines[3000 + 5] = lines[3000 + 5].replace(b"GET /p", b"GET /" + b"x" * 300)  # a long path early in 10 s
        batch = aggregate_pieces([b"\n".join(lines) + b"\n"], "common", 10, cut_keys=MIN_CUT_KEYS, fold_whole_periods=True)
        assert isinstance(batch, Batch)
        # statistics would cut it, and count a longer path beyond the cut under it: they read those keys
        self.assertEqual([segment.counts.overflow is not None and segment.counts.overflow.sent for segment in batch.segments],
                         [True, True, False])

    def test_a_folded_period_counted_late_is_counted_again_from_its_lines(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-folded-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        # a minute of traffic, 10 s of it logged again 40 s late (a backend's buffered lines), then more
        lines = stamped_lines(range(0, 60)) + stamped_lines(range(20, 30), first=10**6) + stamped_lines(range(60, 90))
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        # chunks of 1 MB (after the first, of 64 KB): the late lines are inside the third, from 40 s to 80 s
        outputs = []
        for kind, (items, applied, reparsed) in zip((Monitor, UncutMonitor), replayed_cut_and_uncut(path)):
            folded = [counts for counts in applied if counts.overflow is not None and not counts.overflow.sent]
            self.assertEqual(bool(folded), kind is Monitor)  # folded periods, applied unread
            self.assertEqual(reparsed, 1 if kind is Monitor else 0)  # the late one, counted again
            outputs.append(items)
        reports = [item[1] for item in outputs[0] if item[0] == "report"]
        self.assertEqual(sum(report.stats.late for report in reports), 3000)
        self.assertEqual(outputs[0], outputs[1])

        def changed(task: ChunkTask) -> ParsedBlock:  # the chunk's lines, once read again, are not the ones counted
            return reparse(task._replace(end=(task.start + task.end) // 2))

        recorder = Recorder()
        monitor = Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder])
        with mock.patch("monilog.replayer.engine.reparse", side_effect=changed):
            replay(monitor, [path], tuning=MB_CHUNKS)
        notices = [item for kind, item in recorder.items if kind == "notice"]
        self.assertEqual(len(notices), 1)
        self.assertIn("could not be read again", notices[0])  # and the totals are exact:
        whole = [item[1].stats for item in outputs[1] if item[0] == "report"]
        folded = [report.stats for report in recorder.reports]
        self.assertEqual([(stats.hits, stats.errors, stats.bytes_total, stats.late, stats.unique_clients) for stats in folded],
                         [(stats.hits, stats.errors, stats.bytes_total, stats.late, stats.unique_clients) for stats in whole])

    def test_merged_sources_are_sent_whole(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-merged-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        paths = [os.path.join(directory, name) for name in ("a.log", "b.log")]
        for number, path in enumerate(paths):
            with open(path, "wb") as stream:
                stream.write(b"\n".join(stamped_lines(range(0, 10), rate=1500, first=number * 10**6)) + b"\n")
        tuning = ReplayTuning(chunk_bytes=1 << 20, min_chunk_bytes=1 << 20, in_process_bytes=1 << 30)
        monitor = Monitor(threshold=1000, window=10, period=1, max_keys=MIN_CUT_KEYS, sinks=[Recorder()])
        with applied_counts() as applied, mock.patch("monilog.replayer.engine.reparse", side_effect=reparse) as reparsed:
            replay(monitor, paths, tuning=tuning)
        self.assertTrue(any(counts.overflow is not None for counts in applied))  # cut, per second, and sent
        self.assertFalse([counts for counts in applied if counts.overflow is not None and not counts.overflow.sent])
        self.assertEqual(reparsed.call_count, 0)


class SpanCutChunksTest(unittest.TestCase):
    """A replay cuts a file read alone where its lines' report period changes: a chunk then holds
    its periods whole, and sends none of their keys beyond the cut."""

    def write(self, lines: List[bytes]) -> str:
        directory = tempfile.mkdtemp(prefix="monilog-spans-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        return path

    def bounds(self, path: str, spans: bool, size: int = 256 << 10) -> List[Chunk]:
        chunks = list(chunk_bounds(path, os.path.getsize(path), size, size, size, 0,
                                   span_reader("common", 10) if spans else None))
        self.assertEqual([chunks[0].start, *(chunk.end for chunk in chunks)],
                         [*(chunk.start for chunk in chunks), os.path.getsize(path)])  # every byte once
        return chunks

    def test_cuts_move_to_where_the_period_changes(self) -> None:
        lines = stamped_lines(range(0, 120))  # a period of 3,000 lines, some 200 KB
        starts = dict(zip(accumulate([0] + [len(line) + 1 for line in lines]), range(len(lines))))
        spans = [(T0 + index // 300) // 10 for index in range(len(lines))]
        path = self.write(lines)
        plain, cut = self.bounds(path, spans=False), self.bounds(path, spans=True)
        self.assertFalse(any(chunk.starts_span for chunk in plain))
        self.assertTrue(all(chunk.starts_span for chunk in cut[1:]), cut)
        for chunk in cut[1:]:
            self.assertNotEqual(spans[starts[chunk.start] - 1], spans[starts[chunk.start]])
        self.assertLessEqual(abs(cut[1].start - plain[1].start), 128 << 10)  # half a chunk at most

    def test_cuts_in_a_period_longer_than_their_reach_stay_where_they_were(self) -> None:
        path = self.write(stamped_lines(range(0, 10), rate=3000))  # one period of 2 MB
        self.assertEqual(self.bounds(path, spans=True), self.bounds(path, spans=False))
        going_back = self.write(stamped_lines(range(60, 120)) + stamped_lines(range(0, 60), first=10**6))
        self.assertTrue(any(chunk.starts_span for chunk in self.bounds(going_back, spans=True)))

    def test_a_replay_sends_no_key_beyond_the_cut_of_a_period_and_reports_alike(self) -> None:
        lines = stamped_lines(range(0, 90))
        path = self.write(lines + stamped_lines(range(20, 25), first=10**6) + stamped_lines(range(90, 120), first=2 * 10**6))
        outputs = []
        for kind, (items, applied, reparsed) in zip((Monitor, UncutMonitor), replayed_cut_and_uncut(path)):
            cut = [counts for counts in applied if counts.overflow is not None]
            if kind is Monitor:
                # after the first period (cut by the first chunk, too short to find a change), each
                # period is applied in one piece (10 s of 300 lines), and so are the 5 s logged late
                self.assertEqual({counts.hits for counts in applied[2:]}, {3000, 1500})
                self.assertEqual(len(applied), 12 + 1 + 1)  # twelve periods, the first in two parts, the late lines
                # one sent: the second chunk's first period (the first chunk is too short to find a change)
                self.assertEqual(sum(counts.overflow.sent for counts in cut if counts.overflow is not None), 1)
                self.assertEqual(reparsed, 1)  # the late lines, counted again
            outputs.append(items)
        self.assertEqual(outputs[0], outputs[1])


def backlog_blocks(lines: List[bytes], size: int) -> List[LineBlock]:
    """``lines`` read as the watcher reads a backlog, ``size`` bytes at a time: each block that
    filled its read marked as having more behind it."""
    data, splitter = b"\n".join(lines) + b"\n", LineSplitter()
    return [splitter.feed_block(data[start:start + size], more=start + size < len(data))
            for start in range(0, len(data), size)]


class BacklogBlocksTest(unittest.TestCase):
    """A followed file's backlog, read in blocks with more behind them, is counted a report period
    at a time: a block's last period waits for the next block (see Monitor.feed)."""

    def followed(self, kind: type, blocks: List[LineBlock], rules: Sequence[str] = ()) -> Tuple[list, List[Counts]]:
        recorder = Recorder()
        monitor = kind(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder],
                       rules=[parse_rule(rule) for rule in rules])
        with applied_counts() as applied:
            for block in blocks:
                monitor.feed("access.log", block, wall_now=T0)
            monitor.finish()
        return recorder.items, applied

    def test_each_period_of_a_backlog_is_counted_in_one_piece_and_reports_alike(self) -> None:
        lines = stamped_lines(range(0, 90))  # periods of 3,000 lines, about 210 KB
        items, applied = self.followed(Monitor, backlog_blocks(lines, 256 << 10))
        self.assertEqual([counts.hits for counts in applied], [3000] * 9)
        self.assertEqual(items, self.followed(UncutMonitor, [LineBlock(b"\n".join(lines) + b"\n", len(lines))])[0])
        # blocks of less than a period, and a log with lines logged late: other pieces, the same reports
        late = lines[:45000] + stamped_lines(range(20, 25), first=10**6) + lines[45000:]
        reference = self.followed(UncutMonitor, backlog_blocks(late, 1 << 30))[0]
        for size in (100 << 10, 256 << 10, 700 << 10):
            self.assertEqual(self.followed(Monitor, backlog_blocks(late, size))[0], reference, size)

    def test_a_file_followed_from_its_start_is_counted_a_period_at_a_time(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-backlog-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        lines = stamped_lines(range(0, 60))
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        recorder = Recorder()
        monitor = Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[recorder])
        stop = threading.Event()
        self.addCleanup(stop.set)
        summaries: List[RunSummary] = []
        with applied_counts() as applied, mock.patch("monilog.watcher.follower.READ_BLOCK", 256 << 10):
            thread = threading.Thread(target=lambda: summaries.append(
                follow(monitor, [path], from_start=True, stop=stop, poll_interval=0.02)), daemon=True)
            thread.start()
            wait_for(lambda: monitor.parsed == len(lines), "every line counted")
            stop.set()
            thread.join(DEADLINE)
        self.assertEqual((summaries[0].lines, summaries[0].parsed), (len(lines), len(lines)))
        self.assertEqual([counts.hits for counts in applied], [3000] * 6)  # reads of 256 KiB, periods of 210 KB
        replayed = Recorder()
        replay(Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[replayed]), [path])
        self.assertEqual([report.stats for report in recorder.reports], [report.stats for report in replayed.reports])

    def test_waiting_lines_are_counted_by_a_tick_after_they_arrived_or_at_the_end(self) -> None:
        lines = stamped_lines(range(0, 25))
        block = LineBlock(b"\n".join(lines) + b"\n", len(lines), more=True)
        monitor = Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[Recorder()])
        monitor.feed("access.log", block, wall_now=T0 + 100)
        self.assertEqual(monitor.parsed, 6000)  # 20 s, and the last period's 5 s wait for the next block
        monitor.tick(T0 + 99)  # the watcher caught up before they arrived: more is coming
        self.assertEqual(monitor.parsed, 6000)
        monitor.tick(T0 + 100)
        self.assertEqual(monitor.parsed, len(lines))
        records = Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[Recorder()])
        records.feed("access.log", block, wall_now=T0 + 100)
        records.add_records([])  # records added by a program come after the lines fed before them
        self.assertEqual(records.parsed, len(lines))
        ended = Monitor(threshold=1000, window=10, period=10, max_keys=MIN_CUT_KEYS, sinks=[Recorder()])
        ended.feed("access.log", block, wall_now=T0 + 100)
        summary = ended.finish()
        self.assertEqual((summary.lines, summary.parsed, summary.stats.hits), (len(lines),) * 3)

    def fed(self, blocks: Sequence[Tuple[str, List[bytes], float]], more: bool, fmt: str = "auto",
            backlog: bool = False) -> Tuple[list, RunSummary]:
        """What a monitor reports fed ``(source, lines, host time)`` blocks, each marked ``more``
        or not (the last block of each source never), and ``backlog`` or not."""
        recorder = Recorder()
        monitor = Monitor(threshold=1000, window=10, period=10, sinks=[recorder], fmt=fmt)
        last = {source: index for index, (source, _, _) in enumerate(blocks)}
        for index, (source, lines, host) in enumerate(blocks):
            monitor.feed(source, LineBlock(b"\n".join(lines) + b"\n", len(lines), more and index != last[source],
                                           backlog), wall_now=host)
        summary = monitor.finish()
        return recorder.items, summary

    def test_the_waiting_records_of_a_source_count_before_another_source_s_block(self) -> None:
        blocks = [("a.log", stamped_lines(range(0, 25), rate=10), T0 + 100),
                  ("b.log", stamped_lines(range(25, 60), rate=10, first=10**6), T0 + 100.1),
                  ("a.log", stamped_lines(range(60, 70), rate=10, first=2 * 10**6), T0 + 100.2)]
        items, summary = self.fed(blocks, more=True)
        self.assertEqual(summary.late_hits, 0)
        self.assertEqual((items, summary), self.fed(blocks, more=False))

    def test_a_backlog_counts_in_log_time_however_far_its_blocks_run_ahead_of_the_host(self) -> None:
        host = T0 + 10**6  # a backlog read from its start: the host is far ahead of the log
        blocks = [("a.log", stamped_lines(range(0, 100), rate=10), host),
                  ("a.log", stamped_lines(range(100, 165), rate=10, first=10**5), host + 0.5)]
        items, summary = self.fed(blocks, more=True, backlog=True)
        self.assertEqual((summary.late_hits, summary.outlier_hits), (0, 0))
        self.assertEqual((items, summary), self.fed(blocks, more=False, backlog=True))
        # the same lines read as they were written: a second block a minute ahead of the first's
        # last line, half a second later, is beyond the log's time (its last 5 s are refused)
        self.assertEqual(self.fed(blocks, more=False)[1].outlier_hits, 50)

    def test_waiting_records_whose_fields_change_after_them_count_alone(self) -> None:
        def w3c(seconds: range, taken: bool, first: int) -> List[bytes]:
            lines = [b"#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes" + (b" time-taken" if taken else b"")]
            for second in seconds:
                when = datetime.fromtimestamp(T0 + second, timezone.utc).strftime("%Y-%m-%d %H:%M:%S").encode()
                lines += [when + b" 10.0.0.%d GET /p%d/x 200 100" % (number % 250, number) + (b" 15" if taken else b"")
                          for number in range(first + second * 20, first + second * 20 + 20)]
            return lines

        blocks = [("x.log", w3c(range(0, 25), True, 0), T0 + 100), ("x.log", w3c(range(25, 50), False, 0), T0 + 100.1)]
        items, summary = self.fed(blocks, more=True, fmt="w3c")
        self.assertEqual((summary.parsed, summary.stats.skipped_total), (1000, 0))
        self.assertEqual((items, summary), self.fed(blocks, more=False, fmt="w3c"))

    def test_nothing_waits_when_the_counters_are_not_cut(self) -> None:
        lines = stamped_lines(range(0, 25))
        for monitor in (Monitor(max_keys=MIN_CUT_KEYS, rules=[parse_rule("rate by client > 5")]),
                        Monitor(max_keys=MIN_CUT_KEYS - 1)):
            monitor.feed("access.log", LineBlock(b"\n".join(lines) + b"\n", len(lines), more=True))
            self.assertEqual(monitor.parsed, len(lines))


class CyclicCollectorTest(unittest.TestCase):
    """The engine applies its counters with the cyclic collector off (they make no cycles), and
    leaves it as it found it."""

    def collector_while(self, owner: type, name: str, run: Callable[[], object]) -> List[bool]:
        """Whether the collector was on at each call of ``owner.name`` while ``run`` ran."""
        states: List[bool] = []
        original = getattr(owner, name)

        def recording(*args: object, **kwargs: object) -> object:
            states.append(gc.isenabled())
            return original(*args, **kwargs)

        with mock.patch.object(owner, name, autospec=True, side_effect=recording):
            run()
        return states

    def test_threads_counting_at_once_leave_it_on(self) -> None:
        def counting() -> None:
            for _ in range(2000):
                with without_cyclic_gc():
                    pass

        interval = sys.getswitchinterval()
        self.addCleanup(sys.setswitchinterval, interval)
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        self.addCleanup(gc.enable)
        for _ in range(20):
            gc.enable()
            threads = [threading.Thread(target=counting) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(DEADLINE)
            self.assertTrue(gc.isenabled())

    def test_off_while_counting_and_as_it_was_after(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-gc-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        lines = stamped_lines(range(0, 30), rate=30)
        with open(path, "wb") as stream:
            stream.write(b"\n".join(lines) + b"\n")
        self.addCleanup(gc.enable)
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            states = self.collector_while(Statistics, "add_counts", lambda: Monitor(period=10, sinks=[Recorder()]).feed(
                "access.log", backlog_blocks(lines, 1 << 20)[0]))
            # a worker's result is received (unpickled) with it off too
            states += self.collector_while(WorkerPool, "result", lambda: replay(
                Monitor(period=10, sinks=[Recorder()]), [path], tuning=ReplayTuning(
                    chunk_bytes=16 << 10, min_chunk_bytes=16 << 10, in_process_bytes=0, workers=2)))
            self.assertGreater(len(states), 3)
            self.assertEqual(set(states), {False})
            self.assertEqual(gc.isenabled(), enabled)


class DecodeCacheTest(unittest.TestCase):
    def setUp(self) -> None:
        for cache in (LINE_KEYS.who_cache, LINE_KEYS.request_cache):
            cache.clear()
            self.addCleanup(cache.clear)

    def test_random_keys_pass_it_by_and_repeating_keys_are_learnt_after_them(self) -> None:
        # the decoding way: pure Python, compiled formats, and columns the C accelerator's count leaves to it
        patcher = mock.patch("monilog.accumulation.aggregate._count_plain", return_value=None)
        patcher.start()
        self.addCleanup(patcher.stop)
        parser = LogParser("common")
        hostile = hostile_lines(12 * BATCH)
        for start in range(0, len(hostile), 4 * BATCH):  # blocks of 4,000 new keys: over half the cache's room
            count_records(parse_block(b"\n".join(hostile[start:start + 4 * BATCH]) + b"\n", parser), 0, 4 * BATCH)
            if start:  # after the first block, a sample tells the keys do not come again: none is learnt
                self.assertLessEqual(max(map(len, (LINE_KEYS.who_cache, LINE_KEYS.request_cache))), 64)
        ordinary = [line.replace(b"/x?", b"/y?") for line in hostile_lines(300)] * 10  # 300 keys, each ten times
        block = parse_block(b"\n".join(ordinary) + b"\n", parser)
        for _ in range(2):
            count_records(block, 0, len(ordinary))
        self.assertEqual(len(set(block.requests)), 300)
        self.assertLessEqual(set(block.requests), LINE_KEYS.request_cache.keys())
        self.assertLessEqual(set(block.who), LINE_KEYS.who_cache.keys())


class BlockDecodingTest(unittest.TestCase):
    def test_keys_decoded_a_block_at_a_time_as_one_by_one(self) -> None:
        whos = [b"10.0.0.1 - -", b"- - bob", b"-x y -z", b"h i -", b"::1 - u-1"]
        requests = [b"GET /a/b", b"POST /x?y=1", b"GET /", b"OPTIONS *", b"GET http://h/p/q", b"X -"]
        self.assertEqual(LINE_KEYS.decode_whos(whos), split_pairs(list(map(decode_who, whos))))
        for whos in ([b"10.0.0.1 - -", b"h i -"], [b"- - -", b"- x -"], [b"a - u", b"b - v"]):  # no dash, or all
            self.assertEqual(LINE_KEYS.decode_whos(whos), split_pairs(list(map(decode_who, whos))))
        self.assertEqual(LINE_KEYS.decode_requests(requests), split_pairs(list(map(decode_request, requests))))
        mixed = [b"GET /a/b", ("GET", "/c", "/c/d")]  # a record's key among the block's
        self.assertEqual(LINE_KEYS.decode_requests(mixed), (["GET", "GET"], ["/a", "/c"]))

    def test_every_format_decodes_a_block_of_requests_as_one_by_one(self) -> None:
        """Formats with no block decoder of their own cut their targets' sections together
        (``KeyDecoder.decode_requests``), and so do sections per virtual host."""
        logformat = LogFormat("custom", '%h %l %u %t "%r" %>s %b')
        json_format = JsonFormat("json", {})
        cases = [
            (logformat, [b"GET /a/b?x HTTP/1.1", b"POST http://h/p/q HTTP/1.0", b"-", b"GET", (b"PUT", b"/c/d"), (b"-", b"*")]),
            (json_format, ["GET /a/b HTTP/1.1", "OPTIONS * HTTP/1.1", ("DELETE", "/x/y#z"), ("", "")]),
            (VhostKeys(LINE_KEYS), [(b"shop", b"GET /a/b"), (b"-", b"GET /c"), (b"", b"HEAD /")]),
            (VhostKeys(logformat), [(b"blog", b"GET /a/b HTTP/1.1"), (b"", (b"GET", b"/e"))]),
        ]
        for decoder, keys in cases:
            with self.subTest(decoder=type(decoder).__name__):
                self.assertEqual(decoder.decode_requests(keys), split_pairs(list(map(decoder.request, keys))))


class MergeSelectionTest(unittest.TestCase):
    def test_a_capped_merge_keeps_the_heaviest_keys_of_all_spans_ties_by_smallest(self) -> None:
        draw = random.Random(7)
        for parts in (2, 2, 3, 5) * 15:
            snapshots: List[StatsSnapshot] = []
            for _ in range(parts):
                stats = Statistics(max_keys=20)
                for _ in range(draw.randrange(1, 60)):
                    client, section = f"c{draw.randrange(40)}", f"/s{draw.randrange(40)}"
                    hits, status = draw.randrange(1, 4), draw.choice((200, 500))
                    stats.add_counts(Counts({(section, status): hits}, {section: 7 * hits}, {"GET": hits}, {client: hits}, {}))
                snapshots.append(stats.snapshot())
            together = merged(snapshots)
            if parts == 2:
                self.assertEqual(together, snapshots[0].merge(snapshots[1]))
            union: Dict[str, int] = {}
            sections: Dict[str, List[int]] = {}
            for snapshot in snapshots:
                for client, hits in snapshot.clients.items():
                    union[client] = union.get(client, 0) + hits
                for section, stats in snapshot.sections.items():
                    entry = sections.setdefault(section, [0, 0, 0])
                    for column, value in enumerate(stats):
                        entry[column] += value
            self.assertEqual(together.hits, sum(snapshot.hits for snapshot in snapshots))
            expected = dict(sorted(union.items(), key=lambda item: (-item[1], item[0]))[:20])
            self.assertEqual(dict(together.clients), expected)
            self.assertEqual(sum(together.clients.values()) + together.folded[CLIENTS], together.hits)
            self.assertEqual([c for c, _, _ in together.top_clients(3)], list(expected)[:3])
            kept = sorted(sections.items(), key=lambda item: (-item[1][0], item[0]))[:20]
            self.assertEqual({name: list(stats) for name, stats in together.sections.items()}, dict(kept))
            folded = [sum(column) for column in zip(*sections.values(), *(s.folded_sections for s in snapshots))]
            for _, entry in kept:
                folded = [total - value for total, value in zip(folded, entry)]
            self.assertEqual(list(together.folded_sections), folded)
            self.assertEqual(together.folded[SECTIONS], folded[0])

    def test_merged_needs_a_snapshot(self) -> None:
        with self.assertRaises(ValueError):
            merged([])

    def test_the_run_totals_do_not_depend_on_how_often_a_view_asks_for_them(self) -> None:
        draw = random.Random(5)
        lines = []
        for number, line in enumerate(hostile_lines(30 * BATCH, rate=100)):
            # clients whose hits shift from period to period: capping once or at each period differs
            client = (int(draw.expovariate(1 / 60)) + number // 1000 * 37) % 600
            lines.append(b"10.9.%d.%d" % divmod(client, 256) + line[line.index(b" "):])
        summaries = []
        for viewed in (False, True):
            recorder = Recorder()
            monitor = Monitor(threshold=1000, window=10, period=10, max_keys=MAX_KEYS, sinks=[recorder])
            for start in range(0, len(lines), BATCH):
                monitor.feed("access.log", lines[start:start + BATCH])
                if viewed:
                    monitor.view()  # a dashboard asks every second for the totals so far
            summaries.append(monitor.finish().stats)
            self.assertGreater(len(recorder.reports), 2 * 8)  # more than two groups of merged periods
        self.assertEqual(summaries[0], summaries[1])
        self.assertEqual(summaries[0].hits, len(lines))


if __name__ == "__main__":
    unittest.main()
