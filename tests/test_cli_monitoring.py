"""End to end: the installed ``monitoring`` console script in a subprocess, on real files."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Sequence
from unittest import mock

from monilog import LogGenerator
from monilog.cli.monitoring import main as monitoring_main
from monilog.outputs.alertfile import AlertFileSink
from monilog.outputs.execute import ExecSink
from monilog.outputs.runlog import RunLogSink
from monilog.outputs.sink import Sink, close_all
from tests import support
from tests.support import line, script

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=-7)))


def timeline(rates: Sequence[int]) -> List[str]:
    """Lines with ``rates[i]`` hits in second i after T0 (a -07:00 log)."""
    return support.timeline(rates, start=T0)


class Run(unittest.TestCase):
    """Shared helpers: a temp dir, and running the script."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-test-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def write(self, name: str, lines: Sequence[str], mode: str = "w") -> str:
        path = os.path.join(self.dir, name)
        with open(path, mode, encoding="utf-8", newline="") as handle:
            handle.writelines(lines)
        return path

    def monitoring(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [script("monitoring"), *args], capture_output=True, text=True, timeout=timeout,
            cwd=self.dir, stdin=subprocess.DEVNULL,
        )


class ReplayTest(Run):
    def replay_json(self, *args: str) -> List[Dict]:
        result = self.monitoring("--replay", "--json", "--no-log-file", *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return [json.loads(line) for line in result.stdout.splitlines()]

    def test_lateness_counts_out_of_order_lines_in_their_own_periods(self) -> None:
        lines = timeline(support.ALERT_TIMELINE)
        # reversed in blocks of 15 lines: at most 15 s behind the newest line (the rate is 1/s or more)
        shuffled = [line for index in range(0, len(lines), 15) for line in reversed(lines[index:index + 15])]
        sorted_run = self.replay_json("--threshold", "2", "--window", "10", self.write("sorted.log", lines))
        late_run = self.replay_json("--threshold", "2", "--window", "10", "--lateness", "20",
                                    self.write("shuffled.log", shuffled))
        plain_run = self.replay_json("--threshold", "2", "--window", "10", self.write("again.log", shuffled))
        self.assertGreater(sum(o["late"] for o in plain_run if o["type"] == "report"), 0)
        for run in (sorted_run, late_run):
            self.assertEqual(sum(o["late"] for o in run if o["type"] == "report"), 0)
        events = [[(o["type"], o["time"]) for o in run if o["type"] in ("alert", "recover")] for run in (sorted_run, late_run)]
        self.assertEqual(events[1], events[0])
        self.assertEqual([o["hits"] for o in late_run if o["type"] == "report"],
                         [o["hits"] for o in sorted_run if o["type"] == "report"])
        self.assertTrue(all(o["lateness"] == 20 for o in late_run if o["type"] == "report"))
        self.assertNotIn("lateness", sorted_run[0])
        text = self.monitoring("--replay", "--plain", "--no-log-file", "--lateness", "20", os.path.join(self.dir, "shuffled.log"))
        self.assertIn("lateness 20s (alerts 20s later)", text.stdout)
        refused = self.monitoring("--replay", "--lateness", "-1", os.path.join(self.dir, "shuffled.log"))
        self.assertEqual((refused.returncode, refused.stderr.count("\n")), (2, 1), refused.stderr)

    def test_known_timeline_reports_and_alert_times(self) -> None:
        # 3 hits/s for 30 s, then 1/s for 40 s: with threshold 2 over a 10 s window the alert
        # comes at T0+7 (window [T0-3, T0+6]: 21 hits > 20) and the recovery at T0+35 (window
        # [T0+25, T0+34]: 5*3 + 5*1 = 20 hits, not above 20), each at its exact second.
        path = self.write("access.log", timeline([3] * 30 + [1] * 40))
        objects = self.replay_json("--threshold", "2", "--window", "10", "--period", "10", path)
        reports = [o for o in objects if o["type"] == "report"]
        events = [o for o in objects if o["type"] in ("alert", "recover")]
        self.assertEqual([r["hits"] for r in reports], [30, 30, 30, 10, 10, 10, 10])
        self.assertEqual([(e["type"], e["time"]) for e in events], [
            ("alert", (T0 + timedelta(seconds=7)).isoformat()),
            ("recover", (T0 + timedelta(seconds=35)).isoformat()),
        ])
        self.assertEqual([e["hits"] for e in events], [21, 20])
        self.assertEqual(
            events[0]["message"],
            "High traffic generated an alert - hits = 21, triggered at 2024-05-01 12:00:07 -0700",
        )
        self.assertEqual(reports[0]["start"], T0.isoformat())
        self.assertEqual(reports[0]["sections"][0]["section"], "/pages")
        summary = objects[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["parsed"], 130)
        self.assertEqual(sum(r["hits"] for r in reports), summary["parsed"])
        self.assertEqual([a["type"] for a in summary["alerts"]], ["alert", "recover"])

    def test_several_files_merge_in_time_order(self) -> None:
        # two servers, each at 1.5 hits/s on average: alone neither crosses 2/s, together they do
        first = self.write("a.log", [line(T0 + timedelta(seconds=i)) for i in range(0, 40) for _ in range(1 + i % 2)])
        second = self.write("b.log", [line(T0 + timedelta(seconds=i)) for i in range(0, 40) for _ in range(2 - i % 2)])
        alone = self.replay_json("--threshold", "2", "--window", "10", first)
        self.assertEqual([o["type"] for o in alone if o["type"] in ("alert", "recover")], [])
        together = self.replay_json("--threshold", "2", "--window", "10", first, second)
        self.assertEqual([o["type"] for o in together if o["type"] in ("alert", "recover")], ["alert"])
        self.assertEqual(together[-1]["parsed"], 120)
        reports = [o for o in together if o["type"] == "report"]
        self.assertEqual([r["hits"] for r in reports], [30, 30, 30, 30])
        self.assertTrue(all(r["late"] == 0 for r in reports))

    def test_malformed_lines_and_escape_sequences(self) -> None:
        lines = timeline([1] * 12)
        lines.insert(3, "this is not a log line\n")
        lines.insert(5, '1.2.3.4 - - [31/Feb/2024:12:00:03 -0700] "GET / HTTP/1.1" 200 1\n')
        lines.insert(7, line(T0 + timedelta(seconds=5), path="/\x1b[2J\x1b]0;pwned\x07evil/x", user="bob"))
        path = self.write("access.log", lines)
        result = self.monitoring("--replay", "--plain", "--no-log-file", "--top", "10", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotIn("\x1b", result.stdout)
        self.assertNotIn("\x07", result.stdout)
        self.assertIn("malformed", result.stdout)
        self.assertIn("bad timestamp", result.stdout)
        self.assertIn("evil", result.stdout)  # shown, but defused
        self.assertNotIn("Traceback", result.stderr)
        summary = self.replay_json(path)[-1]
        self.assertEqual(summary["parsed"], 13)
        self.assertEqual(summary["malformed"], 2)

    def test_run_log_is_written_with_a_safe_name(self) -> None:
        path = self.write("access.log", timeline([3] * 30))
        logs = os.path.join(self.dir, "logs")
        result = self.monitoring("--replay", "--plain", "--threshold", "2", "--window", "10", "--log-dir", logs, path)
        self.assertEqual(result.returncode, 0, result.stderr)
        names = os.listdir(logs)
        self.assertEqual(len(names), 1)
        self.assertNotIn(":", names[0])
        self.assertTrue(names[0].startswith("monilog-") and names[0].endswith(".log"))
        with open(os.path.join(logs, names[0]), encoding="utf-8") as handle:
            content = handle.read()
        self.assertIn("High traffic generated an alert - hits = 21", content)
        self.assertIn("/pages", content)

    def test_each_file_is_replayed_once_and_compressed_rotations_too(self) -> None:
        path = self.write("access.log", timeline([2] * 5))
        os.symlink(path, os.path.join(self.dir, "access.log.link"))
        with gzip.open(os.path.join(self.dir, "access.log.1.gz"), "wt", encoding="utf-8") as handle:
            handle.writelines(timeline([1] * 3))
        result = self.monitoring("--replay", "--json", "--no-log-file", path, path, os.path.join(self.dir, "access.log*"))
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = json.loads(result.stdout.splitlines()[-1])
        self.assertEqual((summary["parsed"], summary["malformed"], summary["notices"]), (13, 0, {}))

    def test_bell_never_mixes_into_json(self) -> None:
        path = self.write("access.log", timeline([3] * 30))
        result = self.monitoring("--replay", "--json", "--bell", "--no-log-file", "--threshold", "2", "--window", "10", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        objects = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertIn("alert", [o["type"] for o in objects])
        self.assertEqual(result.stderr, "\a")

    def test_no_log_file_writes_nothing(self) -> None:
        path = self.write("access.log", timeline([1] * 5))
        result = self.monitoring("--replay", "--plain", "--no-log-file", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["access.log"])


class FullDiskRunLog(RunLogSink):
    """A run log on a full disk: it writes to /dev/full, where every write fails with ENOSPC."""

    def __init__(self, directory: str, top: int = 5) -> None:
        super().__init__(directory, top)
        self.stream.close()
        self.stream = open("/dev/full", "w", encoding="utf-8", buffering=1)


class ClosingTest(Run):
    def test_every_sink_is_closed_whatever_another_raises(self) -> None:
        class Full(Sink):
            def close(self) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        class Closed(Sink):
            closed = False

            def close(self) -> None:
                self.closed = True

        problems, later = support.Problems(), Closed()
        close_all([Full(), later, Full()], problems)
        self.assertTrue(later.closed)
        self.assertEqual(problems.lines, ["output Full failed to close: OSError: [Errno 28] No space left on device"] * 2)

    @unittest.skipUnless(os.path.exists("/dev/full"), "needs /dev/full")
    def test_a_run_log_on_a_full_disk_costs_a_line_not_the_run_nor_the_other_outputs(self) -> None:
        path = self.write("access.log", timeline([3] * 30 + [1] * 40))
        stdout, stderr = io.StringIO(), io.StringIO()
        with mock.patch("monilog.outputs.runlog.RunLogSink", FullDiskRunLog), \
                mock.patch.object(ExecSink, "close", autospec=True, side_effect=ExecSink.close) as exec_closed, \
                contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = monitoring_main(["--replay", "--json", "-t", "2", "-w", "10", "--log-dir", self.dir,
                                      "--exec", "true", path])
        self.assertEqual(status, 0, stderr.getvalue())
        problems = stderr.getvalue().splitlines()
        self.assertTrue(all(problem.startswith("monilog: ") for problem in problems), problems)  # no error exit
        self.assertEqual(len([p for p in problems if "failed to close" in p and "No space left on device" in p]), 1,
                         problems)
        exec_closed.assert_called_once()  # closed after the run log failed to: its worker and process stopped
        self.assertEqual(json.loads(stdout.getvalue().splitlines()[-1])["type"], "summary")

    def test_ctrl_c_while_closing_still_closes_every_output_and_exits_0(self) -> None:
        path = self.write("access.log", timeline([3] * 30))

        def interrupted_close(sink: AlertFileSink) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C again while monitoring ends
            original_close(sink)

        original_close = AlertFileSink.close
        with mock.patch.object(AlertFileSink, "close", autospec=True, side_effect=interrupted_close), \
                mock.patch.object(ExecSink, "close", autospec=True, side_effect=ExecSink.close) as exec_closed, \
                contextlib.redirect_stdout(io.StringIO()):
            status = monitoring_main(["--replay", "--json", "--no-log-file", "-t", "2", "-w", "10", "--alert-file",
                                      os.path.join(self.dir, "alerts.jsonl"), "--exec", "true", path])
        self.assertEqual(status, 0)
        exec_closed.assert_called_once()  # the output after the interrupted one


class ReplaySignalTest(Run):
    def test_sigterm_mid_replay_ends_with_a_consistent_summary(self) -> None:
        path = os.path.join(self.dir, "big.log")
        # 200,000 lines: the signal usually comes mid-way; either way the summary must add up
        total = LogGenerator([2000], [100], seed=4, start=T0).write(path, realtime=False)
        process = subprocess.Popen(
            [script("monitoring"), "--replay", "--json", "--no-log-file", path], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=self.dir, stdin=subprocess.DEVNULL, bufsize=0,
        )
        # unbuffered, so that readline takes no more than the first line (communicate reads the rest)
        first = process.stdout.readline().decode()  # type: ignore[union-attr]
        process.send_signal(signal.SIGTERM)
        output, error_bytes = process.communicate(timeout=120)
        rest, errors = output.decode(), error_bytes.decode()
        self.assertEqual(process.returncode, 0, errors)
        self.assertNotIn("Traceback", errors)
        objects = [json.loads(text) for text in (first + rest).splitlines()]
        summary = objects[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(sum(o["hits"] for o in objects if o["type"] == "report"), summary["parsed"])
        self.assertLessEqual(summary["parsed"], total)
        self.assertEqual(summary["lines"], summary["parsed"] + sum(summary["skipped"].values()), "lines add up")


class ArgumentTest(Run):
    def assert_usage_error(self, *args: str, mentions: str) -> None:
        """``monitoring ARGS`` through its ``main`` in this process (the console script is
        ``sys.exit(main())``; starting an interpreter per case cost seconds): one line, exit 2.
        ``--max-idle`` and ``--no-log-file`` are added so that a case wrongly accepted ends at once."""
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = monitoring_main([*args, "--max-idle", "0.1", "--no-log-file"])
        self.assertEqual(status, 2, (args, stdout.getvalue(), stderr.getvalue()))
        lines = stderr.getvalue().strip().splitlines()
        self.assertEqual(len(lines), 1, stderr.getvalue())
        self.assertIn(mentions, lines[0])
        self.assertNotIn("Traceback", stderr.getvalue())

    def test_bad_arguments(self) -> None:
        log = self.write("access.log", [])
        self.assert_usage_error("--threshold", "0", log, mentions="threshold")
        self.assert_usage_error("--threshold", "-3", log, mentions="threshold")
        self.assert_usage_error("--threshold", "ten", log, mentions="threshold")
        self.assert_usage_error("--window", "0", log, mentions="window")
        self.assert_usage_error("--window", "1.5", log, mentions="window")
        self.assert_usage_error("--period", "-1", log, mentions="period")
        self.assert_usage_error("--frobnicate", log, mentions="--frobnicate")
        self.assert_usage_error("--format", "xml", log, mentions="format")
        self.assert_usage_error("--json", "--plain", log, mentions="--plain")

    def test_unreadable_inputs(self) -> None:
        self.assert_usage_error("--replay", os.path.join(self.dir, "missing.log"), mentions="missing.log")
        self.assert_usage_error(self.dir, mentions="directory")
        self.assert_usage_error("--window", str(8 * 24 * 3600), mentions="window")

    def test_permission_denied(self) -> None:
        locked = self.write("locked.log", [])
        os.chmod(locked, 0)
        expected = f"monitoring: error: cannot read {locked}: Permission denied (see monitoring --help)"
        if os.geteuid() != 0:
            result = self.monitoring(locked)
            self.assertEqual((result.returncode, result.stderr.strip()), (2, expected))
            return
        # root reads anything: make the kernel's answer what a normal user would get
        stderr = io.StringIO()
        denied = OSError(errno.EACCES, os.strerror(errno.EACCES), locked)
        with mock.patch("builtins.open", side_effect=denied), contextlib.redirect_stderr(stderr):
            status = monitoring_main([locked, "--no-log-file"])
        self.assertEqual((status, stderr.getvalue().strip()), (2, expected))


class ClosedPipeTest(Run):
    def test_following_into_head_goes_on_and_the_run_log_keeps_everything(self) -> None:
        path = self.write("access.log", timeline([3] * 100))  # 300 lines over 100 s of log time
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        # `monitoring ... 2>&1 | head -1`: standard output and standard error close after one line
        done = subprocess.run(
            f"'{script('monitoring')}' --plain --from-start --max-idle 2 --log-dir '{logs}' '{path}' 2>&1 | head -1",
            shell=True, capture_output=True, text=True, timeout=120, cwd=self.dir, stdin=subprocess.DEVNULL,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(done.stdout.splitlines()), 1)
        (run_log,) = os.listdir(logs)
        with open(os.path.join(logs, run_log), encoding="utf-8") as stream:
            content = stream.read()
        self.assertIn("lines   300 read, 300 parsed", content)
        self.assertIn("output TextSink failed and is turned off", content)


class FollowTest(Run):
    """Follow mode against a live writer: alert, then recovery in silence, then SIGINT."""

    def start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [script("monitoring"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=self.dir, stdin=subprocess.DEVNULL,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: List[str] = []
        reader = threading.Thread(target=lambda: [self.lines.put(line) for line in process.stdout], daemon=True)  # type: ignore[union-attr]
        reader.start()

        def cleanup() -> None:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
            reader.join(timeout=10)
            process.stdout.close()  # type: ignore[union-attr]
            process.stderr.close()  # type: ignore[union-attr]

        self.addCleanup(cleanup)
        return process

    def wait_for(self, text: str, deadline: float = 60.0) -> str:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        self.fail(f"{text!r} did not appear within {deadline} s; output so far:\n{''.join(self.seen)}")

    def test_alert_then_recovery_then_sigint_summary(self) -> None:
        path = self.write("access.log", [])
        process = self.start("--plain", "--no-log-file", "--threshold", "2", "--window", "2", "--period", "2", path)
        stop_writing = threading.Event()

        def writer() -> None:
            with open(path, "a", encoding="utf-8") as handle:
                while not stop_writing.is_set():
                    now = datetime.now(timezone.utc).astimezone()
                    handle.write("".join(line(now) for _ in range(5)))
                    handle.flush()
                    stop_writing.wait(0.25)

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(stop_writing.set)
        alert = self.wait_for("High traffic generated an alert - hits = ")
        stop_writing.set()
        thread.join(10)
        self.wait_for("recovered at")
        self.assertNotIn("\x1b[", "".join(self.seen))  # not a terminal: plain text
        process.send_signal(signal.SIGINT)
        self.assertEqual(process.wait(timeout=30), 0)
        self.wait_for("monilog summary", deadline=10)
        rest = "".join(self.seen)
        self.assertIn(alert.strip(), rest)
        self.assertNotIn("Traceback", process.stderr.read())  # type: ignore[union-attr]

    def test_standard_input_ends_with_a_summary(self) -> None:
        now = datetime.now(timezone.utc).astimezone()
        result = subprocess.run(
            [script("monitoring"), "-", "--plain", "--no-log-file"],
            input="".join(line(now) for _ in range(7)) + "garbage\n", capture_output=True, text=True,
            timeout=60, cwd=self.dir,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("8 read, 7 parsed, 1 skipped", result.stdout)

    def test_a_named_pipe_path_is_followed_without_hanging(self) -> None:
        fifo = os.path.join(self.dir, "access.fifo")
        os.mkfifo(fifo)
        process = self.start("--plain", "--no-log-file", "--max-idle", "1", fifo)
        with open(fifo, "w", encoding="utf-8") as writer:  # blocks until monitoring opens the pipe
            writer.write("".join(line(datetime.now(timezone.utc).astimezone()) for _ in range(4)))
        self.assertEqual(process.wait(timeout=60), 0)
        self.wait_for("4 read, 4 parsed", deadline=10)

    def test_max_idle_stops_with_a_summary(self) -> None:
        path = self.write("access.log", timeline([1] * 3))
        process = self.start("--plain", "--no-log-file", "--from-start", "--max-idle", "1", path)
        self.assertEqual(process.wait(timeout=60), 0)
        self.wait_for("monilog summary", deadline=10)
        self.wait_for("3 read, 3 parsed", deadline=10)


if __name__ == "__main__":
    unittest.main()
