"""Replay and follow drivers around a Monitor, on real files."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import unittest
from datetime import datetime, timezone
from typing import Callable, List

from monilog.accumulation.report import PeriodReport, RunSummary
from monilog.monitor import Monitor
from monilog.outputs.sink import Sink
from monilog.parsing.w3c import last_fields_directive
from monilog.replayer import replay
from monilog.run import follow

W3C_HEADER = (
    "#Software: Microsoft Internet Information Services 10.0\n"
    "#Version: 1.0\n"
    "#Date: 2024-05-01 00:00:00\n"
    "#Fields: date time c-ip cs-method cs-uri-stem sc-status\n"
)


class Reports(Sink):
    def __init__(self) -> None:
        self.reports: List[PeriodReport] = []

    def report(self, report: PeriodReport) -> None:
        self.reports.append(report)


def poll(condition: Callable[[], bool], deadline: float = 20.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class RunTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-run-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def path(self, name: str, content: str) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)
        return path

    def test_last_fields_directive_is_found_from_the_end(self) -> None:
        body = "".join(f"2024-05-01 00:00:{i % 60:02d} 10.0.0.1 GET /a/{i} 200\n" for i in range(20_000))
        path = self.path("u_ex.log", W3C_HEADER + body + "#Fields: date time cs-method sc-status\n" + body[:200])
        with open(path, "rb") as handle:
            self.assertEqual(last_fields_directive(handle), b"#Fields: date time cs-method sc-status")
        with open(self.path("plain.log", body), "rb") as handle:
            self.assertIsNone(last_fields_directive(handle))

    def test_following_a_w3c_log_from_its_end_knows_its_fields(self) -> None:
        path = self.path("u_ex.log", W3C_HEADER + "2024-05-01 00:00:01 10.0.0.1 GET /old/x 200\n")
        self.follow_w3c(path, path)

    def test_following_w3c_logs_through_a_glob_knows_their_fields(self) -> None:
        path = self.path("u_ex1.log", W3C_HEADER + "2024-05-01 00:00:01 10.0.0.1 GET /old/x 200\n")
        self.follow_w3c(os.path.join(self.dir, "u_ex*.log"), path)

    def follow_w3c(self, spec: str, path: str) -> None:
        """Follow ``spec`` from its end, append a data line to ``path``: it must parse."""
        monitor = Monitor(threshold=100, window=10, period=10)
        stop = threading.Event()
        result: List[RunSummary] = []
        thread = threading.Thread(target=lambda: result.append(follow(monitor, [spec], stop=stop, poll_interval=0.05)))
        thread.start()
        self.addCleanup(thread.join, 30)
        self.addCleanup(stop.set)

        def append_until_parsed() -> bool:
            # the watcher starts at the end of the file: append until a line gets through
            now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"{now} 10.0.0.2 GET /new/y 404\n")
            return poll(lambda: monitor.parsed >= 1, deadline=0.5)

        self.assertTrue(poll(append_until_parsed, deadline=30))
        stop.set()
        thread.join(30)
        summary = result[0]
        self.assertGreaterEqual(summary.parsed, 1)
        self.assertEqual(summary.stats.skipped_total, 0)
        self.assertEqual(list(summary.stats.sections), ["/new"])

    def test_replay_merges_files_and_counts_skips(self) -> None:
        first = self.path("a.log", '1.1.1.1 - - [01/May/2024:12:00:00 +0000] "GET /a HTTP/1.1" 200 1\n' * 3)
        second = self.path("b.log", 'junk\n1.1.1.1 - - [01/May/2024:12:00:05 +0000] "GET /b HTTP/1.1" 200 1\n')
        sink = Reports()
        summary = replay(Monitor(threshold=100, window=10, period=10, sinks=[sink]), [second, first])
        self.assertEqual(summary.parsed, 4)
        self.assertEqual(summary.lines, 5)
        self.assertEqual(dict(summary.stats.skipped), {"malformed": 1})
        self.assertEqual([r.stats.hits for r in sink.reports], [4])
        self.assertEqual(sink.reports[0].stats.late, 0)


if __name__ == "__main__":
    unittest.main()
