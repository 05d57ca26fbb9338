"""log_generator and LogGenerator: validation, exact timelines, parseable realistic lines,
reproducibility, rotation, local UTC offsets, torn lines and clean interruption."""

from __future__ import annotations

import collections
import contextlib
import io
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone
from typing import Callable, Dict, List, Optional, Sequence

from monilog import LogGenerator
from monilog.cli import log_generator
from monilog.parsing import LogParser, LogRecord
from tests.support import wait_for

START = 1_714_564_800  # 2024-05-01 12:00:00 UTC, a whole second
FORMATS = ("common", "combined", "w3c")


def script_command() -> List[str]:
    """The installed ``log_generator`` console script (next to this Python, else on PATH)."""
    beside = os.path.join(os.path.dirname(sys.executable), "log_generator")
    found = beside if os.path.exists(beside) else shutil.which("log_generator")
    return [found] if found else [sys.executable, "-m", "monilog.cli.log_generator"]


def run_script(*args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """The console script in a subprocess: what a user runs."""
    return subprocess.run(script_command() + list(args), capture_output=True, text=True, timeout=120,
                          env=None if env is None else {**os.environ, **env})


def run_main(*args: str) -> subprocess.CompletedProcess:
    """The same command line through ``log_generator``'s ``main`` in this process, without the
    interpreter's start-up: for files (standard output is written to file descriptor 1)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = log_generator.main(list(args))
    return subprocess.CompletedProcess(["log_generator", *args], status, stdout.getvalue(), stderr.getvalue())


def default_signals() -> None:
    """In the child before it starts: Ctrl-C and SIGTERM do what they do by default, also when
    the tests run with SIGINT ignored (``nohup``, a background job), which children inherit."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def parse_all(lines: Sequence[str], fmt: str) -> List[LogRecord]:
    """Parse every line (header lines give None and are dropped); any ParseError propagates."""
    parser = LogParser(fmt)
    records = [parser.parse(line) for line in lines]
    return [record for record in records if record is not None]


class TempDirTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-generator-test-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.path = os.path.join(self.directory, "access.log")

    def read_lines(self, path: Optional[str] = None) -> List[str]:
        with open(path or self.path, encoding="utf-8") as log:
            return log.read().splitlines()


class ValidationTest(TempDirTest):
    def assert_usage_error(self, *args: str, mentions: str) -> None:
        result = run_main("--file", self.path, "--no-sleep", *args)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        error_lines = result.stderr.splitlines()
        self.assertEqual(len(error_lines), 1, result.stderr)
        self.assertTrue(error_lines[0].startswith("log_generator: error: "), error_lines[0])
        self.assertIn(mentions, error_lines[0])
        self.assertNotIn("Traceback", result.stderr)

    def test_unequal_lengths(self) -> None:
        self.assert_usage_error("--rates", "9", "11", "8", "--durations", "150", "150", mentions="--durations")

    def test_negative_rate(self) -> None:
        self.assert_usage_error("--rates", "5", "-1", "--durations", "60", "60", mentions="rates")

    def test_zero_and_infinite_durations(self) -> None:
        self.assert_usage_error("--rates", "5", "--durations", "0", mentions="durations")
        self.assert_usage_error("--rates", "5", "--durations", "inf", mentions="durations")

    def test_not_a_number(self) -> None:
        self.assert_usage_error("--rates", "fast", mentions="'fast'")

    def test_other_bad_options(self) -> None:
        self.assert_usage_error("--rates", "1", "--error-rate", "1.5", mentions="--error-rate")
        self.assert_usage_error("--rates", "1", "--rotate-every", "0", mentions="--rotate-every")
        self.assert_usage_error("--start", "the day after tomorrow-ish", mentions="--start")
        self.assert_usage_error("--format", "xml", mentions="--format")
        self.assert_usage_error("--bogus", mentions="--bogus")

    def test_unopenable_file(self) -> None:
        result = run_script("--file", os.path.join(self.directory, "missing", "a.log"), "--rates", "1")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("cannot open", result.stderr)

    def test_api_rejects_bad_timelines(self) -> None:
        for rates, durations in (([1, 2], [10]), ([], []), ([-1], [10]), ([math.nan], [10]),
                                 ([1], [0]), ([1], [math.inf])):
            with self.subTest(rates=rates, durations=durations), self.assertRaises(ValueError):
                LogGenerator(rates, durations)
        with self.assertRaises(ValueError):
            LogGenerator([1], [1], fmt="xml")
        with self.assertRaises(ValueError):
            LogGenerator([1], [1], error_rate=-0.1)
        with self.assertRaises(ValueError):
            LogGenerator([1], [1], sections=0)


class TimelineTest(TempDirTest):
    def assert_steps(self, moments: Sequence[float], rates: Sequence[float], durations: Sequence[float]) -> None:
        """Every time falls in the timeline, in order, and each step's count is within 3 %."""
        end = START + sum(durations)
        self.assertTrue(all(START <= moment < end for moment in moments))
        self.assertEqual(list(moments), sorted(moments))
        begin = START
        for rate, duration in zip(rates, durations):
            count = sum(1 for moment in moments if begin <= moment < begin + duration)
            expected = rate * duration
            self.assertLessEqual(abs(count - expected), 0.03 * expected + 0.5,
                                 f"{count} lines in the {rate}/s step of {duration} s")
            begin += duration

    def test_console_script_counts_and_timestamps_per_step(self) -> None:
        rates, durations = [9, 11, 0, 8.5], [150, 150, 60, 90]
        result = run_script("--file", self.path, "--no-sleep", "--start", str(START), "--seed", "7",
                            "--rates", *map(str, rates), "--durations", *map(str, durations))
        self.assertEqual(result.returncode, 0, result.stderr)
        records = parse_all(self.read_lines(), "combined")
        self.assert_steps([record.epoch for record in records], rates, durations)

    def test_counts_for_many_seeds_and_fractional_rates(self) -> None:
        rates, durations = [0.7, 3.3, 25.0, 0.05], [60, 61.5, 100, 200]
        for seed in range(8):
            generator = LogGenerator(rates, durations, seed=seed, start=START)
            times = [moment for moment, _ in generator.timeline()]
            self.assertEqual(len(times), generator.total_lines)
            self.assert_steps(times, rates, durations)

    def test_arrivals_look_poisson(self) -> None:
        # Exponential gaps have a coefficient of variation of 1 and Poisson counts per second
        # a variance equal to their mean; a fixed tick would give 0 for both.
        rate = 40.0
        times = [moment for moment, _ in LogGenerator([rate], [900], seed=3, start=START).timeline()]
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        mean = sum(gaps) / len(gaps)
        deviation = math.sqrt(sum((gap - mean) ** 2 for gap in gaps) / len(gaps))
        self.assertAlmostEqual(mean, 1 / rate, delta=0.02 / rate)
        self.assertAlmostEqual(deviation / mean, 1.0, delta=0.05)
        per_second = collections.Counter(int(moment) for moment in times)
        counts = [per_second.get(second, 0) for second in range(START, START + 900)]
        variance = sum((count - rate) ** 2 for count in counts) / len(counts)
        self.assertAlmostEqual(variance / rate, 1.0, delta=0.2)

    def test_timeline_timestamps_are_the_lines_timestamps(self) -> None:
        for fmt in FORMATS:
            generator = LogGenerator([20], [30], fmt=fmt, seed=1, start=START + 0.25)
            moments, lines = zip(*generator.timeline())
            records = parse_all(generator.header(START).splitlines() + list(lines), fmt)
            self.assertEqual([record.epoch for record in records], [int(moment) for moment in moments])

    def test_realtime_writes_the_same_lines_as_no_sleep(self) -> None:
        quick = LogGenerator([80], [0.25], seed=5, start=START)
        quick.write(self.path, realtime=True)
        realtime_lines = self.read_lines()
        os.remove(self.path)
        quick.write(self.path, realtime=False)
        self.assertEqual(realtime_lines, self.read_lines())
        self.assertEqual(len(realtime_lines), 20)


class LinesTest(TempDirTest):
    def test_every_line_parses_in_its_format_and_auto(self) -> None:
        for fmt in FORMATS:
            result = run_main("--file", self.path, "--truncate", "--no-sleep", "--start", str(START),
                                "--format", fmt, "--rates", "30", "--durations", "200", "--seed", "11")
            self.assertEqual(result.returncode, 0, result.stderr)
            lines = self.read_lines()
            generator = LogGenerator([30], [200], fmt=fmt, seed=11, start=START)
            for parser_format in (fmt, "auto"):
                with self.subTest(fmt=fmt, parser=parser_format):
                    records = parse_all(lines, parser_format)
                    self.assertEqual(len(records), 6000)
                    self.assertEqual({record.section for record in records}, set(generator.sections))
                    self.assertTrue(all(record.target.startswith(record.section + "/") for record in records))

    def test_w3c_file_starts_with_its_header(self) -> None:
        run_main("--file", self.path, "--no-sleep", "--start", str(START), "--format", "w3c",
                   "--rates", "2", "--durations", "5")
        lines = self.read_lines()
        self.assertEqual([line.split(":")[0] for line in lines[:4]], ["#Software", "#Version", "#Date", "#Fields"])
        self.assertEqual(lines[2], "#Date: " + lines[4][:19])
        self.assertTrue(lines[4].startswith("2024-05-01 12:00:0"))
        self.assertFalse(any(line.startswith("#") for line in lines[4:]))

    def test_traffic_mix(self) -> None:
        for error_rate in (0.05, 0.3):
            generator = LogGenerator([100], [400], seed=2, start=START, sections=4, clients=50,
                                     error_rate=error_rate)
            records = parse_all([line for _, line in generator.timeline()], "combined")
            with self.subTest(error_rate=error_rate):
                errors = sum(1 for record in records if record.status >= 400)
                self.assertAlmostEqual(errors / len(records), error_rate, delta=0.01)
                successes = sum(1 for record in records if 200 <= record.status < 300)
                self.assertGreater(successes / len(records), 0.8 * (1 - error_rate))
                sections = collections.Counter(record.section for record in records)
                self.assertEqual([section for section, _ in sections.most_common()], list(generator.sections))
                self.assertLessEqual(len({record.host for record in records}), 50)
                methods = collections.Counter(record.method for record in records)
                self.assertGreater(methods["GET"] / len(records), 0.8)
                self.assertGreater(len(methods), 3)
                users = collections.Counter(record.user for record in records)
                self.assertGreater(users[""] / len(records), 0.8)
                self.assertGreater(len({record.user_agent for record in records}), 3)
                self.assertGreater(len({record.referer for record in records}), 3)
                self.assertTrue(all(record.size == 0 for record in records if record.status in (204, 304)))


class SeedTest(TempDirTest):
    def generate(self, name: str, seed: str, fmt: str = "combined",
                 run: Callable[..., subprocess.CompletedProcess] = run_main) -> bytes:
        path = os.path.join(self.directory, name)
        result = run("--file", path, "--no-sleep", "--start", "2024-05-01T12:00:00+02:00",
                            "--seed", seed, "--format", fmt, "--rates", "50", "7", "--durations", "20", "30")
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(path, "rb") as log:
            return log.read()

    def test_same_seed_same_bytes_different_seed_different_bytes(self) -> None:
        for fmt in FORMATS:
            with self.subTest(fmt=fmt):
                first = self.generate(f"{fmt}-a.log", "42", fmt)
                self.assertEqual(first, self.generate(f"{fmt}-b.log", "42", fmt))
                self.assertNotEqual(first, self.generate(f"{fmt}-c.log", "43", fmt))

    def test_api_matches_console_script(self) -> None:
        generator = LogGenerator([50, 7], [20, 30], seed=42,
                                 start=datetime(2024, 5, 1, 10, tzinfo=timezone.utc))
        lines = [line for _, line in generator.timeline()]
        self.assertEqual(self.generate("cli.log", "42", run=run_script).decode().splitlines(), lines)

    def test_random_seed_is_kept(self) -> None:
        generator = LogGenerator([5], [10], start=START)
        again = LogGenerator([5], [10], start=START, seed=generator.seed)
        self.assertEqual(list(generator.timeline()), list(again.timeline()))


class AppendTest(TempDirTest):
    def test_append_by_default_truncate_on_request(self) -> None:
        args = ("--file", self.path, "--no-sleep", "--start", str(START), "--rates", "3", "--durations", "10")
        run_main(*args)
        run_main(*args)
        self.assertEqual(len(self.read_lines()), 60)
        run_main(*args, "--truncate")
        self.assertEqual(len(self.read_lines()), 30)

    def test_w3c_header_only_when_the_file_starts(self) -> None:
        generator = LogGenerator([3], [10], fmt="w3c", seed=1, start=START)
        generator.write(self.path, realtime=False)
        generator.write(self.path, realtime=False)
        self.assertEqual(sum(1 for line in self.read_lines() if line.startswith("#Fields")), 1)
        self.assertEqual(len(parse_all(self.read_lines(), "auto")), 60)
        generator.write(self.path, realtime=False, append=False)
        lines = self.read_lines()
        self.assertTrue(lines[0].startswith("#Software"))
        self.assertEqual(len(lines), 34)

    def test_standard_output(self) -> None:
        result = run_script("--file", "-", "--no-sleep", "--start", str(START), "--seed", "3",
                            "--rates", "4", "--durations", "10")
        self.assertEqual(result.returncode, 0, result.stderr)
        expected = [line for _, line in LogGenerator([4], [10], seed=3, start=START).timeline()]
        self.assertEqual(result.stdout.splitlines(), expected)


class RotationTest(TempDirTest):
    def rotated_files(self) -> List[str]:
        return sorted(os.listdir(self.directory))

    def test_rotation_keeps_every_line_in_order(self) -> None:
        # 1050 lines, rotated every 100: 10 full rotated files and 50 lines in the live one.
        for realtime in (False, True):
            with self.subTest(realtime=realtime):
                for name in os.listdir(self.directory):
                    os.remove(os.path.join(self.directory, name))
                generator = LogGenerator([2100 if realtime else 35], [0.5 if realtime else 30], seed=4, start=START)
                written = generator.write(self.path, realtime=realtime, rotate_every=100, keep=20)
                self.assertEqual(written, 1050)
                names = ["access.log"] + [f"access.log.{number}" for number in range(1, 11)]
                self.assertEqual(self.rotated_files(), sorted(names))
                self.assertEqual([len(self.read_lines(os.path.join(self.directory, name))) for name in names],
                                 [50] + [100] * 10)
                joined: List[str] = []
                for name in reversed(names):
                    joined += self.read_lines(os.path.join(self.directory, name))
                self.assertEqual(joined, [line for _, line in generator.timeline()])

    def test_rotation_drops_files_beyond_keep(self) -> None:
        result = run_main("--file", self.path, "--no-sleep", "--start", str(START), "--seed", "9",
                            "--rates", "10", "--durations", "100", "--rotate-every", "150", "--keep", "3")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.rotated_files(), ["access.log", "access.log.1", "access.log.2", "access.log.3"])
        expected = [line for _, line in LogGenerator([10], [100], seed=9, start=START).timeline()]
        kept = []
        for name in ("access.log.3", "access.log.2", "access.log.1", "access.log"):
            kept += self.read_lines(os.path.join(self.directory, name))
        self.assertEqual(kept, expected[-len(kept):])
        self.assertEqual(len(kept), 550)

    def test_each_rotated_w3c_file_has_a_header(self) -> None:
        generator = LogGenerator([10], [25], fmt="w3c", seed=2, start=START)
        generator.write(self.path, realtime=False, rotate_every=100)
        for name in ("access.log", "access.log.1", "access.log.2"):
            lines = self.read_lines(os.path.join(self.directory, name))
            self.assertTrue(lines[0].startswith("#Software"), name)
            self.assertEqual(len(parse_all(lines, "w3c")), 50 if name == "access.log" else 100)


class TimeZoneTest(TempDirTest):
    def generate(self, tz: str, start: str, seconds: int, fmt: str = "common") -> List[str]:
        if not os.path.exists(os.path.join("/usr/share/zoneinfo", tz)):
            self.skipTest(f"no time zone data for {tz}")
        result = run_script("--file", "-", "--no-sleep", "--start", start, "--format", fmt, "--rates", "1",
                            "--durations", str(seconds), "--seed", "1", env={"TZ": tz})
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.splitlines()

    def test_offset_of_the_local_time_zone(self) -> None:
        for tz, offset in (("Asia/Kolkata", "+0530"), ("America/St_Johns", "-0230"), ("UTC", "+0000")):
            with self.subTest(tz=tz):
                lines = self.generate(tz, "2024-05-01T12:00:00+00:00", 20)
                self.assertTrue(lines)
                self.assertTrue(all(f" {offset}] " in line for line in lines), lines[0])
                records = parse_all(lines, "common")
                self.assertTrue(all(START <= record.epoch < START + 20 for record in records))

    def test_naive_start_is_local_time(self) -> None:
        lines = self.generate("Asia/Kolkata", "2024-05-01 17:30:00", 10)
        self.assertTrue(all(START <= record.epoch < START + 10 for record in parse_all(lines, "common")))
        self.assertIn("[01/May/2024:17:30:0", lines[0])

    def test_offset_follows_daylight_saving_changes(self) -> None:
        # Paris moved from +0100 to +0200 at 2024-03-31 01:00:00 UTC.
        change = 1_711_846_800
        lines = self.generate("Europe/Paris", str(change - 60), 120)
        records = parse_all(lines, "common")
        self.assertEqual({record.time.utcoffset().total_seconds() for record in records if record.epoch < change}, {3600})
        self.assertEqual({record.time.utcoffset().total_seconds() for record in records if record.epoch >= change}, {7200})
        self.assertEqual([record.epoch for record in records], sorted(record.epoch for record in records))

    def test_w3c_times_are_utc(self) -> None:
        lines = self.generate("Asia/Kolkata", "2024-05-01T12:00:00+00:00", 5, fmt="w3c")
        self.assertEqual(lines[2], "#Date: " + lines[4][:19])  # when the first entry was written
        self.assertTrue(all(line.startswith("2024-05-01 12:00:0") for line in lines[4:]), lines)
        self.assertEqual(len(parse_all(lines, "auto")), 5)


class ProcessTest(TempDirTest):
    def test_torn_lines_reassemble_into_whole_lines(self) -> None:
        process = subprocess.Popen(
            script_command() + ["--file", "-", "--torn", "--no-sleep", "--start", str(START), "--seed", "6",
                                "--rates", "2", "--durations", "10", "--quiet"],
            stdout=subprocess.PIPE,
        )
        self.addCleanup(process.wait)
        self.addCleanup(process.kill)
        assert process.stdout is not None
        self.addCleanup(process.stdout.close)
        pending, lines, torn_reads = b"", [], 0
        while True:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            torn_reads += not chunk.endswith(b"\n")
            pending += chunk
            *complete, pending = pending.split(b"\n")
            lines += [line.decode() for line in complete]
        self.assertEqual(process.wait(timeout=30), 0)
        self.assertEqual(pending, b"")
        self.assertGreater(torn_reads, 0, "no read ever ended inside a line")
        self.assertEqual(lines, [line for _, line in LogGenerator([2], [10], seed=6, start=START).timeline()])

    def test_interrupt_and_terminate_exit_cleanly(self) -> None:
        for stop in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=stop.name):
                self.path = os.path.join(self.directory, f"{stop.name}.log")
                process = subprocess.Popen(
                    script_command() + ["--file", self.path, "--rates", "50", "--durations", "600"],
                    stderr=subprocess.PIPE, text=True,
                    preexec_fn=default_signals,
                )
                self.addCleanup(process.kill)
                wait_for(lambda: os.path.exists(self.path) and os.path.getsize(self.path) > 0, "a first line")
                process.send_signal(stop)
                _, stderr = process.communicate(timeout=20)
                self.assertEqual(process.returncode, 0, stderr)
                self.assertNotIn("Traceback", stderr)
                with open(self.path, "rb") as log:
                    content = log.read()
                self.assertTrue(content.endswith(b"\n"))
                self.assertEqual(len(parse_all(content.decode().splitlines(), "combined")), content.count(b"\n"))


if __name__ == "__main__":
    unittest.main()
