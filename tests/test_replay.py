"""A replay gives exactly what the same lines give one at a time.

Each test replays the same files twice: through a reference in this file (each line fed to the
monitor on its own, so every batch holds one line; several files merged record by record, each
skipped line counted just before the next record of its file), and through the replay engine
(chunks aggregated in this process, or in worker processes), and compares everything the
monitor handed to its sinks: every report's statistics, every alert and recovery, every notice,
the summary, and the JSON lines the ``--json`` output makes of them. Chunks are made tiny so that
a few thousand lines cross many chunk and piece boundaries.
"""

from __future__ import annotations

import heapq
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple
from unittest import mock

from monilog.accumulation import aggregate as aggregate_module
from monilog.accumulation.aggregate import Batch, aggregate
from monilog.accumulation.counts import Counts
from monilog.accumulation.overflow import MIN_CUT_KEYS
from monilog.accumulation.statistics import Statistics, StatsSnapshot
from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from monilog.parsing.block import parse_block
from monilog.parsing.filters import Filters
from monilog.parsing.parser import LogParser
from monilog.parsing.reading import Reading
from monilog.parsing.record import ParseError
from monilog.replayer import ReplayTuning, aggregation, replay, workers
from monilog.replayer.chunks import chunk_bounds, range_lines
from tests.support import DEADLINE, Recorder

START = datetime(2024, 5, 1, 12, 0, 3, tzinfo=timezone(timedelta(hours=2))).timestamp()
SMALL_CHUNKS = dict(first_chunk_bytes=3000, chunk_bytes=20_000, merged_chunk_bytes=20_000, min_chunk_bytes=20_000,
                    piece_bytes=6000, counted_lines=40, in_process_bytes=0, lines_per_batch=50)


TUNING = ReplayTuning(**SMALL_CHUNKS)  # type: ignore[arg-type]


def chunk_starts(path: str, span: Optional[int] = None) -> List[int]:
    """Where the replay cuts ``path`` into chunks, with the tests' small chunks: alone and cut by
    spans of ``span`` seconds (a file replayed alone), or merged with others (None)."""
    span_of = None if span is None else aggregation.span_reader("auto", span)
    return [chunk.start for chunk in chunk_bounds(path, os.path.getsize(path), TUNING.first_chunk_bytes,
                                                  TUNING.min_chunk_bytes, TUNING.chunk_bytes, 0, span_of)]


def reference_replay(monitor: Monitor, paths: Sequence[str]) -> None:
    """The obviously correct replay: one file's lines a few at a time (1 to 4, in turn); several
    files' records merged by time (ties: the earlier file first), each skipped line counted just
    before the next record of its file, or after its last one."""
    if len(paths) == 1:
        lines = list(range_lines(paths[0]))
        start, size = 0, 1
        while start < len(lines):
            monitor.feed(paths[0], lines[start:start + size])
            start, size = start + size, size % 4 + 1
        return

    def records(path: str) -> Iterator[Tuple[int, List[str], Any]]:
        parser, skipped = LogParser(monitor.fmt), []
        for line in range_lines(path):
            monitor.lines += 1
            try:
                record = parser.parse(line)
            except ParseError as error:
                skipped.append(error.reason)
                continue
            if record is not None:
                yield record.epoch, skipped, record
                skipped = []
        yield 2 ** 62, skipped, None

    trailing = []
    for _, skipped, record in heapq.merge(*map(records, paths), key=lambda item: item[0]):
        if record is None:
            trailing.extend(skipped)
            continue
        for reason in skipped:
            monitor.count_skipped(reason)
        monitor.add_records([record])
    for reason in trailing:
        monitor.count_skipped(reason)


def generated(fmt: str = "combined", rates: Sequence[float] = (5, 40, 3), durations: Sequence[float] = (80, 80, 120),
              seed: int = 1, start: float = START, **options: Any) -> List[str]:
    generator = LogGenerator(rates, durations, fmt=fmt, seed=seed, start=start, **options)
    return [line for _, line in generator.timeline()]


def in_zone(line: str, hours: float, earlier: float = 0) -> str:
    """``line`` with its timestamp written in the UTC offset ``hours``, ``earlier`` seconds before."""
    head, rest = line.split(" [", 1)
    stamp, tail = rest.split("] ", 1)
    moment = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z") - timedelta(seconds=earlier)
    moment = moment.astimezone(timezone(timedelta(hours=hours)))
    return f"{head} [{moment.strftime('%d/%b/%Y:%H:%M:%S %z')}] {tail}"


class ReplayEquivalenceTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-replay-")
        self.addCleanup(shutil.rmtree, self.directory)

    def write(self, name: str, lines: Sequence[str], ending: str = "\n", final_newline: bool = True) -> str:
        path = os.path.join(self.directory, name)
        text = ending.join(lines) + (ending if final_newline and lines else "")
        with open(path, "wb") as stream:
            stream.write(text.encode("utf-8", "surrogateescape"))
        return path

    def replay(self, paths: Sequence[str], reference: bool, workers: int = 1, tuning: Optional[Dict[str, int]] = None,
               **settings: Any) -> Tuple[List[Tuple[str, Any]], str]:
        """Replay ``paths``; return what the sinks got and the JSON output."""
        recorder, output = Recorder(), io.StringIO()
        options: Dict[str, Any] = dict(threshold=10.0, window=60, period=10)
        options.update(settings)
        threshold, window, period = options.pop("threshold"), options.pop("window"), options.pop("period")
        earlier = options.pop("earlier", ())
        monitor = Monitor(threshold, window, period, sinks=[recorder, JsonSink(output, top=10_000)],
                          files=paths, **options)
        monitor.feed("earlier.log", earlier)
        if reference:
            reference_replay(monitor, paths)
            monitor.finish()
        else:
            replay(monitor, paths, tuning=ReplayTuning(**dict(SMALL_CHUNKS, workers=workers, **(tuning or {}))))
        return recorder.items, output.getvalue()

    def assert_same(self, paths: Sequence[str], workers: Sequence[int] = (1,), tuning: Optional[Dict[str, int]] = None,
                    **settings: Any) -> List[Tuple[str, Any]]:
        expected, expected_json = self.replay(paths, reference=True, **settings)
        self.assertTrue(expected_json)
        for count in workers:
            with self.subTest(workers=count):
                items, json_text = self.replay(paths, reference=False, workers=count, tuning=tuning, **settings)
                self.assertEqual(json_text.splitlines(), expected_json.splitlines())
                self.assertEqual(items, expected)
        return expected

    # -- scenarios --------------------------------------------------------------------------

    def test_alerts_and_recoveries_in_process_and_in_workers(self) -> None:
        path = self.write("access.log", generated())
        items = self.assert_same([path], workers=(1, 2))
        kinds = [item.kind for kind, item in items if kind == "event"]
        self.assertEqual(kinds, ["alert", "recover"])

    def test_compiled_and_json_formats_with_latency_and_vhosts_in_process_and_in_workers(self) -> None:
        rng = random.Random(5)
        lines, durations = [], []
        for line in generated():
            duration = rng.choice([0, rng.randint(1, 40), rng.randint(1, 5000)]) / 1000
            durations.append(duration)
            upstream = rng.choice(["-", f"{duration:.3f}", f"0.001, {duration:.3f}"])
            lines.append(f"h{rng.randint(1, 3)}.example {line} {duration:.3f} {upstream}")
        lines[100:100] = ["garbage", ""]
        path = self.write("nginx.log", lines)
        items = self.assert_same([path], workers=(1, 2), fmt="nginx_vhost")
        summary = items[-1][1].stats
        self.assertEqual(summary.latency.count, len(durations))
        self.assertEqual(summary.latency.max, max(durations))
        ordered = sorted(durations)
        for q in (0.5, 0.9, 0.95, 0.99):
            exact = ordered[int(q * (len(ordered) - 1))]
            self.assertLessEqual(abs(summary.latency.quantile(q) - exact), 0.01 * exact + 1e-12, q)
        self.assertEqual(sorted(summary.vhosts), ["h1.example", "h2.example", "h3.example"])
        self.assertEqual(sum(vhost.hits for vhost in summary.vhosts.values()), len(durations))

        objects = [json.dumps({"time_local": line.split("[", 1)[1].split("]", 1)[0], "remote_addr": line.split(" ")[1],
                               "request": line.split('"')[1], "status": line.split('"')[2].split()[0],
                               "request_time": f"{duration:.3f}", "host": line.split(" ")[0]})
                   for line, duration in zip((line for line in lines if line.startswith("h")), durations)]
        path = self.write("nginx.json", objects[:50] + ['{"status": 200}', "[1]", '{"time_local": "x"'] + objects[50:])
        self.assert_same([path], workers=(1, 2), fmt="json")
        self.assert_same([path], workers=(1,), fmt="auto")

    def test_filtered_lines_are_left_out_and_counted_alike_in_workers(self) -> None:
        lines = generated()
        lines[50:50] = ["garbage"]
        path = self.write("access.log", lines)
        first = datetime.strptime(lines[0].split("[", 1)[1].split("]", 1)[0], "%d/%b/%Y:%H:%M:%S %z").timestamp()
        filters = Filters(since=first + 30, until=first + 250, exclude_path="^/(blog|shop)/", ignore_status=("3xx", "404"),
                          exclude_clients=(lines[100].split(" ")[0],))
        items = self.assert_same([path], workers=(1, 2), reading=Reading(filters))
        summary = items[-1][1]
        self.assertEqual(set(summary.stats.filtered), {"time", "path", "status", "client"})
        self.assertEqual(summary.lines, summary.parsed + summary.stats.skipped_total + sum(summary.stats.filtered.values()))
        self.assertEqual(summary.filters, tuple(filters.describe()))

    def test_alb_summed_times_and_url_vhosts_in_process_and_in_workers(self) -> None:
        rng = random.Random(7)
        lines, totals = [], []
        for line in generated():
            record = LogParser("combined").parse(line)
            assert record is not None
            parts = [rng.randint(0, 2000) / 1000 for _ in range(3)] if rng.random() > 0.1 else [-1, -1, -1]
            if parts[0] >= 0:
                totals.append(sum(parts))
            stamp = datetime.fromtimestamp(record.epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            lines.append(f'https {stamp} app/lb/1 {record.host}:4{rng.randint(100, 999)} - {" ".join(map(str, parts))} {record.status} - '
                         f'10 {record.size} "{record.method} https://h{rng.randint(1, 3)}.example:443{record.target} HTTP/1.1" '
                         f'"Mozilla/5.0 (X11) \\"q\\"" - - arn "Root=1" "-" "-" 0')
        lines[100:100] = ["garbage", ""]
        items = self.assert_same([self.write("alb.log", lines)], workers=(1, 2), fmt="alb")
        summary = items[-1][1].stats
        self.assertEqual(summary.latency.count, len(totals))
        self.assertAlmostEqual(summary.latency.max, max(totals))
        self.assertEqual(sorted(summary.vhosts), ["h1.example", "h2.example", "h3.example"])

    def test_common_format_read_as_common_and_auto(self) -> None:
        path = self.write("common.log", generated("common", rates=(20,), durations=(120,)))
        for fmt in ("common", "auto"):
            with self.subTest(fmt=fmt):
                self.assert_same([path], fmt=fmt, threshold=15, window=30)

    def test_combined_format_read_as_combined(self) -> None:
        path = self.write("combined.log", generated(rates=(20,), durations=(120,)))
        self.assert_same([path], fmt="combined", threshold=15, window=30)

    def test_late_lines_inside_and_outside_the_window(self) -> None:
        lines = generated(rates=(30,), durations=(160,))
        rng = random.Random(4)
        for index in range(len(lines) - 1, 1000, -700):
            lines.insert(index, lines[index - rng.choice([5, 60, 400, 3000])])
        path = self.write("late.log", lines)
        self.assert_same([path], threshold=25, window=30)

    def test_lines_stamped_with_the_request_start_take_the_fast_path(self) -> None:
        # Apache's %t is when the request arrived, the line is written when it ends: slightly out of order
        rng = random.Random(7)
        lines = [in_zone(line, 2, earlier=rng.choice([0, 0, 0, 0.5, 1, 2, 3, 12]))
                 for line in generated(rates=(40,), durations=(160,))]
        path = self.write("apache.log", lines)
        self.assert_same([path], workers=(1, 2), threshold=35, window=30)
        self.assert_same([path], threshold=35, window=5, period=1)

    def test_outlier_timestamps(self) -> None:
        lines = generated(rates=(20,), durations=(120,))
        outlier = lines[100].replace("/2024:", "/2099:")
        ancient = lines[100].replace("/2024:", "/1970:")
        for index in (1600, 1000, 1007, 360):
            lines.insert(index, outlier)
        lines.insert(1200, ancient)
        for variant, name in ((lines, "middle.log"), ([outlier] + lines, "first.log"), (lines + [outlier], "last.log")):
            with self.subTest(name=name):
                self.assert_same([self.write(name, variant)], threshold=15, window=30)

    def test_malformed_blank_and_overlong_lines(self) -> None:
        lines = generated(rates=(20,), durations=(120,))
        rng = random.Random(5)
        bad = ["garbage", "", "   ", lines[7][:40], lines[7].replace("/2024:", "/Foo/2024:"),
               lines[7].replace("May/2024", "31/Feb/2024").replace("[01/", "["), lines[7].replace('" 200 ', '" 2000 '),
               "x" * 70_000, lines[7] + '"' * 50, "\x1b[2J" + lines[7], "caf\u00e9 \udcff"]
        for index in sorted(rng.sample(range(len(lines)), 60), reverse=True):
            lines.insert(index, rng.choice(bad))
        lines = ["garbage first"] + lines + ["garbage last", ""]
        path = self.write("malformed.log", lines)
        self.assert_same([path], workers=(1, 2), threshold=15, window=30)
        self.assert_same([self.write("crlf.log", lines, ending="\r\n", final_newline=False)], threshold=15, window=30)

    def test_a_line_longer_than_a_chunk(self) -> None:
        lines = generated(rates=(20,), durations=(40,))
        lines.insert(700, "y" * 3_000_000)
        self.assert_same([self.write("huge.log", lines)], tuning=dict(max_chunk_bytes=1_000_000), threshold=15, window=30)

    def test_several_files_merged(self) -> None:
        web1 = self.write("web1.log", generated(rates=(10, 30), durations=(80, 80), seed=2))
        web2 = self.write("web2.log", generated(rates=(5,), durations=(200,), seed=3, start=START + 50))
        old = self.write("old.log", generated(rates=(8,), durations=(120,), seed=4, start=START - 1000))
        self.assert_same([web1, web2, old], workers=(1, 2), threshold=20, window=60)
        self.assert_same([old, web1], threshold=20, window=60)

    def test_many_merged_files_keep_few_results_waiting(self) -> None:
        paths = [self.write(f"web{index}.log", generated(rates=(4,), durations=(120,), seed=20 + index,
                                                          start=START + 7 * index))
                 for index in range(8)]
        waiting: List[int] = []
        submit = workers.WorkerPool.submit

        def counting(workers: Any, task: Any) -> int:
            waiting.append(workers.outstanding)
            return submit(workers, task)

        with mock.patch.object(workers.WorkerPool, "submit", counting):
            self.assert_same(paths, workers=(2,), threshold=20, window=30)
        self.assertGreater(len(waiting), 3 * len(paths))
        self.assertLessEqual(max(waiting), TUNING.chunks_in_flight * 2 + len(paths))

    def test_merged_files_chunks_are_handed_out_before_they_are_waited_for(self) -> None:
        # the slots of the chunks in flight go to the file with the fewest out, so the chunks of
        # the file read first do not keep them and the others' are not handed out only when waited for
        paths = [self.write(f"web{index}.log", generated(rates=(6,), durations=(200,), seed=30 + index,
                                                          start=START + 3 * index))
                 for index in range(3)]
        events: List[Tuple[str, int]] = []
        submit, result = workers.WorkerPool.submit, workers.WorkerPool.result

        def submitting(pool: Any, task: Any) -> int:
            ticket = submit(pool, task)
            events.append(("submit", ticket))
            return ticket

        def waiting(pool: Any, ticket: int) -> Any:
            events.append(("result", ticket))
            return result(pool, ticket)

        with mock.patch.object(workers.WorkerPool, "submit", submitting), \
                mock.patch.object(workers.WorkerPool, "result", waiting):
            self.assert_same(paths, workers=(2,), threshold=20, window=30)
        late = [ticket for (kind, ticket), after in zip(events, events[1:]) if kind == "submit" and after == ("result", ticket)]
        self.assertGreater(len(events), 20 * len(paths))
        # a few at the start, while the merge takes each file's first chunk in turn (before: 29 of 43)
        self.assertLessEqual(len(late), 2 * len(paths), "chunks handed out only when waited for")

    def test_several_files_with_late_lines_and_garbage(self) -> None:
        lines = generated(rates=(15,), durations=(120,), seed=8)
        lines.insert(1500, lines[100])
        lines.insert(1000, "garbage")
        first = self.write("a.log", lines)
        second = self.write("b.log", generated(rates=(15,), durations=(120,), seed=9, start=START + 20) + ["junk"])
        self.assert_same([first, second], threshold=20, window=30)
        rng = random.Random(3)
        jittered = self.write("c.log", [in_zone(line, 0, earlier=rng.choice([0, 0, 1, 3, 11]))
                                        for line in generated(rates=(25,), durations=(120,), seed=10)])
        self.assert_same([jittered, second], threshold=20, window=30)
        self.assert_same([second, jittered], threshold=20, window=30, period=1)

    def line_starts(self, lines: Sequence[str]) -> Dict[int, int]:
        """Byte offset of each line start → line index."""
        starts, offset = {}, 0
        for index, line in enumerate(lines):
            starts[offset] = index
            offset += len(line.encode()) + 1
        return starts

    def test_merged_file_going_back_in_time_at_a_chunk_boundary(self) -> None:
        lines = generated(rates=(20,), durations=(120,), seed=11)
        path = self.write("back.log", lines)
        starts = self.line_starts(lines)
        change = starts[chunk_starts(path)[4]]
        back = lines[:change] + [in_zone(line, 0, earlier=4) for line in lines[change:]]  # same lengths
        other = self.write("other.log", generated(rates=(10,), durations=(120,), seed=12))
        self.assert_same([self.write("back.log", back), other], threshold=20, window=30)

    def test_merged_file_going_back_in_time_at_a_piece_boundary(self) -> None:
        lines = generated(rates=(20,), durations=(40,), seed=13)
        change = len(lines) // 2  # the files cross many pieces and chunks, so one is cut at the step
        stepped = lines[:change] + [in_zone(line, 0, earlier=4) for line in lines[change:]]
        other = self.write("other.log", generated(rates=(10,), durations=(40,), seed=12))
        self.assert_same([self.write("stepped.log", stepped), other], threshold=20, window=30)

    def test_statistics_capped_at_max_keys_keep_the_same_keys(self) -> None:
        single = self.write("many.log", generated(rates=(30,), durations=(120,), clients=400, sections=40, paths=3))
        other = self.write("more.log", generated(rates=(20,), durations=(120,), clients=400, seed=6, start=START + 7))
        items = self.assert_same([single], max_keys=12, threshold=20, window=30)
        folded = [item.stats.folded for kind, item in items if kind == "report"]
        self.assertTrue(any(counts.get("clients") for counts in folded))
        self.assert_same([single, other], max_keys=12, threshold=20, window=30)

    def test_w3c_files_and_directives_take_the_reference_path(self) -> None:
        w3c = LogGenerator([10], [200], fmt="w3c", seed=1, start=START)
        path = self.write("iis.log", [w3c.header(START).rstrip("\n")] + [line for _, line in w3c.timeline()])
        self.assert_same([path])
        self.assert_same([path], fmt="w3c")
        lines = generated(rates=(20,), durations=(120,))
        lines.insert(3000, "# a comment in the middle")
        self.assert_same([self.write("commented.log", lines)], threshold=15)
        switching = generated(rates=(20,), durations=(120,))
        switching.insert(3000, "#Fields: date time cs-method cs-uri-stem sc-status")
        self.assert_same([self.write("switching.log", switching)], threshold=15)

    def test_a_directive_after_records_is_a_comment_whichever_path_read_them(self) -> None:
        lines = ["garbage"] * 500 + generated(rates=(20,), durations=(120,), seed=14)
        path = self.write("late-start.log", lines)
        change = self.line_starts(lines)[chunk_starts(path)[3]]
        late_start = lines[:change] + ["#Fields: date time cs-method cs-uri-stem sc-status"] + lines[change:]
        path = self.write("late-start.log", late_start)
        other = self.write("other.log", generated(rates=(10,), durations=(120,), seed=15))
        self.assert_same([path, other], threshold=20, window=30)
        # a monitor that already has a clock could take the file's first records in bulk
        self.assert_same([path], threshold=20, window=30, earlier=lines[500:520])

    def test_utc_offsets_and_an_offset_change_mid_file(self) -> None:
        summer = [in_zone(line, 2) for line in generated(rates=(20,), durations=(80,), seed=1)]
        winter = [in_zone(line, 1) for line in generated(rates=(20,), durations=(80,), seed=2, start=START + 200)]
        self.assertIn("+0200]", summer[0])
        self.assertIn("+0100]", winter[0])
        for period in (10, 1):
            self.assert_same([self.write("dst.log", summer + winter)], threshold=15, window=30, period=period)
        west = [in_zone(line, -9.5) for line in generated(rates=(20,), durations=(80,), seed=3)]
        self.assert_same([self.write("west.log", west)], threshold=15, window=30)

    def test_offset_change_at_a_chunk_boundary(self) -> None:
        lines = generated(rates=(20,), durations=(120,))
        path = self.write("boundary.log", lines)
        bounds = chunk_starts(path, span=1)
        starts, offset = {}, 0
        for index, line in enumerate(lines):
            starts[offset] = index
            offset += len(line.encode()) + 1
        change = starts[bounds[3]]
        shifted = [in_zone(line, 2) for line in lines[:change]] + [in_zone(line, 1) for line in lines[change:]]
        self.assertEqual(len("\n".join(shifted)), len("\n".join(lines)))  # same chunk boundaries
        self.assert_same([self.write("boundary.log", shifted)], threshold=15, window=30, period=1)

    def test_silence_longer_than_the_alert_clock_jump(self) -> None:
        path = self.write("gap.log", generated(rates=(25, 0, 25), durations=(200, 900, 200)))
        self.assert_same([path], threshold=15, window=30)

    def test_small_and_odd_files(self) -> None:
        line = generated(rates=(1,), durations=(5,))[0]
        for name, lines, final in (("empty.log", [], True), ("one.log", [line], True), ("unterminated.log", [line, line], False),
                                   ("junk.log", ["junk"] * 50, True)):
            with self.subTest(name=name):
                self.assert_same([self.write(name, lines, final_newline=final)])

    def test_a_file_that_is_not_text_is_one_notice(self) -> None:
        utf16 = os.path.join(self.directory, "utf16.log")
        with open(utf16, "wb") as stream:
            stream.write("\ufeff".encode("utf-16-le") + ("\n".join(generated(rates=(20,), durations=(100,))) + "\n").encode("utf-16-le"))
        good = self.write("good.log", generated(rates=(5,), durations=(100,)))
        items, _ = self.replay([utf16, good], reference=False, workers=2)
        notices = [item for kind, item in items if kind == "notice"]
        self.assertEqual(notices, [f"{utf16}: not a text access log (UTF-16?): not replayed"])
        summary = items[-1][1]
        self.assertEqual((summary.parsed, sum(summary.stats.skipped.values())), (500, 0))

    def test_periods_and_windows(self) -> None:
        path = self.write("steps.log", generated(rates=(3, 12, 1), durations=(40, 40, 40)))
        for period, window in ((1, 1), (7, 7), (60, 120), (10, 3)):
            with self.subTest(period=period, window=window):
                self.assert_same([path], period=period, window=window, threshold=5)

    def test_a_failing_worker_costs_speed_not_results(self) -> None:
        path = self.write("access.log", generated(rates=(20,), durations=(120,)))
        expected, _ = self.replay([path], reference=True)

        def broken(*args: Any) -> None:
            raise RuntimeError("boom")

        def dying(connection: Any) -> None:
            os._exit(3)

        # the patches reach the workers only if they are forked (the engine forks when it runs alone)
        forking = mock.patch.object(workers.threading, "active_count", return_value=1)
        for count, patch, cause in ((1, mock.patch.object(aggregation, "aggregate_pieces", broken), "RuntimeError: boom"),
                                    (2, mock.patch.object(aggregation, "aggregate_pieces", broken), "RuntimeError: boom"),
                                    (2, mock.patch.object(workers, "_worker_main", dying), "the process ended")):
            with self.subTest(workers=count, cause=cause), patch, forking:
                items, _ = self.replay([path], reference=False, workers=count)
                notices = [item for kind, item in items if kind == "notice"]
                self.assertTrue(notices)
                self.assertTrue(all(cause in notice for notice in notices), notices)
                self.assertEqual([item for item in items if item[0] in ("report", "event")],
                                 [item for item in expected if item[0] in ("report", "event")])
                self.assertEqual(items[-1][1].stats, expected[-1][1].stats)


class CountedTogetherTest(unittest.TestCase):
    def test_pieces_that_do_not_join_are_counted_one_by_one_to_the_same_batch(self) -> None:
        lines = [f"{line}\n" for line in generated(rates=(40,), durations=(60,), seed=4)]
        lines[1000:1000] = ["garbage\n", "\n"]  # a skipped line and a blank one, inside a group
        data = "".join(lines).encode()
        pieces = _whole_lines([data[start:start + 3000] for start in range(0, len(data), 3000)])
        outcomes = []
        for joins in (True, False):
            with mock.patch.object(aggregation, "joined", wraps=aggregation.joined if joins else lambda blocks: None):
                batch = aggregation.aggregate_pieces(pieces, "combined", 10, counted_lines=100)
            assert isinstance(batch, Batch)
            outcomes.append(([segment._replace(counts=segment.counts._asdict()) for segment in batch.segments],
                             batch.lines, batch.records, batch.skipped_after))
        self.assertGreater(len(pieces), 10)
        self.assertEqual(outcomes[0], outcomes[1])

    def test_segments_held_to_the_next_group_are_counted_and_cut_as_if_counted_whole(self) -> None:
        """A group's last segment is counted with the next group's records, and cut as it is
        counted: the batch is the one of the chunk counted at once, then cut, whatever the size of
        the groups (smaller than a period too), with skipped lines and UTC offsets at the joins."""
        rnd = random.Random(5)
        lines = [f"{line}\n" for line in generated(rates=(400, 40), durations=(40, 25), seed=5)]
        for index in range(len(lines)):  # a path and a client of its own on most lines: cut periods
            if index % 5:
                rest = lines[index].split(" ", 1)[1]
                before, request, after = rest.split('"', 2)
                method, _, version = request.split(" ")
                lines[index] = f"10.9.{index >> 8 & 255}.{index & 255} {before}\"{method} /p{index}/x {version}\"{after}"
        for index in sorted(rnd.sample(range(len(lines)), 12), reverse=True):
            lines.insert(index, rnd.choice(["garbage\n", "\n"]))
        lines[6000:6100] = [in_zone(line, 5) if line.count(" ") > 3 else line for line in lines[6000:6100]]
        data = "".join(lines).encode()
        parser = LogParser("combined")
        whole = aggregate(parse_block(data, parser), 10)
        expected = [(segment._replace(counts=None), applied(segment.counts.cut(MIN_CUT_KEYS))) for segment in whole.segments]
        self.assertGreater(sum(segment.counts.cut(MIN_CUT_KEYS).overflow is not None for segment in whole.segments), 2)
        pieces = _whole_lines([data[start:start + 3000] for start in range(0, len(data), 3000)])
        for counted_lines in (300, 1500, 2500, 5000, 10 ** 6):
            with mock.patch.object(aggregate_module, "count_records", wraps=aggregate_module.count_records) as counting:
                batch = aggregation.aggregate_pieces(pieces, "combined", 10, cut_keys=MIN_CUT_KEYS, counted_lines=counted_lines)
            assert isinstance(batch, Batch)
            if counted_lines > 4000:  # more than a period's records: each segment counted once
                self.assertEqual(counting.call_count, len(batch.segments))
            self.assertEqual((batch.lines, batch.records, batch.skipped_after), (whole.lines, whole.records, whole.skipped_after))
            self.assertEqual([(segment._replace(counts=None), applied(segment.counts)) for segment in batch.segments],
                             expected, counted_lines)


def applied(counts: Counts) -> StatsSnapshot:
    """The snapshot of statistics given ``counts``."""
    stats = Statistics(MIN_CUT_KEYS)
    stats.add_counts(counts)
    return stats.snapshot()


def _whole_lines(pieces: List[bytes]) -> List[bytes]:
    """The pieces moved to end at line ends (the rest of a line goes with the next piece)."""
    whole, carried = [], b""
    for piece in pieces:
        text = carried + piece
        end = text.rfind(b"\n") + 1
        whole.append(text[:end])
        carried = text[end:]
    return [piece for piece in whole if piece] + ([carried] if carried else [])


class WorkerPoolTest(unittest.TestCase):
    def test_workers_dead_before_their_first_chunk_are_said_like_the_others(self) -> None:
        # on a loaded machine both workers could die before the first chunk was sent: the chunk
        # was then aggregated in this process without a word, so no notice said the workers failed
        def dying(connection: Any) -> None:
            os._exit(3)

        line = b'10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5\n'
        task = aggregation.ChunkTask("-", 0, len(line), "auto", 10, 1 << 20, data=line)
        with mock.patch.object(workers, "_worker_main", dying), \
                mock.patch.object(workers.threading, "active_count", return_value=1):  # forked, so patched
            pool = workers.WorkerPool(2, 1)
        try:
            for process in pool._processes:
                process.join(60)
                self.assertEqual(process.exitcode, 3)
            self.assertEqual(pool.result(pool.submit(task)), workers._ENDED)
            self.assertEqual(pool.result(pool.submit(task)), workers._ENDED)
        finally:
            pool.close()

    def block_task(self, count: int, path: str = "block") -> aggregation.ChunkTask:
        data = "".join(f"{line}\n" for line in generated(rates=(count,), durations=(1,), seed=count)).encode()
        return aggregation.ChunkTask(path, 0, len(data), "combined", 1, 1 << 20, data=data)

    @unittest.skipUnless(sys.platform.startswith("linux"), "the patch reaches the workers only if they are forked")
    def test_a_worker_whose_answer_came_counts_as_idle_before_its_result_is_taken(self) -> None:
        hold, release = os.pipe()
        self.addCleanup(os.close, hold)
        self.addCleanup(os.close, release)
        aggregate = workers.aggregate_chunk

        def held(task: aggregation.ChunkTask) -> aggregation.ChunkResult:
            if task.path == "held":
                os.read(hold, 1)  # until the test lets it go
            return aggregate(task)

        with mock.patch.object(workers, "aggregate_chunk", held), \
                mock.patch.object(workers.threading, "active_count", return_value=1):
            pool = workers.WorkerPool(2, 2)
        self.addCleanup(pool.close)
        busy, done = pool.submit(self.block_task(3, "held")), pool.submit(self.block_task(5))
        self.assertNotEqual(pool._worker_of[busy], pool._worker_of[done])
        self.assertTrue(pool._connections[pool._worker_of[done]].poll(DEADLINE), "the second answer sent")
        # one chunk each, but one worker has answered: the next chunk goes to it, not to the busy one
        following = pool.submit(self.block_task(7))
        self.assertEqual(pool._worker_of[following], pool._worker_of[done])
        os.write(release, b"x")
        self.assertEqual([pool.result(ticket).lines for ticket in (following, done, busy)], [7, 5, 3])
        self.assertEqual(pool.outstanding, 0)

    def test_a_chunk_is_handed_over_while_the_worker_waits_to_give_an_answer_bigger_than_a_pipe(self) -> None:
        # the answer (30,000 distinct clients and paths) and the next chunk are each larger than a
        # socket holds: a worker that read its next chunk only after sending its answer would
        # block on the send while this process blocked on handing the chunk over
        lines = [f'10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255} - - [01/Dec/2026:18:46:{n % 60:02d} +0000] '
                 f'"GET /{n:08x}/page HTTP/1.1" 200 5 "-" "agent"\n' for n in range(30_000)]
        data = "".join(sorted(lines, key=lambda line: line[line.index("["):])).encode()
        big = aggregation.ChunkTask("big", 0, len(data), "combined", 1, 1 << 20, data=data)
        pool = workers.WorkerPool(1, 2)
        self.addCleanup(pool.close)
        first = pool.submit(big)
        self.assertTrue(pool._connections[0].poll(DEADLINE), "the first answer on its way")
        handed = threading.Event()
        second: List[int] = []
        thread = threading.Thread(target=lambda: (second.append(pool.submit(big)), handed.set()), daemon=True)
        thread.start()
        self.assertTrue(handed.wait(DEADLINE), "the second chunk handed over while the first answer waits")
        self.assertEqual([pool.result(ticket).lines for ticket in (first, second[0])], [30_000, 30_000])


class CommandLineTest(unittest.TestCase):
    def test_monitoring_replay_with_workers_is_the_line_by_line_output(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-replay-cli-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "access.log")
        lines = generated(rates=(60, 200, 20), durations=(200, 150, 200), clients=2000)
        lines.insert(20_000, "garbage")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
        self.assertGreater(os.path.getsize(path), ReplayTuning().in_process_bytes)  # so worker processes run

        command = [sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file",
                   "--threshold", "100", path]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stderr, "")
        output = io.StringIO()
        monitor = Monitor(100, 120, 10, sinks=[JsonSink(output)], files=[path])
        reference_replay(monitor, [path])
        monitor.finish()
        kinds = [json.loads(line)["type"] for line in done.stdout.splitlines()]
        self.assertEqual(kinds.count("alert"), 1)
        self.assertGreater(kinds.count("report"), 50)
        self.assertEqual(done.stdout, output.getvalue())


if __name__ == "__main__":
    unittest.main()
