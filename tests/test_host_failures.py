"""Ways a host can hurt a monitor following live logs, one test each: a stalled process, a stepped
host clock, a log clock stepped back, a backlog of hours read at once.

Each runs the real ``monitoring`` (or the real :func:`monilog.run.follow`) on a file a writer in
the test appends to, and checks what a user would see.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone
from typing import Dict, List
from unittest import mock

from monilog.monitor import Monitor
from monilog.run import HostClock, follow
from tests.support import Recorder, script, wait_for


def stamped(moment: float, path: str = "/api/x") -> str:
    when = datetime.fromtimestamp(moment, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'10.0.0.1 - - [{when}] "GET {path} HTTP/1.1" 200 512\n'


class Writer(threading.Thread):
    """Appends ``rate`` lines a second, stamped with the host's time, until stopped."""

    def __init__(self, path: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.path, self.rate = path, rate
        self.done = threading.Event()
        self.written = 0

    def run(self) -> None:
        with open(self.path, "a", encoding="utf-8") as stream:
            while not self.done.wait(0.1):
                stream.write("".join(stamped(time.time()) for _ in range(self.rate // 10)))
                stream.flush()
                self.written += self.rate // 10

    def stop(self) -> None:
        self.done.set()
        self.join(5)


class StallTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-host-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.path = os.path.join(self.dir, "access.log")
        open(self.path, "w").close()

    def test_a_stopped_process_reads_its_backlog_in_log_time_no_false_recovery(self) -> None:
        writer = Writer(self.path, rate=30)
        process = subprocess.Popen(
            [script("monitoring"), "--json", "--no-log-file", "--from-start", "--threshold", "10", "--window", "2", "--period", "1",
             self.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.dir,
            stdin=subprocess.DEVNULL,
        )
        self.addCleanup(process.kill)
        objects: List[Dict] = []
        reader = threading.Thread(target=lambda: objects.extend(json.loads(line) for line in process.stdout),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()
        writer.start()
        self.addCleanup(writer.stop)
        wait_for(lambda: any(o["type"] == "alert" for o in objects), "the alert", deadline=30)
        process.send_signal(signal.SIGSTOP)
        paused = time.time()
        time.sleep(4)  # the stall itself: longer than the window, so a clock moved by the host alone recovers
        process.send_signal(signal.SIGCONT)
        wait_for(lambda: any(o["type"] == "report" and datetime.fromisoformat(o["start"]).timestamp() > paused + 5
                             for o in objects), "a report after the stall", deadline=30)
        writer.stop()
        stopped = time.time()
        process.send_signal(signal.SIGINT)
        process.wait(30)
        reader.join(10)
        self.assertEqual(process.returncode, 0, process.stderr.read())  # type: ignore[union-attr]
        summary = objects[-1]
        self.assertEqual(summary["type"], "summary")
        events = [(o["type"], datetime.fromisoformat(o["time"]).timestamp()) for o in objects if o["type"] in ("alert", "recover")]
        self.assertEqual([kind for kind, when in events if when < stopped - 1], ["alert"], events)
        self.assertEqual(sum(o["late"] for o in objects if o["type"] == "report"), 0)
        self.assertEqual(summary["parsed"], writer.written, summary)


class FastClock(HostClock):
    """Host time running ``speed`` times faster than the monotonic clock (the watcher's)."""

    def __init__(self, epoch: float, speed: float) -> None:
        super().__init__()
        self.epoch, self.speed, self.start = epoch, speed, time.monotonic()

    def now(self) -> float:
        return self.at(time.monotonic())

    def at(self, monotonic: float) -> float:
        return self.epoch + (monotonic - self.start) * self.speed


class SteppingWriter(threading.Thread):
    """Appends ``rate`` lines each second of ``clock``'s host time, stamped with it plus ``shift``."""

    def __init__(self, path: str, rate: int, clock: FastClock) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.clock = path, rate, clock
        self.shift = 0
        self.done = threading.Event()
        self.written = 0

    def run(self) -> None:
        second = int(self.clock.now())
        with open(self.path, "a", encoding="utf-8") as stream:
            while not self.done.wait(0.01):
                while second < int(self.clock.now()):
                    stream.write(stamped(second + self.shift) * self.rate)
                    self.written += self.rate
                    second += 1
                stream.flush()

    def stop(self) -> None:
        self.done.set()
        self.join(5)


class LogClockStepTest(unittest.TestCase):
    def test_a_log_clock_stepped_back_an_hour_is_followed_again_within_a_minute(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-step-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        open(path, "w").close()
        clock = FastClock(1_700_000_000.0, speed=10.0)  # a minute of host time in 6 s
        recorder = Recorder()
        monitor = Monitor(threshold=5, window=20, period=5, sinks=[recorder])
        stop = threading.Event()
        summaries = []
        thread = threading.Thread(target=lambda: summaries.append(
            follow(monitor, [path], from_start=True, stop=stop, poll_interval=0.02, clock=clock)), daemon=True)
        thread.start()
        writer = SteppingWriter(path, rate=10, clock=clock)
        writer.start()
        self.addCleanup(writer.stop)
        self.addCleanup(stop.set)
        wait_for(lambda: recorder.events, "the alert", deadline=30)
        writer.shift = -3600  # the backend's clock is corrected by an hour
        stepped = clock.now()
        notice = wait_for(lambda: [m for kind, m in list(recorder.items) if kind == "notice" and "stepped back" in m],
                          "the step-back notice", deadline=30)
        rebased = clock.now()
        self.assertLessEqual(rebased - stepped, 60, notice)
        self.assertIn("stepped back by 1h00m", notice[0])
        wait_for(lambda: clock.now() > rebased + 40, "40 s of host time after the step", deadline=30)
        state = monitor.alert_state()
        self.assertTrue(state.alerting, state)
        self.assertGreater(state.average, 5, "the alert window follows the log's new time")
        writer.stop()
        wait_for(lambda: monitor.parsed >= writer.written, "every line read", deadline=30)
        stop.set()
        thread.join(30)
        summary = summaries[0]
        self.assertEqual(summary.parsed, writer.written)
        self.assertEqual([event.kind for event in recorder.events], ["alert"], "one alert for the episode")
        reports = recorder.reports
        after = [r for r in reports if r.stats.start is not None and r.stats.start.timestamp() < stepped - 1800]
        self.assertTrue(after, "reports go on in the log's new time")
        self.assertEqual(sum(r.stats.late for r in after), 0)
        self.assertLessEqual(sum(r.stats.late for r in reports), 10 * 60, "lines are late only while the rule decides")
        self.assertLessEqual(sum(1 for r in reports if not r.stats.hits), 3, "at most a few zero-hit reports")


class BacklogTest(unittest.TestCase):
    def test_a_slow_log_read_from_its_start_then_waking_up_loses_no_line(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-backlog-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "access.log")
        clock = FastClock(1_700_000_000.0, speed=10.0)
        # a day of a slow log, a line every 15 s, the last one two hours old: each read spans hours
        first = int(clock.now()) - 86_400 - 7200
        old = [stamped(first + 15 * number, f"/p{number % 50}/x") for number in range(86_400 // 15)]
        with open(path, "w", encoding="utf-8") as stream:
            stream.writelines(old)
        recorder = Recorder()
        monitor = Monitor(threshold=5, window=20, period=5, sinks=[recorder])
        stop = threading.Event()
        self.addCleanup(stop.set)
        summaries = []
        # reads of 64 KiB; an hour to be fresh in, so that a loaded machine stalling the watcher
        # cannot make the appended lines a backlog
        with mock.patch("monilog.watcher.follower.READ_BLOCK", 64 << 10), \
                mock.patch("monilog.watcher.follower.FRESH_SECONDS", 3600.0):
            thread = threading.Thread(target=lambda: summaries.append(
                follow(monitor, [path], from_start=True, stop=stop, poll_interval=0.02, clock=clock)), daemon=True)
            thread.start()
            wait_for(lambda: monitor.parsed == len(old), "the backlog read")

            def append(*lines: str) -> None:
                with open(path, "a", encoding="utf-8") as stream:
                    stream.writelines(lines)
                read = monitor.lines + len(lines)
                wait_for(lambda: monitor.lines == read, "the lines read")
                reports = len(recorder.reports)
                wait_for(lambda: len(recorder.reports) >= reports + 2, "two reports more: the clock moves with the host")

            woke = int(clock.now())
            append(stamped(woke))  # the site wakes up: a lone line, held while the host clock moves
            append(stamped(woke + 5))
            append(*[stamped(woke + 86_400)] * 5)  # a backend a day ahead, once lines came as written
            stop.set()
            thread.join(30)
        summary = summaries[0]
        counts = (summary.parsed, summary.late_hits, summary.outlier_hits, monitor.clock.refused)
        self.assertEqual(counts, (len(old) + 7, 0, 5, 5), "parsed, late, outliers, refused")


class HostClockTest(unittest.TestCase):
    def test_a_stepped_wall_clock_does_not_move_the_host_time(self) -> None:
        wall, mono = [1_700_000_000.0], [50.0]
        clock = HostClock(wall=lambda: wall[0], monotonic=lambda: mono[0])
        wall[0] += 3600  # NTP steps the host's clock an hour forward
        mono[0] += 1.5
        self.assertEqual(clock.now(), 1_700_000_001.5)
        self.assertEqual(clock.at(60.0), 1_700_000_010.0)


if __name__ == "__main__":
    unittest.main()
