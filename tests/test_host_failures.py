"""Ways a host can hurt a monitor following live logs, one test each: a stalled process, a stepped
host clock.

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

from monilog.run import HostClock
from tests.support import script, wait_for


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
