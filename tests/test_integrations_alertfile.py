"""The alert file: every alert and recovery appended as JSON, read back as history by the next run."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from datetime import timedelta
from typing import Dict, List

from monilog.accumulation.alerter import AlertEvent
from monilog.cli.monitoring import main as monitoring_main
from monilog.monitor import Monitor
from monilog.outputs.alertfile import (
    MAX_LINE_BYTES,
    AlertFileSink,
    describe_history,
    read_alert_file,
)
from monilog.presentation.jsonlines import event_to_dict
from tests.support import ALERT_TIMELINE, T0, Recorder, script, timeline


class AlertFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-alerts-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.path = os.path.join(self.dir, "alerts.jsonl")

    def run_monitor(self, rates: List[int], start=T0, history=()) -> Monitor:
        recorder = Recorder()
        sink = AlertFileSink(self.path)
        monitor = Monitor(2, 10, 10, sinks=[recorder, sink], history=history)
        monitor.feed("access.log", timeline(rates, start))
        self.summary = monitor.finish()
        sink.close()
        self.recorded = recorder.events
        return monitor

    def test_events_survive_a_restart_as_earlier_alerts(self) -> None:
        self.run_monitor(ALERT_TIMELINE)
        first_run = self.recorded
        history = read_alert_file(self.path)
        self.assertEqual(history.events, tuple(first_run))
        self.assertEqual((history.total, history.bad_lines), (2, 0))

        monitor = self.run_monitor([3] * 20, start=T0 + timedelta(hours=1), history=history.events)
        view = monitor.view()
        self.assertEqual((view.earlier_alerts, self.summary.earlier_alerts), (2, 2))
        self.assertEqual(self.summary.alerts, tuple(first_run) + tuple(self.recorded))
        self.assertEqual(view.history, tuple(first_run) + tuple(self.recorded))
        self.assertEqual(read_alert_file(self.path).events, view.history)

    def test_a_cut_last_line_is_counted_and_the_next_event_stays_whole(self) -> None:
        self.run_monitor(ALERT_TIMELINE)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write('{"type": "alert", "time": "2024-05-01T13:')  # a crash in the middle of a write
        history = read_alert_file(self.path)
        self.assertEqual((len(history.events), history.bad_lines), (2, 1))
        self.assertEqual(describe_history(self.path, history), f"alert file {self.path}: 1 unreadable line skipped")

        self.run_monitor([3] * 20, start=T0 + timedelta(hours=1), history=history.events)
        again = read_alert_file(self.path)
        self.assertEqual((len(again.events), again.bad_lines), (3, 1))
        self.assertEqual(again.events[-1], self.recorded[-1])

    def test_garbage_lines_of_every_kind_are_skipped(self) -> None:
        self.run_monitor(ALERT_TIMELINE)
        good = open(self.path, encoding="utf-8").read()
        alert = json.loads(good.splitlines()[0])
        garbage = [
            b"not json", b"[1, 2]", b'{"type": "report"}', b"\xff\xfe binary",
            json.dumps({**alert, "hits": "many"}).encode(), json.dumps({**alert, "time": "yesterday"}).encode(),
            json.dumps({**alert, "window": 0}).encode(), json.dumps({**alert, "time": "2024-05-01T12:00:00"}).encode(),
        ]
        with open(self.path, "ab") as handle:
            handle.write(b"\n".join(garbage) + b"\n\n")
        history = read_alert_file(self.path)
        self.assertEqual((len(history.events), history.bad_lines), (2, len(garbage)))

    def test_hostile_lines_are_skipped_and_counted_never_fatal(self) -> None:
        self.run_monitor(ALERT_TIMELINE)
        with open(self.path, encoding="utf-8") as handle:
            alert, recover = map(json.loads, handle)
        huge = int("9" * 400)
        hostile = [json.dumps(obj) for obj in (
            {**alert, "hits": huge}, {**alert, "threshold": huge}, {**alert, "window": huge},
            {**recover, "peak_hits": huge}, {**alert, "hits": 2 ** 63},
            {**alert, "hits": 21.0}, {**alert, "hits": -1}, {**alert, "hits": True}, {**alert, "hits": None},
            {**alert, "threshold": "2"}, {**alert, "threshold": 0}, {**alert, "threshold": False},
            {**alert, "window": [10]}, {**alert, "time": 1714557607}, {**alert, "time": None},
            {**alert, "time": "0001-01-01T00:00:00+01:00"}, {**alert, "time": "9999-12-31T23:59:59-01:00"},
            {**recover, "started": recover["time"], "time": alert["time"]},  # ends before it starts
            {**recover, "started": "soon"}, {**alert, "type": "notice"}, {**alert, "type": None},
            {key: value for key, value in alert.items() if key != "type"}, "alert", None, 21,
        )] + [
            line.replace('"threshold":2', f'"threshold":{number}') for number in ("NaN", "Infinity", "-Infinity", "1e999")
            for line in [json.dumps(alert, separators=(",", ":"))]
        ] + [
            '{"hits": ' + "9" * 5000 + "}",  # past Python's limit on digits
            "[" * 100_000 + "]" * 100_000,  # nested too deep for the decoder
            json.dumps({**alert, "padding": "x" * MAX_LINE_BYTES}),  # too long to read back
            "\x00\x1b[2J",
        ]
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(hostile) + "\n")
        history = read_alert_file(self.path)
        self.assertEqual(history.events, tuple(self.recorded))
        self.assertEqual((history.total, history.bad_lines), (2, len(hostile)))

    def test_only_the_last_events_are_kept(self) -> None:
        self.run_monitor(ALERT_TIMELINE)
        history = read_alert_file(self.path, limit=1)
        self.assertEqual([event.kind for event in history.events], ["recover"])
        self.assertEqual(history.total, 2)
        self.assertIn("showing the last 1 of 2 events", describe_history(self.path, history) or "")

    def test_missing_file_is_an_empty_history_and_a_directory_an_error(self) -> None:
        self.assertEqual(read_alert_file(self.path), ((), 0, 0))
        self.assertIsNone(describe_history(self.path, read_alert_file(self.path)))
        with self.assertRaises(OSError):
            read_alert_file(self.dir)


class AlertFileCommandTest(unittest.TestCase):
    """Two runs of ``monitoring --replay --alert-file``: the second shows the first one's alerts."""

    def test_round_trip_across_two_runs(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-alerts-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        alerts = os.path.join(directory, "alerts.jsonl")
        first_log, second_log = os.path.join(directory, "day1.log"), os.path.join(directory, "day2.log")
        with open(first_log, "w", encoding="utf-8") as handle:
            handle.writelines(timeline(ALERT_TIMELINE))
        with open(second_log, "w", encoding="utf-8") as handle:
            handle.writelines(timeline([3] * 20, T0 + timedelta(days=1)))

        def run(log: str) -> List[Dict]:
            result = subprocess.run(
                [script("monitoring"), "--replay", "--json", "--no-log-file", "-t", "2", "-w", "10",
                 "--alert-file", alerts, log],
                capture_output=True, text=True, timeout=120, cwd=directory, stdin=subprocess.DEVNULL,
            )
            self.assertEqual(result.returncode, 0, result.stderr)
            return [json.loads(text) for text in result.stdout.splitlines()]

        first = run(first_log)
        first_events = [obj for obj in first if obj["type"] in ("alert", "recover")]
        self.assertEqual([event["type"] for event in first_events], ["alert", "recover"])
        with open(alerts, "a", encoding="utf-8") as handle:
            handle.write('{"type": "recover", "ti')  # the first run was killed while writing

        second = run(second_log)
        second_events = [obj for obj in second if obj["type"] in ("alert", "recover")]
        self.assertEqual([event["type"] for event in second_events], ["alert"])
        summary = second[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["alerts"], first_events + second_events)
        self.assertEqual(summary["earlier_alerts"], len(first_events))
        notices = [obj["message"] for obj in second if obj["type"] == "notice"]
        self.assertEqual(notices, [f"alert file {alerts}: 1 unreadable line skipped"])
        self.assertEqual(summary["notices"].get("alert-file"), 1)
        self.assertEqual([event_to_dict(event) for event in read_alert_file(alerts).events],
                         first_events + second_events)

    def test_an_absurd_number_costs_a_notice_not_the_start(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-alerts-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        alerts, log = os.path.join(directory, "alerts.jsonl"), os.path.join(directory, "access.log")
        open(log, "w").close()
        alert = event_to_dict(AlertEvent("alert", 21, 2.1, T0, 2.0, 10))
        with open(alerts, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(obj) + "\n" for obj in (alert, {**alert, "hits": int("9" * 400)}, "x"))
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = monitoring_main(["--replay", "--json", "--no-log-file", "--alert-file", alerts, log])
        self.assertEqual((status, stderr.getvalue()), (0, ""))
        objects = [json.loads(text) for text in stdout.getvalue().splitlines()]
        self.assertEqual([obj["message"] for obj in objects if obj["type"] == "notice"],
                         [f"alert file {alerts}: 2 unreadable lines skipped"])
        self.assertEqual(objects[-1]["earlier_alerts"], 1)

    def test_unreadable_alert_file_is_refused_at_start(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-alerts-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        log = os.path.join(directory, "access.log")
        open(log, "w").close()
        result = subprocess.run(
            [script("monitoring"), "--replay", "--no-log-file", "--alert-file", directory, log],
            capture_output=True, text=True, timeout=120, cwd=directory, stdin=subprocess.DEVNULL,
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"--alert-file {directory}:", result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
