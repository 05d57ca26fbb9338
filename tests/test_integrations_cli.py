"""The integration options as ``monitoring`` builds them: checks before start, problems routed as notices."""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import List

from monilog.cli import integrations
from monilog.cli.monitoring import build_parser
from monilog.cli.monitoring import main as monitoring_main
from monilog.monitor import Monitor
from monilog.outputs.sink import Sink
from monilog.outputs.webhook import TIMEOUT, WebhookSink
from tests.support import ALERT_TIMELINE, timeline, wait_for


class NoticeRecorder(Sink):
    def __init__(self) -> None:
        self.notices: List[str] = []

    def notice(self, message: str) -> None:
        self.notices.append(message)


class WebhookTimeoutTest(unittest.TestCase):
    def test_the_timeout_reaches_the_webhook(self) -> None:
        for argv, timeout in ((["--webhook-timeout", "0.25"], 0.25), ([], TIMEOUT)):
            with self.subTest(argv=argv):
                extra = integrations.build(build_parser().parse_args(["--webhook", "http://127.0.0.1:9/", *argv]))
                for sink in extra.sinks:
                    self.addCleanup(sink.close)
                [webhook] = [sink for sink in extra.sinks if isinstance(sink, WebhookSink)]
                self.assertEqual(webhook.timeout, timeout)

    def test_bad_values_are_one_line_and_exit_2(self) -> None:
        hook = ["--webhook", "http://127.0.0.1:9/"]
        cases = [[*hook, "--webhook-timeout", bad] for bad in ("0", "-1", "soon", "nan", "inf", "3601")]
        for options in [*cases, ["--webhook-timeout", "5"]]:  # the last: no webhook to time out
            with self.subTest(options=options):
                stderr = io.StringIO()
                with contextlib.redirect_stderr(stderr):
                    status = monitoring_main(["--replay", "--no-log-file", *options, __file__])
                self.assertEqual(status, 2)
                self.assertEqual(len(stderr.getvalue().splitlines()), 1, stderr.getvalue())
                self.assertIn("webhook-timeout", stderr.getvalue())


class BuildTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-integrations-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def build(self, *argv: str) -> integrations.Integrations:
        extra = integrations.build(build_parser().parse_args(list(argv)))
        self.addCleanup(lambda: [sink.close() for sink in extra.sinks])
        return extra

    def test_a_failing_hook_is_a_notice_of_the_running_monitor(self) -> None:
        failing = shlex.join([sys.executable, "-c", "import sys; sys.exit(7)"])
        extra = self.build("--exec", failing)
        recorder = NoticeRecorder()
        monitor = Monitor(2, 10, 10, sinks=[recorder, *extra.sinks])
        extra.start(monitor)
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        wait_for(lambda: len(recorder.notices) == 2, "both failures as notices")
        self.assertTrue(all("exited with status 7" in notice for notice in recorder.notices), recorder.notices)
        self.assertEqual(monitor.finish().notices, {integrations.PROBLEM_KIND: 2})

    def test_nothing_is_created_when_an_option_cannot_work(self) -> None:
        alerts = os.path.join(self.dir, "alerts.jsonl")
        with self.assertRaises(ValueError) as caught:
            self.build("--alert-file", alerts, "--exec", "no-such-program-for-monilog")
        self.assertIn("--exec", str(caught.exception))
        self.assertFalse(os.path.exists(alerts))

    def test_alert_file_notice_is_given_at_start(self) -> None:
        alerts = os.path.join(self.dir, "alerts.jsonl")
        with open(alerts, "w", encoding="utf-8") as handle:
            handle.write("garbage\n")
        extra = self.build("--alert-file", alerts)
        recorder = NoticeRecorder()
        extra.start(Monitor(sinks=[recorder]))
        self.assertEqual(recorder.notices, [f"alert file {alerts}: 1 unreadable line skipped"])
        self.assertEqual(extra.history, ())

    def test_a_run_without_integrations_loads_none_of_their_modules(self) -> None:
        log = os.path.join(self.dir, "access.log")
        with open(log, "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in timeline(ALERT_TIMELINE)))
        script = ("import sys\nfrom monilog.cli.monitoring import main\n"
                  f"sys.argv = ['monitoring', '--replay', {log!r}, '--json', '--no-log-file']\n"
                  "try:\n    main()\nexcept SystemExit:\n    pass\n"
                  "print(' '.join(sorted(name for name in sys.modules if name.startswith(('monilog.outputs.', 'monilog.web')))),"
                  " 'http.client' in sys.modules, file=sys.stderr)\n")
        finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        loaded = finished.stderr.split()
        self.assertEqual(loaded[-1], "False", "http.client was loaded")
        unused = {"monilog.outputs.webhook", "monilog.outputs.execute", "monilog.outputs.prometheus",
                  "monilog.outputs.notify", "monilog.outputs.alertfile", "monilog.outputs.kafka", "monilog.web.server"}
        self.assertEqual(unused & set(loaded), set(), finished.stderr)
        self.assertIn("monilog.outputs.console", loaded)  # the check sees what a run loads


if __name__ == "__main__":
    unittest.main()
