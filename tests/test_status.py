"""The error rule and the status classes: their boundaries, and their one home."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any, List

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
import io, json, os, sys
from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from monilog.replayer import ReplayTuning, replay

path = sys.argv[1]
outputs = []
for way in ("live", "replay"):
    output = io.StringIO()
    monitor = Monitor(10, 120, 10, sinks=[JsonSink(output, top=100)])
    if way == "live":
        with open(path, "rb") as stream:
            lines = stream.read().splitlines()
        for start in range(0, len(lines), 97):
            monitor.feed(path, lines[start:start + 97])
        monitor.finish()
    else:
        replay(monitor, [path], tuning=ReplayTuning(workers=2, in_process_bytes=0, chunk_bytes=100_000,
                                                   min_chunk_bytes=100_000))
    summary = json.loads(output.getvalue().splitlines()[-1])
    outputs.append([summary["errors"], sorted((entry["section"], entry["errors"]) for entry in summary["sections"])])
print(json.dumps(outputs))
"""

SERVER_ERRORS_ONLY = ("return 400 <= code <= 599", "return 500 <= code <= 599")


class OneHomeTest(unittest.TestCase):
    """Changing the error rule's source in ``status.py`` changes every error count, live and replay."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.log = os.path.join(self.directory, "access.log")
        lines = [f'10.0.0.{index % 7} - - [01/May/2024:10:00:{index % 60:02d} +0000] '
                 f'"GET /s{index % 5}/x HTTP/1.1" {(200, 404, 503, 302, 500, 499)[index % 6]} 10'
                 for index in range(6_000)]
        with open(self.log, "w", encoding="ascii") as stream:
            stream.write("\n".join(lines) + "\n")

    def errors(self, package: str) -> List[Any]:
        """The run's errors and its sections' errors, live and replayed alike, with ``package`` imported."""
        environment = dict(os.environ, PYTHONPATH=package)
        done = subprocess.run([sys.executable, "-c", RUN, self.log], capture_output=True, text=True, timeout=120,
                              check=False, env=environment, cwd=self.directory)
        self.assertEqual(done.returncode, 0, done.stderr)
        live, replayed = json.loads(done.stdout)
        self.assertEqual(live, replayed)
        return list(live)

    def test_changing_the_rule_in_its_module_changes_every_error_count(self) -> None:
        copy = os.path.join(self.directory, "changed")
        shutil.copytree(os.path.dirname(monilog.__file__), os.path.join(copy, "monilog"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        rule = os.path.join(copy, "monilog", "accumulation", "status.py")
        with open(rule, encoding="utf-8") as stream:
            source = stream.read()
        self.assertIn(SERVER_ERRORS_ONLY[0], source)
        with open(rule, "w", encoding="utf-8") as stream:
            stream.write(source.replace(*SERVER_ERRORS_ONLY))
        original = self.errors(os.path.dirname(os.path.dirname(monilog.__file__)))
        changed = self.errors(copy)
        # Rows cycle through 200, 404, 503, 302, 500, 499: 4 in 6 are 4xx/5xx, 2 in 6 are 5xx.
        self.assertEqual(original[0], 4_000)
        self.assertEqual(changed[0], 2_000)
        self.assertEqual([errors for _, errors in original[1]], [800] * 5)
        self.assertEqual([errors for _, errors in changed[1]], [400] * 5)


if __name__ == "__main__":
    unittest.main()
