"""The error rule and the status classes: their boundaries, and their one home."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Dict

import monilog
from monilog.accumulation.status import ERROR_CODES, error_hits, is_error, is_server_error, status_class


class ErrorRuleTest(unittest.TestCase):
    def test_errors_are_4xx_and_5xx(self) -> None:
        self.assertEqual([code for code in (0, 99, 200, 399, 400, 404, 499, 500, 599, 600, 999, 1000) if is_error(code)],
                         [400, 404, 499, 500, 599])

    def test_server_errors_are_5xx(self) -> None:
        self.assertEqual([code for code in (200, 404, 499, 500, 503, 599, 600) if is_server_error(code)], [500, 503, 599])

    def test_the_error_codes_are_the_rule_s(self) -> None:
        self.assertEqual(ERROR_CODES, frozenset(code for code in range(100_000) if is_error(code)))

    def test_error_hits_keep_the_hits_of_error_rows_only(self) -> None:
        self.assertEqual(error_hits([3, 5, 7, 11], [200, 404, 503, 0]), [0, 5, 7, 0])

    def test_status_classes(self) -> None:
        self.assertEqual([status_class(code) for code in (0, 100, 299, 404, 599, 600)],
                         ["other", "1xx", "2xx", "4xx", "5xx", "other"])


RUN = r"""
import io, json, sys
from monilog.accumulation.rules import parse_rule
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from monilog.replayer import ReplayTuning, replay

path, fmt = sys.argv[1], sys.argv[2]
outputs = []
for way in ("live", "replay"):
    found = {}
    for rules in ([], [parse_rule("errors > 50% over 30s")]):  # with rules, a block's counters are not cut
        output = io.StringIO()
        monitor = Monitor(10, 120, 10, fmt=fmt, sinks=[JsonSink(output, top=100)], rules=rules)
        if way == "live":
            with open(path, "rb") as stream:
                lines = stream.read().splitlines()
            for start in range(0, len(lines), 4_999):  # blocks with more sections than a period keeps
                monitor.feed(path, lines[start:start + 4_999])
            monitor.finish()
        else:
            replay(monitor, [path], tuning=ReplayTuning(workers=2, in_process_bytes=0, chunk_bytes=400_000,
                                                       min_chunk_bytes=400_000))
        objects = [json.loads(line) for line in output.getvalue().splitlines()]
        reports, summary = [item for item in objects if item["type"] == "report"], objects[-1]
        if rules:
            found["rule_values"] = [report["rules"][0]["value"] for report in reports]
            found["rule_alerts"] = sum(report["rules"][0]["alerting"] != [] for report in reports)
        else:
            found["errors"] = summary["errors"]
            found["report_errors"] = [report["errors"] for report in reports]
            found["sections"] = sorted((entry["section"], entry["hits"], entry["errors"]) for entry in summary["sections"])
            found["vhosts"] = sorted((entry["vhost"], entry["errors"]) for entry in summary.get("vhosts", []))
    outputs.append(found)
print(json.dumps(outputs))
"""

RULE = "return 400 <= code <= 599"
"""The error rule's source in ``status.py``: 4xx and 5xx."""
SERVER_ERRORS_ONLY = "return 500 <= code <= 599"
"""What the test turns it into: 5xx only."""
STATUSES = (200, 404, 503, 302, 500, 499)
"""A line's status cycles through these: 4 in 6 are 4xx/5xx, 2 in 6 are 5xx."""
SECTIONS = 1_302
"""Distinct sections, more than a period's counters keep (so the cut's overflow carries errors too);
a multiple of 6, so that each section has one status."""
LINES_PER_SECOND = 150


class OneHomeTest(unittest.TestCase):
    """Changing the error rule's source in ``status.py`` changes every error count: a report's, a
    section's, a virtual host's, the counters' cut and an ``errors`` alert rule's, live and replay,
    with and without the C speedups, for a compiled format (``vhost_combined``) and for the
    block parser's (Combined, which the C accelerator counts in one pass)."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.log = os.path.join(self.directory, "access.log")
        lines = [f'site{index % 3}.example:80 10.0.{index % 251}.{index % 7} - - '
                 f'[01/May/2024:10:{index // LINES_PER_SECOND // 60:02d}:{index // LINES_PER_SECOND % 60:02d} +0000] '
                 f'"GET /s{index % SECTIONS}/x HTTP/1.1" {STATUSES[index % len(STATUSES)]} 10 "-" "agent"'
                 for index in range(LINES_PER_SECOND * 60)]
        with open(self.log, "w", encoding="ascii") as stream:
            stream.write("\n".join(lines) + "\n")
        self.combined_log = os.path.join(self.directory, "combined.log")
        with open(self.combined_log, "w", encoding="ascii") as stream:
            stream.write("\n".join(line.split(" ", 1)[1] for line in lines) + "\n")

    def errors(self, package: str, pure_python: bool, combined: bool = False) -> Dict[str, Any]:
        """The run's error counts, live and replayed alike, with ``package`` imported (of the
        Combined copy of the log when ``combined``)."""
        environment = dict(os.environ, PYTHONPATH=package, MONILOG_PURE_PYTHON="1" if pure_python else "0")
        log, fmt = (self.combined_log, "combined") if combined else (self.log, "vhost_combined")
        done = subprocess.run([sys.executable, "-c", RUN, log, fmt], capture_output=True, text=True, timeout=300,
                              check=False, env=environment, cwd=self.directory)
        self.assertEqual(done.returncode, 0, done.stderr)
        live, replayed = json.loads(done.stdout)
        self.assertEqual(live, replayed)
        return dict(live)

    def test_changing_the_rule_in_its_module_changes_every_error_count(self) -> None:
        copy = os.path.join(self.directory, "changed")
        shutil.copytree(os.path.dirname(monilog.__file__), os.path.join(copy, "monilog"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        rule = os.path.join(copy, "monilog", "accumulation", "status.py")
        with open(rule, encoding="utf-8") as stream:
            source = stream.read()
        self.assertEqual(source.count(RULE), 1)
        with open(rule, "w", encoding="utf-8") as stream:
            stream.write(source.replace(RULE, SERVER_ERRORS_ONLY))
        for pure_python, combined in ((False, False), (True, False), (False, True)):
            with self.subTest(pure_python=pure_python, combined=combined):
                original = self.errors(os.path.dirname(os.path.dirname(monilog.__file__)), pure_python, combined)
                changed = self.errors(copy, pure_python, combined)
                for found, (low, share) in ((original, (400, 0.667)), (changed, (500, 0.333))):
                    expected = self.expected(low)
                    self.assertEqual(found["errors"], expected["errors"])
                    self.assertEqual(found["report_errors"], [expected["errors"] // 6] * 6)
                    self.assertEqual(found["vhosts"], [] if combined else expected["vhosts"])
                    self.assertEqual(len(found["sections"]), 100)
                    for section, hits, errors in found["sections"]:
                        self.assertEqual(errors, hits if low <= STATUSES[int(section[2:]) % 6] else 0, section)
                    self.assertEqual([round(value, 3) for value in found["rule_values"]], [share] * 6)
                self.assertEqual((original["rule_alerts"], changed["rule_alerts"]), (6, 0))

    @staticmethod
    def expected(low: int) -> Dict[str, Any]:
        """The error counts of the test's log by the rule "an error is a status from ``low`` to 599"."""
        errors = 0
        vhosts: Dict[str, int] = {}
        for index in range(LINES_PER_SECOND * 60):
            error = low <= STATUSES[index % len(STATUSES)] <= 599
            errors += error
            host = f"site{index % 3}.example"
            vhosts[host] = vhosts.get(host, 0) + error
        return {"errors": errors, "vhosts": sorted(map(list, vhosts.items()))}


if __name__ == "__main__":
    unittest.main()
