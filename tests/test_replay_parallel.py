"""The fast replay gives exactly what the reference replay gives.

Each test replays the same files twice, through the reference path (every line a record) and
through the fast engine (chunks aggregated in this process, or in worker processes), and
compares everything the monitor handed to its sinks: every report's statistics, every alert and
recovery, every notice, the summary, and the JSON lines the ``--json`` output makes of them.
Chunks are made tiny so that a few thousand lines cross many chunk and piece boundaries.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Sequence, Tuple
from unittest import mock

from monilog import replay as engine
from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from tests.support import Recorder

START = datetime(2024, 5, 1, 12, 0, 3, tzinfo=timezone(timedelta(hours=2))).timestamp()
SMALL_CHUNKS = dict(FIRST_CHUNK_BYTES=3000, CHUNK_BYTES=20_000, MERGED_CHUNK_BYTES=20_000, MIN_CHUNK_BYTES=20_000,
                    PIECE_BYTES=6000, IN_PROCESS_BYTES=0)


def generated(fmt: str = "combined", rates: Sequence[float] = (5, 40, 3), durations: Sequence[float] = (200, 200, 300),
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
        patcher = mock.patch.multiple(engine, **SMALL_CHUNKS)
        patcher.start()
        self.addCleanup(patcher.stop)

    def write(self, name: str, lines: Sequence[str], ending: str = "\n", final_newline: bool = True) -> str:
        path = os.path.join(self.directory, name)
        text = ending.join(lines) + (ending if final_newline and lines else "")
        with open(path, "wb") as stream:
            stream.write(text.encode("utf-8", "surrogateescape"))
        return path

    def replay(self, paths: Sequence[str], reference: bool, workers: int = 0,
               **settings: Any) -> Tuple[List[Tuple[str, Any]], str, int]:
        """Replay ``paths``; return what the sinks got, the JSON output and the bulk additions."""
        recorder, output = Recorder(), io.StringIO()
        options: Dict[str, Any] = dict(threshold=10.0, window=60, period=10)
        options.update(settings)
        threshold, window, period = options.pop("threshold"), options.pop("window"), options.pop("period")
        earlier = options.pop("earlier", ())
        monitor = Monitor(threshold, window, period, sinks=[recorder, JsonSink(output, top=10_000)],
                          files=paths, **options)
        monitor.feed("earlier.log", earlier)
        bulk = mock.patch.object(monitor, "add_aggregate", wraps=monitor.add_aggregate)
        with bulk as add_aggregate:
            engine.replay(monitor, paths, reference=reference, workers=workers)
        return recorder.items, output.getvalue(), add_aggregate.call_count

    def assert_same(self, paths: Sequence[str], workers: Sequence[int] = (0,), expect_bulk: bool = True,
                    **settings: Any) -> List[Tuple[str, Any]]:
        expected, expected_json, bulk = self.replay(paths, reference=True, **settings)
        self.assertEqual(bulk, 0)
        self.assertTrue(expected_json)
        for count in workers:
            with self.subTest(workers=count):
                items, json_text, bulk = self.replay(paths, reference=False, workers=count, **settings)
                self.assertEqual(json_text.splitlines(), expected_json.splitlines())
                self.assertEqual(items, expected)
                if expect_bulk:
                    self.assertGreater(bulk, 0, "the fast path was never taken")
        return expected

    # -- scenarios --------------------------------------------------------------------------

    def test_alerts_and_recoveries_in_process_and_in_workers(self) -> None:
        path = self.write("access.log", generated())
        items = self.assert_same([path], workers=(0, 2))
        kinds = [item.kind for kind, item in items if kind == "event"]
        self.assertEqual(kinds, ["alert", "recover"])

    def test_common_format_read_as_common_and_auto(self) -> None:
        path = self.write("common.log", generated("common", rates=(20,), durations=(300,)))
        for fmt in ("common", "auto"):
            with self.subTest(fmt=fmt):
                self.assert_same([path], fmt=fmt, threshold=15, window=30)

    def test_combined_format_read_as_combined(self) -> None:
        path = self.write("combined.log", generated(rates=(20,), durations=(300,)))
        self.assert_same([path], fmt="combined", threshold=15, window=30)

    def test_late_lines_inside_and_outside_the_window(self) -> None:
        lines = generated(rates=(30,), durations=(400,))
        rng = random.Random(4)
        for index in range(len(lines) - 1, 1000, -700):
            lines.insert(index, lines[index - rng.choice([5, 60, 400, 3000])])
        path = self.write("late.log", lines)
        self.assert_same([path], threshold=25, window=30)

    def test_lines_stamped_with_the_request_start_take_the_fast_path(self) -> None:
        # Apache's %t is when the request arrived, the line is written when it ends: slightly out of order
        rng = random.Random(7)
        lines = [in_zone(line, 2, earlier=rng.choice([0, 0, 0, 0.5, 1, 2, 3, 12]))
                 for line in generated(rates=(40,), durations=(400,))]
        path = self.write("apache.log", lines)
        self.assert_same([path], workers=(0, 2), threshold=35, window=30)
        self.assert_same([path], threshold=35, window=5, period=1)

    def test_outlier_timestamps(self) -> None:
        lines = generated(rates=(20,), durations=(300,))
        outlier = lines[100].replace("/2024:", "/2099:")
        ancient = lines[100].replace("/2024:", "/1970:")
        for index in (4000, 2500, 2507, 900):
            lines.insert(index, outlier)
        lines.insert(3000, ancient)
        for variant, name in ((lines, "middle.log"), ([outlier] + lines, "first.log"), (lines + [outlier], "last.log")):
            with self.subTest(name=name):
                self.assert_same([self.write(name, variant)], threshold=15, window=30)

    def test_malformed_blank_and_overlong_lines(self) -> None:
        lines = generated(rates=(20,), durations=(300,))
        rng = random.Random(5)
        bad = ["garbage", "", "   ", lines[7][:40], lines[7].replace("/2024:", "/Foo/2024:"),
               lines[7].replace("May/2024", "31/Feb/2024").replace("[01/", "["), lines[7].replace('" 200 ', '" 2000 '),
               "x" * 70_000, lines[7] + '"' * 50, "\x1b[2J" + lines[7], "caf\u00e9 \udcff"]
        for index in sorted(rng.sample(range(len(lines)), 60), reverse=True):
            lines.insert(index, rng.choice(bad))
        lines = ["garbage first"] + lines + ["garbage last", ""]
        path = self.write("malformed.log", lines)
        self.assert_same([path], workers=(0, 2), threshold=15, window=30)
        self.assert_same([self.write("crlf.log", lines, ending="\r\n", final_newline=False)], threshold=15, window=30)

    def test_a_line_longer_than_a_chunk(self) -> None:
        lines = generated(rates=(20,), durations=(100,))
        lines.insert(700, "y" * 3_000_000)
        with mock.patch.object(engine, "MAX_CHUNK_BYTES", 1_000_000):
            self.assert_same([self.write("huge.log", lines)], threshold=15, window=30)

    def test_several_files_merged(self) -> None:
        web1 = self.write("web1.log", generated(rates=(10, 30), durations=(200, 200), seed=2))
        web2 = self.write("web2.log", generated(rates=(5,), durations=(500,), seed=3, start=START + 50))
        old = self.write("old.log", generated(rates=(8,), durations=(300,), seed=4, start=START - 1000))
        self.assert_same([web1, web2, old], workers=(0, 2), threshold=20, window=60)
        self.assert_same([old, web1], threshold=20, window=60)

    def test_many_merged_files_keep_few_results_waiting(self) -> None:
        paths = [self.write(f"web{index}.log", generated(rates=(4,), durations=(300,), seed=20 + index,
                                                          start=START + 7 * index))
                 for index in range(8)]
        waiting: List[int] = []
        submit = engine._Workers.submit

        def counting(workers: Any, task: Any) -> int:
            waiting.append(workers.outstanding)
            return submit(workers, task)

        with mock.patch.object(engine._Workers, "submit", counting):
            self.assert_same(paths, workers=(2,), threshold=20, window=30)
        self.assertGreater(len(waiting), 3 * len(paths))
        self.assertLessEqual(max(waiting), engine.CHUNKS_IN_FLIGHT * 2 + len(paths))

    def test_several_files_with_late_lines_and_garbage(self) -> None:
        lines = generated(rates=(15,), durations=(300,), seed=8)
        lines.insert(2000, lines[100])
        lines.insert(1000, "garbage")
        first = self.write("a.log", lines)
        second = self.write("b.log", generated(rates=(15,), durations=(300,), seed=9, start=START + 20) + ["junk"])
        self.assert_same([first, second], threshold=20, window=30)
        rng = random.Random(3)
        jittered = self.write("c.log", [in_zone(line, 0, earlier=rng.choice([0, 0, 1, 3, 11]))
                                        for line in generated(rates=(25,), durations=(300,), seed=10)])
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
        lines = generated(rates=(20,), durations=(300,), seed=11)
        path = self.write("back.log", lines)
        starts = self.line_starts(lines)
        change = starts[[start for start, _ in engine._chunk_bounds(path, os.path.getsize(path), 0, engine.CHUNK_BYTES)][4]]
        back = lines[:change] + [in_zone(line, 0, earlier=4) for line in lines[change:]]  # same lengths
        other = self.write("other.log", generated(rates=(10,), durations=(300,), seed=12))
        self.assert_same([self.write("back.log", back), other], threshold=20, window=30)

    def test_a_step_back_at_a_piece_boundary_is_out_of_order_when_order_is_required(self) -> None:
        lines = generated(rates=(20,), durations=(100,), seed=13)
        block = ("\n".join(lines) + "\n").encode()
        starts = self.line_starts(lines)
        boundary = len(next(engine._pieces(block)))
        change = starts[boundary]
        stepped = lines[:change] + [in_zone(line, 0, earlier=4) for line in lines[change:]]
        block = ("\n".join(stepped) + "\n").encode()
        self.assertEqual(len(next(engine._pieces(block))), boundary)
        self.assertEqual(engine.aggregate_block(block, "combined", 1, 60.0, ordered=True), "out of time order")
        self.assertIsInstance(engine.aggregate_block(block, "combined", 10, 60.0, ordered=False), engine.ChunkAggregate)

    def test_statistics_capped_at_max_keys_keep_the_same_keys(self) -> None:
        single = self.write("many.log", generated(rates=(30,), durations=(300,), clients=400, sections=40, paths=3))
        other = self.write("more.log", generated(rates=(20,), durations=(300,), clients=400, seed=6, start=START + 7))
        items = self.assert_same([single], max_keys=12, threshold=20, window=30)
        folded = [item.stats.folded for kind, item in items if kind == "report"]
        self.assertTrue(any(counts.get("clients") for counts in folded))
        self.assert_same([single, other], max_keys=12, threshold=20, window=30)

    def test_w3c_files_and_directives_take_the_reference_path(self) -> None:
        w3c = LogGenerator([10], [200], fmt="w3c", seed=1, start=START)
        path = self.write("iis.log", [w3c.header(START).rstrip("\n")] + [line for _, line in w3c.timeline()])
        self.assert_same([path], expect_bulk=False)
        self.assert_same([path], fmt="w3c", expect_bulk=False)
        lines = generated(rates=(20,), durations=(300,))
        lines.insert(3000, "# a comment in the middle")
        self.assert_same([self.write("commented.log", lines)], threshold=15)
        switching = generated(rates=(20,), durations=(300,))
        switching.insert(3000, "#Fields: date time cs-method cs-uri-stem sc-status")
        self.assert_same([self.write("switching.log", switching)], threshold=15)

    def test_a_directive_after_records_is_a_comment_whichever_path_read_them(self) -> None:
        lines = ["garbage"] * 500 + generated(rates=(20,), durations=(300,), seed=14)
        path = self.write("late-start.log", lines)
        change = self.line_starts(lines)[[start for start, _ in engine._chunk_bounds(path, os.path.getsize(path), 0, engine.CHUNK_BYTES)][3]]
        late_start = lines[:change] + ["#Fields: date time cs-method cs-uri-stem sc-status"] + lines[change:]
        path = self.write("late-start.log", late_start)
        other = self.write("other.log", generated(rates=(10,), durations=(300,), seed=15))
        self.assert_same([path, other], threshold=20, window=30)
        # a monitor that already has a clock could take the file's first records in bulk
        self.assert_same([path], threshold=20, window=30, earlier=lines[500:520])

    def test_utc_offsets_and_an_offset_change_mid_file(self) -> None:
        summer = [in_zone(line, 2) for line in generated(rates=(20,), durations=(200,), seed=1)]
        winter = [in_zone(line, 1) for line in generated(rates=(20,), durations=(200,), seed=2, start=START + 200)]
        self.assertIn("+0200]", summer[0])
        self.assertIn("+0100]", winter[0])
        for period in (10, 1):
            self.assert_same([self.write("dst.log", summer + winter)], threshold=15, window=30, period=period)
        west = [in_zone(line, -9.5) for line in generated(rates=(20,), durations=(200,), seed=3)]
        self.assert_same([self.write("west.log", west)], threshold=15, window=30)

    def test_offset_change_at_a_chunk_boundary(self) -> None:
        lines = generated(rates=(20,), durations=(300,))
        path = self.write("boundary.log", lines)
        bounds = [start for start, _ in engine._chunk_bounds(path, os.path.getsize(path), 0, engine.CHUNK_BYTES)]
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
                self.assert_same([self.write(name, lines, final_newline=final)], expect_bulk=False)

    def test_periods_and_windows(self) -> None:
        path = self.write("steps.log", generated(rates=(3, 12, 1), durations=(100, 100, 100)))
        for period, window in ((1, 1), (7, 7), (60, 120), (10, 3)):
            with self.subTest(period=period, window=window):
                self.assert_same([path], period=period, window=window, threshold=5)

    def test_a_failing_worker_costs_speed_not_results(self) -> None:
        path = self.write("access.log", generated(rates=(20,), durations=(300,)))
        expected, _, _ = self.replay([path], reference=True)

        def broken(*args: Any) -> None:
            raise RuntimeError("boom")

        def dying(connection: Any) -> None:
            os._exit(3)

        # the patches reach the workers only if they are forked (the engine forks when it runs alone)
        forking = mock.patch.object(engine.threading, "active_count", return_value=1)
        for count, patch, cause in ((0, mock.patch.object(engine, "_aggregate_piece", broken), "RuntimeError: boom"),
                                    (2, mock.patch.object(engine, "_aggregate_piece", broken), "RuntimeError: boom"),
                                    (2, mock.patch.object(engine, "_worker_main", dying), "the process ended")):
            with self.subTest(workers=count, cause=cause), patch, forking:
                items, _, bulk = self.replay([path], reference=False, workers=count)
                notices = [item for kind, item in items if kind == "notice"]
                self.assertTrue(notices)
                self.assertTrue(all(cause in notice for notice in notices), notices)
                self.assertEqual([item for item in items if item[0] in ("report", "event")],
                                 [item for item in expected if item[0] in ("report", "event")])
                self.assertEqual(items[-1][1].stats, expected[-1][1].stats)


class AddAggregateTest(unittest.TestCase):
    COUNTS = dict(section_status={("/a", 200): 3}, section_bytes={"/a": 30}, methods={"GET": 3},
                  clients={"h": 3}, users={})

    def steady_monitor(self) -> Monitor:
        """A monitor whose clock is at 12:00:02, in the period starting at 12:00:00."""
        monitor = Monitor(10, 60, 10)
        line = '10.0.0.1 - - [01/May/2024:12:00:0{} +0000] "GET /a HTTP/1.1" 200 5'
        monitor.feed("x", [line.format(1), line.format(2)])
        return monitor

    def test_ready_in_the_period_in_progress_up_to_max_jump_after_the_clock(self) -> None:
        self.assertFalse(Monitor().aggregate_ready(1_714_564_800))
        monitor = self.steady_monitor()
        clock = int(monitor.alerter.clock)
        self.assertTrue(monitor.aggregate_ready(clock))
        self.assertTrue(monitor.aggregate_ready(clock - 2))
        self.assertFalse(monitor.aggregate_ready(clock - 3))
        self.assertTrue(monitor.aggregate_ready(clock + 60))
        self.assertFalse(monitor.aggregate_ready(clock + 61))
        with self.assertRaises(ValueError):
            monitor.add_aggregate([(clock + 61, 3)], timezone.utc, **self.COUNTS)

    def test_inconsistent_input_counts_nothing(self) -> None:
        monitor = self.steady_monitor()
        clock = int(monitor.alerter.clock)
        before = (monitor.parsed, monitor.alerter.clock, monitor.view().current.hits)
        for runs in ([(clock, 2)], [(clock, 1), (clock + 20, 2)], [(clock, 0), (clock, 3)], [(clock - 3, 3)]):
            with self.subTest(runs=runs), self.assertRaises(ValueError):
                monitor.add_aggregate(runs, timezone.utc, **self.COUNTS)
        with self.assertRaises(ValueError):
            monitor.add_aggregate([(clock, 3)], timezone.utc, **dict(self.COUNTS, methods={"GET": 2}))
        self.assertEqual((monitor.parsed, monitor.alerter.clock, monitor.view().current.hits), before)

    def test_bulk_hits_count_like_records_late_ones_included(self) -> None:
        monitor = self.steady_monitor()
        clock = int(monitor.alerter.clock)
        monitor.add_aggregate([(clock, 1), (clock + 3, 2)], timezone.utc, **self.COUNTS)
        self.assertEqual(monitor.parsed, 5)
        self.assertEqual(monitor.alerter.clock, clock + 3)
        self.assertEqual(monitor.view().current.sections["/a"].hits, 5)
        # the next period opens at clock + 8; a second from the period before then counts as late
        monitor.add_aggregate([(clock + 9, 1), (clock + 4, 2)], timezone.utc, **self.COUNTS)
        current = monitor.view().current
        self.assertEqual((current.hits, current.late), (3, 2))
        self.assertEqual(monitor.alerter.clock, clock + 9)


class CommandLineTest(unittest.TestCase):
    def test_monitoring_replay_output_is_the_reference_output(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-replay-cli-")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "access.log")
        lines = generated(rates=(60, 200, 20), durations=(200, 150, 200), clients=2000)
        lines.insert(20_000, "garbage")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("\n".join(lines) + "\n")
        self.assertGreater(os.path.getsize(path), engine.IN_PROCESS_BYTES)  # so worker processes run

        def run(reference: bool) -> str:
            env = dict(os.environ, MONILOG_REFERENCE="1" if reference else "0")
            command = [sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file",
                       "--threshold", "100", path]
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stderr, "")
            return done.stdout

        reference = run(True)
        kinds = [json.loads(line)["type"] for line in reference.splitlines()]
        self.assertEqual(kinds.count("alert"), 1)
        self.assertGreater(kinds.count("report"), 50)
        self.assertEqual(run(False), reference)


if __name__ == "__main__":
    unittest.main()
