"""The plain-text layout: reports, one-line silent periods, events, notices and the summary."""

from __future__ import annotations

import re
import unittest
from datetime import datetime, timedelta, timezone

from rich.cells import cell_len

from monilog.accumulation.alerter import Alerter, AlertEvent
from monilog.accumulation.counts import Counts
from monilog.accumulation.statistics import Statistics
from monilog.presentation.text import (
    WIDTH,
    alert_periods,
    format_bytes,
    format_distinct,
    format_event,
    format_notice,
    format_period,
    format_report,
    format_summary,
)
from tests.presentation_samples import (
    T0,
    alerter_with_history,
    earlier_run_events,
    empty_snapshot,
    report,
    sample_snapshot,
    summary,
)

_RAW_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _assert_printable(case: unittest.TestCase, text: str) -> None:
    case.assertIsNone(_RAW_UNSAFE.search(text), f"raw control character in {text!r}")


def _assert_narrow(case: unittest.TestCase, text: str) -> None:
    for line in text.splitlines():
        case.assertLessEqual(cell_len(line), WIDTH, line)


class ReportTest(unittest.TestCase):
    def setUp(self) -> None:
        self.stats = sample_snapshot()
        self.text = format_report(report(self.stats), top=5)
        self.lines = self.text.splitlines()

    def _line(self, prefix: str) -> str:
        return next(line for line in self.lines if line.startswith(prefix))

    def test_header_names_the_period_with_date_time_and_offset(self) -> None:
        self.assertTrue(self.lines[0].startswith("=== 2024-05-01 12:00:00 - 12:00:10 +0200 ="))

    def test_traffic_figures(self) -> None:
        traffic = self.lines[1]
        self.assertIn(f"hits {self.stats.hits} (2 late)", traffic)
        self.assertIn(f"{self.stats.hits / 10:.2f} req/s", traffic)
        self.assertIn(f"{format_bytes(self.stats.bytes_total)} sent", traffic)
        self.assertIn(f"mean {format_bytes(self.stats.bytes_total / self.stats.hits)}", traffic)

    def test_sections_are_ranked_with_share_errors_and_bytes(self) -> None:
        rows = [line.split() for line in self.lines if line.startswith("  /")]
        self.assertEqual([row[0] for row in rows[:2]], ["/api", "/pages"])
        self.assertEqual(rows[0][1:5], ["600", f"{600 / self.stats.hits * 100:.1f}%", "30", "585.9"])
        self.assertEqual(rows[1][1:4], ["300", f"{300 / self.stats.hits * 100:.1f}%", "10"])
        self.assertEqual(len(rows), 5)

    def test_other_sections_row_makes_the_table_add_up(self) -> None:
        text = format_report(report(self.stats), top=2)
        others = next(line for line in text.splitlines() if line.startswith("  (6 other sections)"))
        self.assertEqual(int(others.split()[3]), self.stats.hits - 600 - 300)

    def test_status_methods_clients_skipped_and_alert(self) -> None:
        self.assertIn("2xx 900  3xx 5  4xx 10  5xx 30", self._line("status"))
        self.assertIn(f"error rate {40 / self.stats.hits * 100:.1f}% (40)", self._line("status"))
        self.assertIn("GET 605  POST 300  PUT 40", self._line("methods"))
        self.assertIn("192.168.1.9 300", self._line("clients"))
        self.assertIn("users   alice 300", self.text)
        self.assertIn("3 lines:  malformed 2  bad timestamp 1", self._line("skipped"))
        self.assertEqual(self.lines[-1], "alert   ALERT: average 12.40 req/s over 2m00s > threshold 10")

    def test_distinct_clients_say_when_they_are_estimated(self) -> None:
        stats = Statistics(max_keys=3)
        stats.add_counts(Counts({("/", 200): 2}, {}, {"GET": 2}, {"a": 1, "b": 1}, {}))
        self.assertEqual(format_distinct(stats.snapshot()), "2 distinct")
        stats.add_counts(Counts({("/", 200): 3}, {}, {"GET": 3}, {"c": 1, "d": 1, "e": 1}, {}))  # two folded
        self.assertEqual(format_distinct(stats.snapshot()), "~5 distinct")
        self.assertIn("(~5 distinct)", format_report(report(stats.snapshot())))

    def test_recovered_state_is_ok(self) -> None:
        self.assertIn("alert   OK: average 1.00 req/s over 2m00s <= threshold 10",
                      format_report(report(alerting=False)))

    def test_log_content_is_sanitised(self) -> None:
        text = format_report(report(self.stats), top=10)
        _assert_printable(self, text)
        self.assertIn("/x\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07\\u202e[bold]", text)
        self.assertIn("\\x1b[31mevil 40", text)

    def test_fits_79_columns(self) -> None:
        _assert_narrow(self, self.text)


class SilentPeriodTest(unittest.TestCase):
    def test_a_period_without_hits_is_one_line(self) -> None:
        text = format_report(report(empty_snapshot(), alerting=False))
        self.assertEqual(text, "2024-05-01 12:00:00 - 12:00:10 +0200  no hits | avg 1.00 <= 10 req/s: OK")

    def test_skipped_lines_of_a_silent_period_are_named(self) -> None:
        lines = format_report(report(empty_snapshot(skipped=3), alerting=True)).splitlines()
        self.assertEqual(len(lines), 2)
        self.assertIn("no hits", lines[0])
        self.assertIn("ALERT", lines[0])
        self.assertIn("3 lines:  malformed 3", lines[1])

    def test_long_period_wraps_instead_of_overflowing(self) -> None:
        start = T0.replace(hour=23, minute=59, second=50)
        end = (start + timedelta(seconds=10)).astimezone(timezone(timedelta(hours=3)))
        text = format_report(report(Statistics().snapshot(start, end), alerting=False))
        self.assertIn("2024-05-01 23:59:50 +0200 - 2024-05-02 01:00:00 +0300", text)
        _assert_narrow(self, text)


class EventTest(unittest.TestCase):
    def test_alert_and_recovery_stand_out(self) -> None:
        alerter, _ = alerter_with_history(ongoing=False)
        kinds = [event.kind for event in alerter.history]
        self.assertEqual(kinds, ["alert", "recover", "alert", "recover"])
        for event in alerter.history:
            line = format_event(event)
            prefix = "[ALERT] " if event.kind == "alert" else "[RECOVERED] "
            self.assertEqual(line, prefix + event.message)

    def test_notice_is_prefixed_and_sanitised(self) -> None:
        self.assertEqual(format_notice("rotated /var/log/a\x1b[2J"), "[NOTICE] rotated /var/log/a\\x1b[2J")


class SummaryTest(unittest.TestCase):
    def test_lines_figures_and_sections(self) -> None:
        alerter, _ = alerter_with_history()
        data = summary(alerter)
        text = format_summary(data)
        self.assertIn(f"lines   {data.lines} read, {data.parsed} parsed, 3 skipped", text)
        self.assertIn("skipped malformed 2  bad timestamp 1", text)
        self.assertIn("late    2 after their period | 3 behind the alert window | 1 outlier", text)
        self.assertIn("files   /var/log/nginx/access.log", text)
        self.assertIn("notices rotation 1", text)
        self.assertLess(text.index("  /api "), text.index("  /pages "))
        _assert_printable(self, text)
        _assert_narrow(self, text)

    def test_alerts_of_earlier_runs_are_marked(self) -> None:
        alerter, _ = alerter_with_history(ongoing=False)
        earlier = earlier_run_events()
        unrecovered = AlertEvent("alert", 1500, 1500 / 120, earlier[0].time - timedelta(days=30), 10.0, 120)
        data = summary(alerter)._replace(alerts=(unrecovered, *earlier, *alerter.history), earlier_alerts=3)
        rows = [line for line in format_summary(data).splitlines() if line.startswith("  20")]
        self.assertEqual(len(rows), 2 + len(alerter.history) // 2)
        self.assertTrue(rows[0].endswith("(earlier run)") and rows[1].endswith("(earlier run)"), rows)
        self.assertFalse(any(row.endswith("(earlier run)") for row in rows[2:]), rows)
        self.assertIn("(run ended)", rows[0])
        self.assertIn(" - ", rows[0])  # an earlier alert that never recovered has no known length
        self.assertIn(">=1500", rows[0])

    def test_full_alert_history_with_an_ongoing_alert(self) -> None:
        alerter, _ = alerter_with_history(ongoing=True)
        text = format_summary(summary(alerter))
        first_alert, first_recovery, second_alert = alerter.history
        rows = text.splitlines()[text.splitlines().index(next(
            line for line in text.splitlines() if line.startswith("alerts  "))) + 2:]
        self.assertIn("alerts  2 (average over 2m00s > 10 req/s)", text)
        self.assertIn(first_alert.time.strftime("%Y-%m-%d %H:%M:%S %z"), rows[0])
        self.assertIn(first_recovery.time.strftime("%H:%M:%S"), rows[0])
        lasted = int((first_recovery.time - first_alert.time).total_seconds())
        self.assertIn(f"{lasted // 60}m{lasted % 60:02d}s", rows[0])
        self.assertIn(f"{first_recovery.peak_hits} ", rows[0])
        self.assertIn(second_alert.time.strftime("%Y-%m-%d %H:%M:%S %z"), rows[1])
        self.assertIn("ongoing at exit", rows[1])
        peak = alerter.peak_hits
        self.assertIn(f" {peak} ({peak / alerter.window:.1f}/s)", rows[1])  # type: ignore[operator]
        self.assertNotIn(">=", rows[1])  # the ongoing alert's peak is known exactly
        self.assertTrue(rows[2].startswith("state   ALERT"))

    def test_no_alerts(self) -> None:
        text = format_summary(summary(Alerter(10, 120)))
        self.assertIn("alerts  none (average over 2m00s > 10 req/s)", text)
        self.assertIn("state   OK", text)


class AlertPeriodsTest(unittest.TestCase):
    def test_pairs_alerts_with_recoveries_and_marks_earlier_runs(self) -> None:
        alerter, _ = alerter_with_history(ongoing=True)
        earlier = earlier_run_events()
        periods = alert_periods(tuple(earlier) + alerter.history, earlier=len(earlier))
        self.assertEqual([period.earlier for period in periods], [True, False, False])
        self.assertEqual(periods[0].peak_hits, 2000)
        self.assertEqual(periods[0].duration(), 300.0)
        self.assertIsNone(periods[2].end)
        self.assertEqual(periods[2].start, alerter.history[-1].time)

    def test_alert_left_open_by_an_earlier_run(self) -> None:
        left_open = earlier_run_events()[0]
        new = AlertEvent("alert", 1500, 12.5, T0, 10.0, 120)
        periods = alert_periods([left_open, new], earlier=1)
        self.assertEqual([(period.start, period.end, period.earlier) for period in periods],
                         [(left_open.time, None, True), (T0, None, False)])


class FormatterTest(unittest.TestCase):
    def test_bytes(self) -> None:
        self.assertEqual(format_bytes(0), "0 B")
        self.assertEqual(format_bytes(1023), "1023 B")
        self.assertEqual(format_bytes(1536), "1.5 KiB")
        self.assertEqual(format_bytes(5 * 1024 ** 3), "5.0 GiB")

    def test_period_repeats_date_or_offset_only_when_they_change(self) -> None:
        end = T0 + timedelta(hours=12)
        self.assertEqual(format_period(T0, end), "2024-05-01 12:00:00 - 2024-05-02 00:00:00 +0200")
        utc = datetime(2024, 5, 1, 10, 0, 10, tzinfo=timezone.utc)
        self.assertEqual(format_period(T0, utc), "2024-05-01 12:00:00 +0200 - 2024-05-01 10:00:10 +0000")
        self.assertEqual(format_period(None, None), "(period unknown)")


if __name__ == "__main__":
    unittest.main()
