"""JSON lines: the public schema's exact keys, ISO times with offsets, safe single lines."""

from __future__ import annotations

import json
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict

from monilog.accumulation.alerter import Alerter
from monilog.presentation.jsonlines import dumps, event_to_dict, notice_to_dict, report_to_dict, summary_to_dict
from tests.presentation_samples import HOSTILE_SECTION, T0, alerter_with_history, report, sample_snapshot, summary

TRAFFIC_KEYS = {
    "hits", "rps", "bytes", "bytes_mean", "errors", "error_rate", "late", "sections", "status",
    "status_codes", "methods", "clients", "users", "unique_clients", "unique_clients_exact", "skipped",
}
ALERT_STATE_KEYS = {"alerting", "window_hits", "window_average", "threshold", "window"}
REPORT_KEYS = {"type", "start", "end", "duration", "skipped_total"} | TRAFFIC_KEYS | ALERT_STATE_KEYS
EVENT_KEYS = {"type", "time", "hits", "average", "threshold", "window", "message"}
RECOVER_KEYS = EVENT_KEYS | {"started", "duration_seconds", "peak_hits"}
SUMMARY_KEYS = {
    "type", "files", "lines", "parsed", "malformed", "late_hits", "outlier_hits", "first", "last",
    "duration", "notices", "alerts", "earlier_alerts",
} | TRAFFIC_KEYS | ALERT_STATE_KEYS


def _round_trip(obj: Dict[str, Any]) -> Dict[str, Any]:
    line = dumps(obj)
    if "\n" in line or "\r" in line:
        raise AssertionError(f"not a single line: {line!r}")
    return json.loads(line)


def _offset(text: str) -> timedelta:
    offset = datetime.fromisoformat(text).utcoffset()
    assert offset is not None, text
    return offset


class ReportJsonTest(unittest.TestCase):
    def setUp(self) -> None:
        self.stats = sample_snapshot()
        self.data = _round_trip(report_to_dict(report(self.stats), top=3))

    def test_exact_keys(self) -> None:
        self.assertEqual(set(self.data), REPORT_KEYS)
        self.assertEqual(self.data["type"], "report")
        for section in self.data["sections"]:
            self.assertEqual(set(section), {"section", "hits", "share", "errors", "bytes"})
        for client in self.data["clients"]:
            self.assertEqual(set(client), {"client", "hits"})
        self.assertEqual(self.data["users"], [{"user": "alice", "hits": 300}])

    def test_times_are_iso_with_the_log_offset(self) -> None:
        self.assertEqual(datetime.fromisoformat(self.data["start"]), T0)
        self.assertEqual(datetime.fromisoformat(self.data["end"]), T0 + timedelta(seconds=10))
        self.assertEqual(_offset(self.data["start"]), timedelta(hours=2))

    def test_figures(self) -> None:
        data, stats = self.data, self.stats
        self.assertEqual((data["hits"], data["bytes"], data["errors"], data["late"]),
                         (stats.hits, stats.bytes_total, 40, 2))
        self.assertAlmostEqual(data["rps"], stats.hits / 10)
        self.assertAlmostEqual(data["error_rate"], 40 / stats.hits, places=6)
        self.assertEqual([s["section"] for s in data["sections"]], ["/api", "/pages", HOSTILE_SECTION])
        self.assertEqual(data["sections"][0]["errors"], 30)
        self.assertAlmostEqual(data["sections"][0]["share"], 600 / stats.hits, places=6)
        self.assertEqual(data["status"], {"1xx": 0, "2xx": 900, "3xx": 5, "4xx": 10, "5xx": 30})
        self.assertEqual(data["status_codes"], {"200": 900, "500": 20, "404": 10, "503": 10, "301": 5})
        self.assertEqual(data["methods"], {"GET": 605, "POST": 300, "PUT": 40})
        self.assertEqual(data["skipped"], {"bad timestamp": 1, "malformed": 2})
        self.assertEqual(data["skipped_total"], 3)
        self.assertEqual((data["alerting"], data["window_hits"], data["threshold"], data["window"]),
                         (True, 1488, 10.0, 120))

    def test_log_strings_are_kept_exactly_and_escaped_on_the_line(self) -> None:
        line = dumps(report_to_dict(report(self.stats), top=10))
        for raw in ("\x1b", "\x07", "\u202e"):
            self.assertNotIn(raw, line)
        clients = [client["client"] for client in json.loads(line)["clients"]]
        self.assertIn("\x1b[31mevil", clients)


class EventJsonTest(unittest.TestCase):
    def test_alert_and_recover_objects(self) -> None:
        alerter, _ = alerter_with_history(ongoing=False)
        alert, recover = (_round_trip(event_to_dict(event)) for event in alerter.history[:2])
        self.assertEqual(set(alert), EVENT_KEYS)
        self.assertEqual(set(recover), RECOVER_KEYS)
        self.assertEqual((alert["type"], recover["type"]), ("alert", "recover"))
        event = alerter.history[0]
        self.assertEqual(datetime.fromisoformat(alert["time"]), event.time)
        self.assertEqual(_offset(alert["time"]), timedelta(hours=2))
        self.assertEqual((alert["hits"], alert["threshold"], alert["window"], alert["message"]),
                         (event.hits, 10.0, 120, event.message))
        self.assertAlmostEqual(alert["average"], event.hits / 120, places=6)
        self.assertEqual(recover["started"], alert["time"])
        elapsed = datetime.fromisoformat(recover["time"]) - datetime.fromisoformat(recover["started"])
        self.assertEqual(recover["duration_seconds"], elapsed.total_seconds())
        self.assertEqual(recover["peak_hits"], alerter.history[1].peak_hits)

    def test_notice(self) -> None:
        self.assertEqual(_round_trip(notice_to_dict("rotated a\x1b")), {"type": "notice", "message": "rotated a\x1b"})


class SummaryJsonTest(unittest.TestCase):
    def test_exact_keys_and_history(self) -> None:
        alerter, _ = alerter_with_history(ongoing=True)
        run = summary(alerter)
        data = _round_trip(summary_to_dict(run))
        self.assertEqual(set(data), SUMMARY_KEYS)
        self.assertEqual(data["type"], "summary")
        self.assertEqual((data["lines"], data["parsed"], data["malformed"]), (run.lines, run.parsed, 3))
        self.assertEqual((data["late_hits"], data["outlier_hits"], data["late"]), (3, 1, 2))
        self.assertEqual(data["alerts"], [_round_trip(event_to_dict(event)) for event in alerter.history])
        self.assertEqual([event["type"] for event in data["alerts"]], ["alert", "recover", "alert"])
        self.assertTrue(data["alerting"])
        self.assertEqual(data["files"], ["/var/log/nginx/access.log"])
        self.assertEqual(data["notices"], {"rotation": 1})

    def test_first_and_last_are_utc(self) -> None:
        alerter, _ = alerter_with_history(ongoing=False)
        data = summary_to_dict(summary(alerter))
        self.assertEqual(_offset(data["first"]), timedelta(0))
        self.assertEqual(datetime.fromisoformat(data["first"]), T0)
        self.assertEqual(datetime.fromisoformat(data["last"]).timestamp(), alerter.clock)

    def test_nothing_read(self) -> None:
        run = summary(Alerter(10, 120))._replace(first_time=None, last_time=None)
        data = _round_trip(summary_to_dict(run))
        self.assertIsNone(data["first"])
        self.assertEqual(data["alerts"], [])
        self.assertFalse(data["alerting"])


class DumpsTest(unittest.TestCase):
    def test_terminal_acting_characters_are_escaped_and_round_trip(self) -> None:
        value = "x\x1b\x9b\u202e\u2028\ufeff\udcff\U000e0041\u00e9\u65e5y"
        line = dumps({"v": value})
        for char in "\x1b\x9b\u202e\u2028\ufeff\udcff\U000e0041":
            self.assertNotIn(char, line)
        self.assertIn("\u00e9\u65e5", line)  # readable UTF-8 otherwise
        self.assertEqual(json.loads(line), {"v": value})
        line.encode("utf-8")  # no lone surrogate left to fail on output

    def test_compact(self) -> None:
        self.assertEqual(dumps({"a": 1, "b": [1, 2]}), '{"a":1,"b":[1,2]}')

    def test_not_a_number_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            dumps({"a": float("nan")})

    def test_epoch_times_are_converted_in_utc(self) -> None:
        run = summary(Alerter(10, 120))._replace(first_time=0.0)
        self.assertEqual(summary_to_dict(run)["first"], datetime(1970, 1, 1, tzinfo=timezone.utc).isoformat())


if __name__ == "__main__":
    unittest.main()
