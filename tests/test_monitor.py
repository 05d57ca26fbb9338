"""The pipeline without files or threads: periods, late lines, silence, skewed clocks."""

from __future__ import annotations

import contextlib
import io
import random
import unittest
from datetime import datetime, timedelta, timezone
from typing import List, Sequence, Tuple, Union

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accumulation.report import PeriodReport
from monilog.monitor import Monitor
from monilog.outputs.sink import Sink
from monilog.parsing.columns import LineBlock
from tests import support
from tests.support import shuffled_within

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
E0 = int(T0.timestamp())


def line(moment: Union[datetime, float], path: str = "/pages/a", status: int = 200) -> str:
    """A Common Log Format line at ``moment`` (a datetime, or seconds after T0)."""
    when = moment if isinstance(moment, datetime) else T0 + timedelta(seconds=moment)
    return f'10.0.0.1 - - [{when.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET {path} HTTP/1.1" {status} 512'


class Recorder(support.Recorder):
    """Everything a monitor hands to its sinks, with a compact timeline of it."""

    def timeline(self) -> List[Tuple[str, int]]:
        """(kind, second after T0): report end times and event times, in emission order."""
        out = []
        for kind, item in self.items:
            if kind == "report":
                out.append(("report", int(item.stats.end.timestamp()) - E0))  # type: ignore[attr-defined]
            elif kind == "event":
                out.append((item.kind, int(item.time.timestamp()) - E0))  # type: ignore[attr-defined]
        return out


def make(threshold: float = 1, window: int = 10, period: int = 10) -> Tuple[Monitor, Recorder]:
    recorder = Recorder()
    return Monitor(threshold, window, period, sinks=[recorder]), recorder


def traffic(seconds: Sequence[int], per_second: int) -> List[str]:
    return [line(s) for s in seconds for _ in range(per_second)]


class LineBlockTest(unittest.TestCase):
    def test_a_block_of_lines_counts_as_the_same_lines_in_a_list(self) -> None:
        lines = traffic(range(0, 25), 3) + ["not a log line", "", line(24, status=503)]
        runs = []
        for given_as in ("list", "block"):
            monitor, recorder = make(threshold=2)
            data = [text.encode() for text in lines]
            monitor.feed("access.log", data if given_as == "list" else LineBlock(b"".join(text + b"\n" for text in data), len(data)))
            summary = monitor.finish()
            runs.append(([(report.stats.hits, dict(report.stats.skipped)) for report in recorder.reports],
                         recorder.timeline(), summary.lines, summary.parsed))
        self.assertEqual(runs[0], runs[1])
        self.assertEqual(runs[0][2:], (len(lines), len(lines) - 2))


class PeriodTest(unittest.TestCase):
    def test_every_line_in_exactly_one_report(self) -> None:
        monitor, rec = make(threshold=100)
        lines = traffic(range(0, 35), 2) + ["not a log line", line(34, status=500)]
        monitor.feed("access.log", lines)
        summary = monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [20, 20, 20, 11])
        self.assertEqual(sum(r.stats.hits for r in rec.reports), summary.parsed)
        self.assertEqual(summary.parsed, 71)
        self.assertEqual(summary.lines, 72)
        self.assertEqual(summary.stats.hits, 71)
        self.assertEqual(dict(summary.stats.skipped), {"malformed": 1})
        # periods are aligned to the clock and the last, partial one ends at the last second
        spans = [(int(r.stats.start.timestamp()) - E0, int(r.stats.end.timestamp()) - E0) for r in rec.reports]
        self.assertEqual(spans, [(0, 10), (10, 20), (20, 30), (30, 35)])
        self.assertEqual(rec.reports[0].stats.start.utcoffset(), timedelta(hours=2))
        self.assertEqual(rec.items[-1][0], "summary")

    def test_late_line_counts_in_the_current_period(self) -> None:
        monitor, rec = make(threshold=100)
        monitor.feed("a", traffic(range(0, 15), 1) + [line(3)] + traffic(range(15, 25), 1))
        monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [10, 11, 5])
        self.assertEqual([r.stats.late for r in rec.reports], [0, 1, 0])

    def test_silent_periods_are_reported_with_zero_hits(self) -> None:
        monitor, rec = make(threshold=100)
        monitor.feed("a", [line(1), line(45)])
        monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [1, 0, 0, 0, 1])

    def test_alerts_and_reports_interleave_in_time_order(self) -> None:
        monitor, rec = make(threshold=1, window=10, period=10)
        monitor.feed("a", traffic(range(0, 10), 3) + traffic(range(40, 41), 1))
        monitor.finish()
        # 3 hits/s: window above 10 hits at T0+4; after the traffic stops at T0+10 the window
        # holds <= 10 hits from T0+17. The line at T0+40 closes three periods at once: each
        # report still comes after the events of its period and before later ones.
        self.assertEqual(
            rec.timeline(),
            [("alert", 4), ("report", 10), ("recover", 17), ("report", 20), ("report", 30), ("report", 40), ("report", 41)],
        )
        self.assertTrue(rec.reports[0].alert.alerting)
        self.assertFalse(rec.reports[1].alert.alerting)

    def test_absurd_timestamp_does_not_derail_reports(self) -> None:
        monitor, rec = make(threshold=100)
        future = datetime(2099, 1, 1, tzinfo=timezone.utc)
        monitor.feed("a", traffic(range(0, 5), 1) + [line(future)] + traffic(range(5, 25), 1))
        summary = monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [11, 10, 5])
        self.assertEqual(rec.reports[0].stats.late, 1)
        self.assertEqual(summary.outlier_hits, 1)
        self.assertEqual(summary.parsed, 26)


class RobustnessTest(unittest.TestCase):
    def test_a_lone_line_is_reported_in_log_time(self) -> None:
        monitor, rec = make(threshold=100)
        monitor.feed("a", [line(3)])
        summary = monitor.finish()
        self.assertEqual([(int(r.stats.start.timestamp()) - E0, r.stats.hits, r.stats.late) for r in rec.reports], [(0, 1, 0)])
        self.assertEqual(summary.first_time, E0)

    def test_a_past_dated_first_line_cannot_flood_reports(self) -> None:
        monitor, rec = make(threshold=100)
        epoch_start = datetime(1970, 1, 1, tzinfo=timezone.utc)
        monitor.feed("a", [line(epoch_start)] + traffic(range(0, 25), 1))
        summary = monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [11, 10, 5])
        self.assertEqual(summary.parsed, 26)

    def test_a_long_silence_is_one_report(self) -> None:
        monitor, rec = make(threshold=100)
        monitor.feed("a", traffic(range(0, 3), 1) + traffic(range(3 * 86_400, 3 * 86_400 + 3), 1))
        monitor.finish()
        self.assertEqual([r.stats.hits for r in rec.reports], [3, 0, 3])
        silence = rec.reports[1].stats
        self.assertEqual((int(silence.start.timestamp()) - E0, int(silence.end.timestamp()) - E0), (10, 3 * 86_400))

    def test_a_failing_output_is_turned_off_and_the_others_go_on(self) -> None:
        class Broken(Sink):
            def report(self, report: PeriodReport) -> None:
                raise BrokenPipeError(32, "Broken pipe")

        recorder = Recorder()
        monitor = Monitor(1, 10, 10, sinks=[Broken(), recorder])
        with contextlib.redirect_stderr(io.StringIO()) as stderr:
            monitor.feed("a", traffic(range(0, 25), 3))
            summary = monitor.finish()
        self.assertEqual([r.stats.hits for r in recorder.reports], [30, 30, 15])
        self.assertEqual([e.kind for e in recorder.events], ["alert"])
        self.assertEqual(summary.notices["output-failed"], 1)
        self.assertIn("output Broken failed and is turned off", stderr.getvalue())
        self.assertEqual(len(monitor.sinks), 1)

    def test_two_outputs_failing_in_one_dispatch_and_a_closed_stderr(self) -> None:
        class Full(Sink):  # standard output closed and the run log's disk full, at once
            def report(self, report: PeriodReport) -> None:
                raise OSError(28, "No space left on device")

            def notice(self, message: str) -> None:
                raise OSError(28, "No space left on device")

        class ClosedStream(io.StringIO):
            def write(self, text: str) -> int:
                raise BrokenPipeError(32, "Broken pipe")

        recorder = Recorder()
        monitor = Monitor(1, 10, 10, sinks=[Full(), Full(), recorder])
        with contextlib.redirect_stderr(ClosedStream()):
            monitor.feed("a", traffic(range(0, 25), 3))
            summary = monitor.finish()
        self.assertEqual(monitor.sinks, [recorder])
        self.assertEqual(summary.notices["output-failed"], 2)
        self.assertEqual([r.stats.hits for r in recorder.reports], [30, 30, 15])
        self.assertEqual(sum(1 for kind, _ in recorder.items if kind == "notice"), 2)


class LiveClockTest(unittest.TestCase):
    def test_lines_far_ahead_of_the_host_clock_cannot_blind_alerting(self) -> None:
        monitor, rec = make(threshold=2, window=10, period=10)
        for second in range(0, 5):
            monitor.feed("a", traffic([second], 1), wall_now=E0 + second + 0.5)
        # two lines from a backend whose clock is 4 hours ahead
        monitor.feed("a", [line(4 * 3600), line(4 * 3600)], wall_now=E0 + 5.5)
        for second in range(5, 25):
            monitor.feed("a", traffic([second], 5), wall_now=E0 + second + 0.5)
            monitor.tick(E0 + second + 0.6)
        self.assertEqual([e.kind for e in rec.events], ["alert"])
        self.assertLess(len(rec.reports), 5)
        self.assertEqual(rec.reports[0].stats.late, 2)

    def test_a_log_clock_stepped_forward_is_followed(self) -> None:
        monitor, rec = make(threshold=100, window=10, period=10)
        for second in range(0, 5):
            monitor.feed("a", traffic([second], 1), wall_now=E0 + second + 0.5)
        # from now on the log is stamped 10 minutes ahead, for good
        for second in range(5, 60):
            monitor.feed("a", traffic([second + 600], 1), wall_now=E0 + second + 0.5)
            monitor.tick(E0 + second + 0.6)
        self.assertGreaterEqual(monitor.alerter.clock, E0 + 640)
        late = sum(r.stats.late for r in rec.reports) + monitor.view().current.late
        self.assertLessEqual(late, 32)

    def test_a_log_slightly_behind_the_host_reports_no_period_twice(self) -> None:
        monitor, rec = make(threshold=100, period=10)
        for step in range(0, 61):
            monitor.tick(E0 + step / 2)
        monitor.feed("a", [line(29)], wall_now=E0 + 30.5)
        for step in range(61, 120):
            monitor.tick(E0 + step / 2)
        monitor.finish()
        starts = [int(r.stats.start.timestamp()) - E0 for r in rec.reports]
        self.assertEqual(len(starts), len(set(starts)), starts)
        self.assertEqual(sum(r.stats.hits for r in rec.reports), 1)


    def test_silence_keeps_reporting_and_recovers(self) -> None:
        monitor, rec = make(threshold=1, window=10, period=10)
        for second in range(0, 12):
            monitor.feed("a", traffic([second], 3), wall_now=E0 + second + 0.5)
            monitor.tick(E0 + second + 0.6)
        for step in range(0, 80):  # 40 s of silence, ticking twice a second
            monitor.tick(E0 + 12 + step / 2)
        kinds = [kind for kind, _ in rec.timeline()]
        self.assertIn("recover", kinds)
        self.assertEqual([e.kind for e in rec.events], ["alert", "recover"])
        self.assertEqual(int(rec.events[1].time.timestamp()) - E0, 19)
        self.assertGreaterEqual(len(rec.reports), 4)
        self.assertEqual([r.stats.hits for r in rec.reports[:4]], [30, 6, 0, 0])

    def test_log_clock_skewed_against_the_host(self) -> None:
        # the log says 12:00, the host says 15:00 (a misconfigured zone): reports and recovery still come
        monitor, rec = make(threshold=1, window=10, period=10)
        host = E0 + 3 * 3600
        for second in range(0, 12):
            monitor.feed("a", traffic([second], 3), wall_now=host + second + 0.5)
        for step in range(0, 60):
            monitor.tick(host + 12 + step / 2)
        self.assertEqual([e.kind for e in rec.events], ["alert", "recover"])
        self.assertEqual(int(rec.events[1].time.timestamp()) - E0, 19)
        self.assertEqual(rec.reports[0].stats.hits, 30)

    def test_reports_on_host_time_before_the_first_line(self) -> None:
        monitor, rec = make(threshold=100, period=10)
        for step in range(0, 60):
            monitor.tick(E0 + step / 2)
        self.assertEqual([r.stats.hits for r in rec.reports], [0, 0])
        # the first line (log clock 1 h behind the host) re-aligns the periods to the log
        monitor.feed("a", [line(-3600 + 31)], wall_now=E0 + 31)
        monitor.feed("a", [line(-3600 + 32)], wall_now=E0 + 32)
        monitor.tick(E0 + 45)
        summary = monitor.finish()
        self.assertEqual(summary.parsed, 2)
        self.assertEqual(sum(r.stats.hits for r in rec.reports), 2)

    def test_lone_first_line_is_reported_without_a_second(self) -> None:
        monitor, rec = make(threshold=100, period=10)
        monitor.feed("a", [line(1)], wall_now=E0 + 1.2)
        for step in range(0, 30):
            monitor.tick(E0 + 1.5 + step / 2)
        self.assertEqual(rec.reports[0].stats.hits, 1)

    def test_view_reflects_the_period_in_progress(self) -> None:
        monitor, _ = make(threshold=100)
        monitor.feed("a", traffic(range(0, 13), 2), wall_now=E0 + 13)
        view = monitor.view()
        self.assertEqual(view.current.hits, 6)
        self.assertEqual(view.total.hits, 26)
        self.assertEqual(view.last_report.stats.hits, 20)  # type: ignore[union-attr]
        self.assertEqual(view.parsed, 26)
        self.assertAlmostEqual(view.current_rps, 2.0)


def without_lateness(items: List[Tuple[str, object]]) -> List[Tuple[str, object]]:
    """Sink items with the lateness taken out of the alert states (the one thing it changes)."""
    out: List[Tuple[str, object]] = []
    for kind, item in items:
        if kind == "report":
            item = item._replace(alert=item.alert._replace(lateness=0))  # type: ignore[attr-defined]
        elif kind == "summary":
            item = item._replace(alert=item.alert._replace(lateness=0))  # type: ignore[attr-defined]
        out.append((kind, item))
    return out


class CallerAlerterTest(unittest.TestCase):
    def test_the_monitor_uses_the_alerter_it_is_given(self) -> None:
        from monilog.accumulation.alerter import Alerter

        alerter = Alerter(threshold=100, window=10)
        recorder = Recorder()
        monitor = Monitor(1, 10, 10, sinks=[recorder], alerter=alerter)
        monitor.feed("a", traffic(range(0, 25), 3))  # above 1/s, far below 100/s
        monitor.finish()
        self.assertIs(monitor.alerter, alerter)
        self.assertEqual(recorder.events, [])
        self.assertEqual(recorder.reports[0].alert.threshold, 100)


class LatenessTest(unittest.TestCase):
    def test_lines_late_by_up_to_the_lateness_count_in_their_own_second_and_period(self) -> None:
        recorder = Recorder()
        monitor = Monitor(1, 10, 10, sinks=[recorder], lateness=5)
        monitor.feed("a", [line(9), line(12), line(8), line(7)])  # 8 and 7 arrive after 12
        monitor.finish()
        reports = [item.stats for kind, item in recorder.items if kind == "report"]
        self.assertEqual([(r.hits, r.late) for r in reports], [(3, 0), (1, 0)])
        self.assertEqual(reports[0].end.timestamp() - E0, 10)  # type: ignore[union-attr]
        self.assertEqual(recorder.items[0][1].alert.lateness, 5)  # type: ignore[attr-defined]

    def test_the_first_reports_start_alike_for_any_batch_boundaries(self) -> None:
        lines = [line(6), line(7), line(-20), line(-1)]  # 11:59:59 is within the lateness of 12:00:07
        outputs = []
        for batches in ([lines], [[one] for one in lines]):
            recorder = Recorder()
            monitor = Monitor(0.5, 10, 60, sinks=[recorder], lateness=20)
            for batch in batches:
                monitor.feed("a", batch)
            monitor.finish()
            outputs.append(recorder.items)
        self.assertEqual(outputs[0], outputs[1])
        first = outputs[0][0][1].stats  # type: ignore[attr-defined]
        self.assertEqual((int(first.start.timestamp()) - E0, first.hits), (-60, 1))

    def test_reports_and_alerts_wait_for_the_lateness(self) -> None:
        recorder = Recorder()
        monitor = Monitor(1, 10, 10, sinks=[recorder], lateness=5)
        monitor.feed("a", traffic(range(0, 14), 3))
        self.assertEqual(recorder.timeline(), [("alert", 4)], "evaluated up to 13 - 5 = 8; 10 + 5 not reached")
        monitor.feed("a", [line(15)])
        self.assertEqual(recorder.timeline(), [("alert", 4), ("report", 10)])

    @settings(max_examples=60, deadline=None)
    @given(
        lateness=st.integers(min_value=1, max_value=12),
        gaps=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=120),
        statuses=st.lists(st.sampled_from([200, 404, 500]), min_size=1, max_size=5),
        seed=st.integers(min_value=0, max_value=10_000),
        batch=st.integers(min_value=1, max_value=40),
    )
    def test_shuffled_within_the_lateness_equals_sorted_without_it(
        self, lateness: int, gaps: List[int], statuses: List[int], seed: int, batch: int,
    ) -> None:
        seconds, now = [], 0
        for gap in gaps:
            now += gap
            seconds.append(now)
        rng = random.Random(seed)
        status_of = {second: statuses[second % len(statuses)] for second in seconds}
        sorted_lines = [line(second, f"/s{second % 3}/x", status_of[second]) for second in seconds]
        shuffled = [line(second, f"/s{second % 3}/x", status_of[second])
                    for second in shuffled_within(seconds, lateness, rng)]
        expected, got = Recorder(), Recorder()
        in_order = Monitor(1, 8, 5, sinks=[expected])
        in_order.feed("a", sorted_lines)
        in_order.finish()
        late = Monitor(1, 8, 5, sinks=[got], lateness=lateness)
        for start in range(0, len(shuffled), batch):
            late.feed("a", shuffled[start:start + batch])
        late.finish()
        self.assertEqual(without_lateness(got.items), without_lateness(expected.items))


if __name__ == "__main__":
    unittest.main()
