"""Alert rules: the grammar, and the engine against a brute-force reference written here.

The reference evaluates every second ``T`` of a timeline by recomputing the window
``[T - over, T - 1]`` from the raw records, with the rule's state machine written out plainly.
Latency percentiles are compared on values quantized to the sketch's buckets (the sketch's own
accuracy is tested in test_sketch.py), so the comparison is exact to the second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accumulation.counts import Counts
from monilog.accumulation.rules import LATENCIES, RuleError, RuleSet, RuleSpec, parse_rule
from monilog.accumulation.sketch import LatencySketch, lower_edge, quantile_of_buckets
from monilog.parsing.record import LogRecord

T0 = 1_796_150_800
UTC = timezone.utc


class Hit(NamedTuple):
    second: int
    status: int
    section: str
    client: str
    duration: Optional[float]


def counts_of(hits: Sequence[Hit]) -> Counts:
    total: Optional[Counts] = None
    for hit in hits:
        moment = datetime.fromtimestamp(T0 + hit.second, UTC)
        record = LogRecord(hit.client, "", "", moment, "GET", hit.section + "/x", "HTTP/1.1", hit.status, 10, "", "",
                           hit.section, T0 + hit.second, "", hit.duration, None)
        one = Counts.of_record(record)
        total = one if total is None else total.plus(one)
    assert total is not None
    return total


def quantized_value(seconds: float) -> float:
    """The value the sketch's bucket for ``seconds`` stands for."""
    sketch = LatencySketch()
    sketch.add(seconds)
    value = quantile_of_buckets(sketch.bucket_counts(), 0.5)
    assert value is not None
    return value


def engine_events(spec: RuleSpec, hits: Sequence[Hit]) -> List[Tuple[str, int, Optional[str]]]:
    """The rule engine driven as the monitor drives it: the clock moves to each second, then its records count."""
    rules = RuleSet([spec])
    events = []
    by_second: Dict[int, List[Hit]] = {}
    for hit in hits:
        by_second.setdefault(hit.second, []).append(hit)
    for second in sorted(by_second):
        events += rules.evaluate_until(T0 + second, UTC)
        rules.add(T0 + second, counts_of(by_second[second]))
    return [(event.kind, int(event.time.timestamp()) - T0, event.key) for event in events]


def reference_events(spec: RuleSpec, hits: Sequence[Hit]) -> List[Tuple[str, int, Optional[str]]]:
    """Brute force: every second from the first record's to the last's, its window recomputed from scratch."""
    if not hits:
        return []
    first, last = min(hit.second for hit in hits), max(hit.second for hit in hits)
    events: List[Tuple[str, int, Optional[str]]] = []
    alerting: Dict[Optional[str], bool] = {}
    streak = 0
    streaks: Dict[str, int] = {}
    for now in range(first + 1, last + 1):
        window = [hit for hit in hits if now - spec.over <= hit.second <= now - 1]
        if spec.by is not None:
            keys: Dict[str, int] = {}
            for hit in window:
                key = hit.client if spec.by == "client" else hit.section
                keys[key] = keys.get(key, 0) + 1
            streaks = {key: streaks.get(key, 0) + 1 for key in keys if Fraction(keys[key], spec.over) > Fraction(spec.threshold)}
            for key in keys:
                if streaks.get(key, 0) >= spec.hold and not alerting.get(key):
                    alerting[key] = True
                    events.append(("alert", now, key))
            for key in [key for key, on in alerting.items() if on]:
                if Fraction(keys.get(key, 0), spec.over) <= Fraction(spec.recover_value):
                    alerting[key] = False
                    events.append(("recover", now, key))
            continue
        mine = [hit for hit in window if spec.section is None or hit.section == spec.section]
        value: Optional[Fraction]
        if spec.metric == "rate":
            value = Fraction(len(mine), spec.over)
        elif spec.metric == "bytes_rate":
            value = Fraction(10 * len(mine), spec.over)
        elif len(mine) < spec.min_hits:
            value = None
        elif spec.metric in ("errors", "server_errors"):
            low = 400 if spec.metric == "errors" else 500
            value = Fraction(sum(1 for hit in mine if low <= hit.status <= 599), len(mine))
        else:
            quantized = sorted(quantized_value(hit.duration) for hit in mine if hit.duration is not None)
            value = None if not quantized else Fraction(quantized[int(LATENCIES[spec.metric] * (len(quantized) - 1))])
        if spec.metric in LATENCIES:  # decided on the lower edge of the percentile's bucket
            above = value is not None and lower_edge(float(value)) >= float(spec.threshold)
            below = value is None or lower_edge(float(value)) < float(spec.recover_value)
        else:
            above = value is not None and value > Fraction(spec.threshold)
            below = value is None or value <= Fraction(spec.recover_value)
        streak = streak + 1 if above else 0
        if alerting.get(None):
            if below:
                alerting[None] = False
                events.append(("recover", now, None))
        elif above and streak >= spec.hold:
            alerting[None] = True
            events.append(("alert", now, None))
    return events


SECTIONS = ("/a", "/b", "/c")
CLIENTS = ("10.0.0.1", "10.0.0.2", "203.0.113.9", "198.51.100.7")


@st.composite
def timelines(draw: st.DrawFn) -> List[Hit]:
    hits: List[Hit] = []
    second = 0
    for _ in range(draw(st.integers(1, 60))):
        second += draw(st.sampled_from([1, 1, 1, 2, 3, 7, 40]))
        for _ in range(draw(st.integers(0, 8))):
            hits.append(Hit(second, draw(st.sampled_from([200, 200, 404, 500, 503])), draw(st.sampled_from(SECTIONS)),
                            draw(st.sampled_from(CLIENTS)), draw(st.sampled_from([None, 0.0, 0.004, 0.05, 0.2, 0.5, 1.5, 2.0, 3.0]))))
    return hits


@st.composite
def rules(draw: st.DrawFn) -> RuleSpec:
    metric = draw(st.sampled_from(["rate", "errors", "server_errors", "latency_p50", "latency_p95", "latency_p99", "bytes_rate"]))
    over = draw(st.integers(1, 30))
    by = draw(st.sampled_from([None, None, "client", "section"])) if metric == "rate" else None
    section = draw(st.sampled_from([None, None, *SECTIONS])) if by is None else None
    if metric in ("errors", "server_errors"):
        threshold = Decimal(draw(st.integers(0, 99))) / 100
    elif metric in LATENCIES:
        threshold = Decimal(draw(st.sampled_from(["0.001", "0.01", "0.1", "0.5", "1", "2"])))
    else:
        threshold = Decimal(draw(st.integers(1, 60))) / 10 * (10 if metric == "bytes_rate" else 1)
    recover = threshold * Decimal(draw(st.sampled_from([1, "0.5", "0.8"]))) if draw(st.booleans()) else None
    hold = draw(st.sampled_from([1, 1, 2, 5]))
    min_hits = draw(st.sampled_from([1, 1, 3, 10])) if metric not in ("rate", "bytes_rate") else 1
    return RuleSpec(metric, threshold, over, section, by, recover, hold, min_hits)


class RuleEngineTest(unittest.TestCase):
    @settings(max_examples=150, deadline=None)
    @given(rules(), timelines())
    def test_engine_equals_brute_force(self, spec: RuleSpec, hits: List[Hit]) -> None:
        # events of one second (several keys of a ``by`` rule) may come in any order
        self.assertEqual(sorted(engine_events(spec, hits), key=str), sorted(reference_events(spec, hits), key=str), spec.text)

    def test_each_clause_changes_the_outcome(self) -> None:
        # 10 requests a second for 20 s, half of them 5xx from second 10 on, one client flooding from second 5
        hits = [Hit(s, 503 if s >= 10 and i % 2 else 200, "/api" if i < 6 else "/web", "203.0.113.9" if s >= 5 and i < 8 else f"10.0.0.{i}",
                    2.0 if s >= 12 else 0.05) for s in range(20) for i in range(10)]
        cases = {
            "rate > 5 over 10s": [("alert", 6, None)],  # 60 hits in [-4, 5] > 50
            "rate > 5 over 10s for 5s": [("alert", 10, None)],  # held at 6, 7, 8, 9 and 10
            "rate on /web > 5 over 10s": [],  # 4 a second
            "rate on /api > 5 over 10s": [("alert", 9, None)],  # 54 > 50
            "server_errors > 40% over 10s": [("alert", 19, None)],  # 45 of 100
            "server_errors > 40% over 10s min 1000 hits": [],
            "latency_p95 > 1s over 5s": [("alert", 13, None)],  # 10 slow of 50: rank 46 is slow
            "rate by client > 7 over 2s": [("alert", 7, "203.0.113.9")],  # 16 > 14
            "rate by client > 7 over 2s for 4s": [("alert", 10, "203.0.113.9")],  # above at 7, 8, 9 and 10
            "latency_p95 > 2s over 5s": [],  # every slow request took exactly 2 s: not above 2 s
        }
        for text, expected in cases.items():
            with self.subTest(rule=text):
                spec = parse_rule(text)
                self.assertEqual(engine_events(spec, hits), expected)
                self.assertEqual(reference_events(spec, hits), expected)


class TrafficRuleAgreementTest(unittest.TestCase):
    """``rate > T over W`` is the traffic rule written as a rule: two implementations (the Alerter
    keeps the mission's exact messages), held in agreement by this test."""

    @settings(max_examples=100, deadline=None)
    @given(timelines(), st.integers(1, 60), st.integers(1, 30))
    def test_a_rate_rule_fires_when_the_alerter_does(self, hits: List[Hit], tenths: int, over: int) -> None:
        from monilog.accumulation.alerter import Alerter

        threshold = Decimal(tenths) / 10
        alerter = Alerter(threshold, over)
        expected = []
        for second in sorted({hit.second for hit in hits}):
            expected += [(event.kind, int(event.time.timestamp()) - T0, None)
                         for event in alerter.observe(T0 + second, sum(1 for hit in hits if hit.second == second))]
        self.assertEqual(engine_events(RuleSpec("rate", threshold, over), hits), expected)


class GrammarTest(unittest.TestCase):
    def test_the_issues_examples(self) -> None:
        cases = {
            "server_errors > 5% over 5m min 100 hits": ("server_errors", Decimal("0.05"), 300, None, None, None, 1, 100),
            "latency_p95 > 500ms over 1m for 30s": ("latency_p95", Decimal("0.5"), 60, None, None, None, 30, 1),
            "rate on /api > 50 over 2m": ("rate", Decimal(50), 120, "/api", None, None, 1, 1),
            "rate by client > 5 over 1m": ("rate", Decimal(5), 60, None, "client", None, 1, 1),
            "rate > 10 over 2m recover below 8": ("rate", Decimal(10), 120, None, None, Decimal(8), 1, 1),
            "BYTES_RATE>1.5M": ("bytes_rate", Decimal(1_500_000), 120, None, None, None, 1, 1),
        }
        for text, fields in cases.items():
            with self.subTest(text=text):
                spec = parse_rule(text)
                self.assertEqual((spec.metric, spec.threshold, spec.over, spec.section, spec.by, spec.recover, spec.hold,
                                  spec.min_hits), fields)
                self.assertEqual(parse_rule(spec.text), spec, "the canonical text reads back as the same rule")

    def test_refusals_say_why(self) -> None:
        for text, words in (("rate >", "cannot read"), ("speed > 1", "unknown metric"), ("errors > 150%", "at most 100%"),
                            ("latency_p95 > 5%", "s or ms"), ("errors by client > 1%", "goes with the rate"),
                            ("rate > 10 recover below 12", "above the threshold"), ("rate > 1 over 0s", "at least one second"),
                            ("rate on /a by section > 1", "do not go together"), ("rate on /a by client > 1", "do not go together"),
                            ("rate > 1 min 5 hits", "goes with shares"), ("rate > 1 over 25h", "at most 24h")):
            with self.subTest(text=text):
                with self.assertRaises(RuleError) as caught:
                    parse_rule(text)
                self.assertIn(words, str(caught.exception))


class RulesCommandTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-rules-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.path = os.path.join(self.dir, "access.log")
        with open(self.path, "w") as out:
            for second in range(300):
                for i in range(12 if 60 <= second < 150 else 3):
                    status = 503 if 170 <= second < 220 and i % 2 == 0 else 200
                    stamp = datetime.fromtimestamp(T0 + second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
                    out.write(f'10.0.0.{i} - - [{stamp}] "GET /api/x HTTP/1.1" {status} 10 "-" "ua"\n')

    def run_monitoring(self, *options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file", *options, self.path],
                              capture_output=True, text=True, timeout=120, cwd=self.dir)

    def events(self, *options: str) -> List[dict]:
        result = self.run_monitoring(*options)
        self.assertEqual(result.returncode, 0, result.stderr)
        return [o for o in map(json.loads, result.stdout.splitlines()) if o["type"] in ("alert", "recover")]

    def test_several_rules_at_once_with_their_times_and_values(self) -> None:
        rules = os.path.join(self.dir, "rules.toml")
        with open(rules, "w") as out:
            out.write('[[rule]]\nname = "api flood"\nalert = "rate on /api > 9 over 1m"\n')
        events = self.events("--threshold", "8", "--window", "30", "--recover-below", "6",
                             "--alert", "server_errors > 20% over 30s min 10 hits", "--rules", rules)
        seen = [(e["type"], int(datetime.fromisoformat(e["time"]).timestamp()) - T0, e.get("rule"), e.get("value")) for e in events]
        self.assertEqual(seen, [
            ("alert", 77, None, None),  # [47, 76]: 13 s at 3/s and 17 at 12/s = 243 > 8 * 30
            ("alert", 101, "rate on /api > 9 over 1m", 9.15),  # [41, 100]: 19 s at 3 and 41 at 12 = 549 > 540
            ("recover", 170, None, None),  # [140, 169]: 10 s at 12 and 20 at 3 = 180: 6/s, the --recover-below value
            ("recover", 170, "rate on /api > 9 over 1m", 9.0),  # [110, 169]: 40 at 12 and 20 at 3 = 540
            ("alert", 180, "server_errors > 20% over 30s min 10 hits", 0.222222),  # [150, 179]: 20 of 90
            ("recover", 241, "server_errors > 20% over 30s min 10 hits", 0.2),  # [211, 240]: 18 of 90
        ])
        self.assertEqual(events[1]["metric"], "rate")
        self.assertIsNone(events[1]["key"])
        self.assertTrue(events[4]["message"].startswith("High server error rate generated an alert - 5xx = 22.2% of 90 hits"))

    def test_a_rules_own_webhook_and_command_get_that_rules_events_only(self) -> None:
        from tests.support import RecordingServer

        server = RecordingServer().start()
        self.addCleanup(server.stop)
        marks = os.path.join(self.dir, "marks")
        rules = os.path.join(self.dir, "rules.toml")
        with open(rules, "w") as out:
            out.write(f'[[rule]]\nname = "api"\nalert = "rate on /api > 9 over 1m"\nwebhook = "{server.url}/hook"\n'
                      f'exec = "sh -c \'echo $MONILOG_EVENT $MONILOG_NAME >> {marks}\'"\n'
                      '[[rule]]\nalert = "server_errors > 20% over 30s min 10 hits"\n')
        events = self.events("--threshold", "8", "--window", "30", "--rules", rules)
        self.assertEqual(len(events), 6)  # the traffic rule's two, and two for each rule
        posted = [json.loads(request.body) for request in server.take(2)]
        self.assertEqual([(body["type"], body["rule"], body["name"]) for body in posted],
                         [("alert", "rate on /api > 9 over 1m", "api"), ("recover", "rate on /api > 9 over 1m", "api")])
        self.assertTrue(server.requests.empty(), "no other rule's event was posted")
        with open(marks) as lines:
            self.assertEqual(lines.read().split("\n")[:2], ["alert api", "recover api"])

    def test_a_rules_own_output_that_cannot_work_is_refused(self) -> None:
        rules = os.path.join(self.dir, "rules.toml")
        with open(rules, "w") as out:
            out.write('[[rule]]\nalert = "rate > 1"\nwebhook = "ftp://x"\n')
        result = self.run_monitoring("--rules", rules)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("webhook", result.stderr)

    def test_reports_give_each_rules_value_and_state(self) -> None:
        result = self.run_monitoring("--alert", "rate on /api > 9 over 1m", "--period", "30")
        reports = [o for o in map(json.loads, result.stdout.splitlines()) if o["type"] == "report"]
        states = [(int(datetime.fromisoformat(r["end"]).timestamp()) - T0, r["rules"][0]["value"], r["rules"][0]["alerting"])
                  for r in reports]
        # periods end on the clock's :20 and :50 here; T0 + 110: the window [50, 109] holds 10 s at 3/s and 50 at 12/s
        self.assertIn((110, 10.5, [""]), states)  # alerting since T0 + 101
        self.assertIn((20, 1.0, []), states)  # [-40, 19]: 20 s at 3/s
        self.assertIn((170, 9.0, []), states)  # recovered at 170: [110, 169] holds 540
        self.assertTrue(all(r["rules"][0]["rule"] == "rate on /api > 9 over 1m" for r in reports))

    def test_without_rules_events_keep_exactly_their_keys(self) -> None:
        events = self.events("--threshold", "8", "--window", "30")
        self.assertEqual(list(events[0]), ["type", "time", "hits", "average", "threshold", "window", "message"])

    def test_a_bad_rule_or_file_is_one_line_and_exit_2(self) -> None:
        bad = os.path.join(self.dir, "bad.toml")
        with open(bad, "w") as out:
            out.write('[[rule]]\nalert = "rate > 1"\nemail = "ops@example.com"\n')
        typo = os.path.join(self.dir, "typo.toml")
        with open(typo, "w") as out:
            out.write('[[rules]]\nalert = "rate > 1"\n')
        twice = os.path.join(self.dir, "twice.toml")
        with open(twice, "w") as out:
            out.write('[[rule]]\nname = "a"\nalert = "rate > 1"\n[[rule]]\nname = "a"\nalert = "rate > 2"\n')
        binary = os.path.join(self.dir, "binary.toml")
        with open(binary, "wb") as raw:
            raw.write(b"\xff\xfe[[rule]]")
        for options in (["--alert", "speed > 1"], ["--rules", bad], ["--rules", self.path], ["--rules", typo], ["--rules", twice],
                        ["--rules", binary], ["--log-format", "combined", "--alert", "latency_p95 > 1s"]):
            with self.subTest(options=options):
                result = self.run_monitoring(*options)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
    unittest.main()


class NamedRuleTest(unittest.TestCase):
    def test_a_named_rule_says_its_name_and_records_added_directly_count_per_second(self) -> None:
        from monilog.monitor import Monitor
        from tests.support import Recorder

        recorder = Recorder()
        monitor = Monitor(100, 10, 10, sinks=[recorder], rules=[parse_rule("rate > 5 over 10s", "burst")])
        for second in range(40):
            hits = [Hit(second, 200, "/a", "10.0.0.1", None)] * (9 if second < 20 else 1)
            moment = datetime.fromtimestamp(T0 + second, UTC)
            monitor.add_records([LogRecord(h.client, "", "", moment, "GET", "/a", "HTTP/1.1", 200, 1, "", "", "/a", T0 + second)
                                 for h in hits])
        monitor.finish()
        events = recorder.events
        self.assertEqual([(e.kind, int(e.time.timestamp()) - T0) for e in events], [("alert", 6), ("recover", 25)])
        self.assertTrue(events[0].message.endswith("(burst: rate > 5 over 10s)"), events[0].message)


class RulesInTheMonitorTest(unittest.TestCase):
    """Through the whole engine: any batch boundaries, and lines shuffled within the lateness, give
    the events of the same lines sorted by time and fed one by one."""

    FORMAT = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time'
    RULES = ("server_errors > 30% over 20s min 5 hits", "rate on /b > 2 over 10s recover below 1", "rate by client > 3 over 5s",
             "latency_p90 > 1s over 15s for 3s", "bytes_rate > 25 over 10s")

    def run_monitor(self, lines: List[str], batch: int, lateness: int) -> List[Tuple[str, int, str, Optional[str]]]:
        from monilog.monitor import Monitor
        from tests.support import Recorder

        recorder = Recorder()
        monitor = Monitor(4, 30, 10, fmt=self.FORMAT, sinks=[recorder], lateness=lateness,
                          rules=[parse_rule(text) for text in self.RULES])
        data = [line.encode() for line in lines]
        for start in range(0, len(data), batch):
            monitor.feed("a.log", data[start:start + batch])
        monitor.finish()
        return sorted((event.kind, int(event.time.timestamp()) - T0, event.rule, event.key) for event in recorder.events)

    @settings(max_examples=25, deadline=None)
    @given(timelines(), st.integers(1, 50), st.integers(0, 8), st.randoms(use_true_random=False))
    def test_batches_and_lateness_do_not_change_the_events(self, hits: List[Hit], batch: int, lateness: int, rng) -> None:  # type: ignore[no-untyped-def]
        from tests.support import shuffled_within

        def text(hit: Hit, second: int) -> str:
            stamp = datetime.fromtimestamp(T0 + second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
            duration = "-" if hit.duration is None else hit.duration
            return f'{hit.client} - - [{stamp}] "GET {hit.section}/x HTTP/1.1" {hit.status} 10 {duration}'

        ordered = [text(hit, hit.second) for hit in hits]
        expected = self.run_monitor(ordered, 1, 0)
        seconds = shuffled_within([hit.second for hit in hits], lateness, rng)
        # shuffled_within reorders the seconds; pair each with a hit of that second
        pool: Dict[int, List[Hit]] = {}
        for hit in hits:
            pool.setdefault(hit.second, []).append(hit)
        shuffled = [text(pool[second].pop(), second) for second in seconds]
        self.assertEqual(self.run_monitor(shuffled, batch, lateness), expected)
