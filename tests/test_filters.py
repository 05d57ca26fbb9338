"""Filters: what each leaves out, that what it leaves out is counted, and that live and replay agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone

from monilog.parsing.block import parse_block
from monilog.parsing.bots import is_bot
from monilog.parsing.filters import FILTERED, Filters
from monilog.parsing.parser import LogParser
from monilog.parsing.reading import Reading

T0 = datetime(2026, 12, 1, 18, 46, 30, tzinfo=timezone.utc).timestamp()


def combined(second: int, host: str = "10.0.0.1", path: str = "/a/b", status: int = 200, agent: str = "Mozilla/5.0 (X11)",
             user: str = "-") -> str:
    stamp = datetime.fromtimestamp(T0 + second, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{host} - {user} [{stamp}] "GET {path} HTTP/1.1" {status} 10 "-" "{agent}"'


LINES = [
    combined(0), combined(1, host="192.168.1.7"), "garbage", combined(2, path="/health"), combined(3, status=404),
    combined(4, agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    combined(5, host="2001:db8::5"), combined(6, user="john doe", path="/api/x"), combined(20), "",
]


class FilterBlockTest(unittest.TestCase):
    def outcome(self, filters: Filters, fmt: str = "combined"):  # type: ignore[no-untyped-def]
        parsed = parse_block(("\n".join(LINES) + "\n").encode(), LogParser(fmt, reading=Reading(filters)))
        keys = parsed.keys
        kept = [(keys.stamp(stamp)[0] - int(T0), keys.target(request)) for stamp, request in zip(parsed.stamps, parsed.requests)]
        return kept, parsed.skipped

    def test_each_filter_leaves_out_its_lines_and_counts_them_in_place(self) -> None:
        cases = [
            (Filters(since=T0 + 2, until=T0 + 10), [(2, "/health"), (3, "/a/b"), (4, "/a/b"), (5, "/a/b"), (6, "/api/x")],
             [(0, "filtered: time"), (0, "filtered: time"), (0, "malformed"), (5, "filtered: time")]),
            (Filters(exclude_clients=("192.168.0.0/16", "2001:db8::/32")), [(0, "/a/b"), (2, "/health"), (3, "/a/b"), (4, "/a/b"),
                                                                           (6, "/api/x"), (20, "/a/b")],
             [(1, "filtered: client"), (1, "malformed"), (4, "filtered: client")]),
            (Filters(exclude_path="^/health"), None, [(2, "malformed"), (2, "filtered: path")]),
            (Filters(include_path="^/api/"), [(6, "/api/x")], None),
            (Filters(ignore_status=("4xx",)), None, [(2, "malformed"), (3, "filtered: status")]),
            (Filters(exclude_bots=True), None, [(2, "malformed"), (4, "filtered: bot")]),
        ]
        for filters, kept, skipped in cases:
            with self.subTest(filters=filters):
                got_kept, got_skipped = self.outcome(filters)
                if kept is not None:
                    self.assertEqual(got_kept, kept)
                if skipped is not None:
                    self.assertEqual(got_skipped, skipped)
                self.assertEqual(len(got_kept) + len(got_skipped), 9, "every line is a record or counted")

    def test_no_filter_changes_nothing(self) -> None:
        kept, skipped = self.outcome(Filters())
        self.assertEqual([second for second, _ in kept], [0, 1, 2, 3, 4, 5, 6, 20])
        self.assertEqual(skipped, [(2, "malformed")])
        self.assertFalse(Filters().active)
        self.assertTrue(Filters(ignore_status=("404",)).active)

    def test_bots_are_found_through_compiled_and_json_formats_too(self) -> None:
        fmt = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
        _, skipped = self.outcome(Filters(exclude_bots=True), fmt)
        self.assertIn((4, "filtered: bot"), [(index, reason) for index, reason in skipped])
        line = json.dumps({"msec": T0, "request": "GET / HTTP/1.1", "status": 200,
                           "http_user_agent": "Mozilla/5.0 (compatible; bingbot/2.0)"})
        parsed = parse_block((line + "\n" + line.replace("bingbot", "Firefox") + "\n").encode(),
                             LogParser("json", reading=Reading(Filters(exclude_bots=True))))
        self.assertEqual((len(parsed.stamps), parsed.skipped), (1, [(0, FILTERED + "bot")]))

    def test_bot_list(self) -> None:
        for agent in ("Googlebot/2.1", "Mozilla/5.0 (compatible; AhrefsBot/7.0)", "curl/8.4.0", "python-requests/2.31"):
            self.assertTrue(is_bot(agent), agent)
        for agent in ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36", "", "-"):
            self.assertFalse(is_bot(agent), agent)

    def test_bad_filters_are_refused(self) -> None:
        with self.assertRaises(ValueError):
            Filters(include_path="(")
        with self.assertRaises(ValueError):
            Filters(exclude_clients=("10.0.0.300",))
        with self.assertRaises(ValueError):
            Filters(ignore_status=("4x",))


class FilterCommandTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-filters-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.path = os.path.join(self.dir, "access.log")
        with open(self.path, "w") as out:
            out.write("\n".join(line for line in LINES if line) + "\n")  # blank lines are neither records nor skips

    def run_monitoring(self, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file", *options, self.path],
                              capture_output=True, text=True, timeout=120, cwd=self.dir)

    def test_the_summary_adds_up_and_names_the_filters(self) -> None:
        result = self.run_monitoring("--exclude-bots", "--ignore-status", "404", "--since", "2026-12-01T18:46:31Z")
        self.assertEqual(result.returncode, 0, result.stderr)
        objects = [json.loads(line) for line in result.stdout.splitlines()]
        summary = objects[-1]
        self.assertEqual(summary["filtered_by"], {"bot": 1, "status": 1, "time": 1})
        self.assertEqual(summary["lines"], summary["parsed"] + summary["malformed"] + summary["filtered"])
        self.assertEqual(summary["filters"], ["since 2026-12-01T18:46:31+00:00", "ignoring status 404", "excluding bots"])
        reports = [o for o in objects if o["type"] == "report"]
        self.assertEqual(sum(r["filtered"] for r in reports), 3)
        self.assertTrue(all("filters" in r for r in reports))

    def test_relative_times_need_no_equals_sign(self) -> None:
        import time

        now = time.time()
        with open(self.path, "w") as out:  # two lines three hours ago, one half an hour ago
            out.write("\n".join(combined(int(now - T0) - ago) for ago in (10800, 10799, 1800)) + "\n")
        summary = json.loads(self.run_monitoring("--since", "1h ago").stdout.splitlines()[-1])
        self.assertEqual((summary["hits"], summary["filtered_by"]), (1, {"time": 2}))
        summary = json.loads(self.run_monitoring("--until=-2h").stdout.splitlines()[-1])
        self.assertEqual((summary["hits"], summary["filtered_by"]), (2, {"time": 1}))

    def test_without_filters_the_json_has_no_filter_keys(self) -> None:
        summary = json.loads(self.run_monitoring().stdout.splitlines()[-1])
        self.assertNotIn("filtered", summary)
        self.assertEqual(summary["lines"], summary["parsed"] + summary["malformed"])

    def test_bad_values_are_one_line_and_exit_2(self) -> None:
        for option in (["--include-path", "("], ["--exclude-client", "10.0.0.300"], ["--ignore-status", "4x"],
                       ["--since", "yesterday-ish"]):
            with self.subTest(option=option):
                result = self.run_monitoring(*option)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
    unittest.main()
