"""Notifications through apprise (optional extra), delivered to a loopback JSON endpoint."""

from __future__ import annotations

import json
import socket
import unittest

from monilog.monitor import Monitor
from monilog.outputs.notify import NotifySink
from tests.support import (
    ALERT_TIMELINE,
    Problems,
    Recorder,
    RecordingServer,
    assert_missing_extra_refused,
    closed_port,
    timeline,
)

try:
    import apprise
except ImportError:
    apprise = None



class MissingExtraTest(unittest.TestCase):
    def test_without_apprise_notify_is_a_one_line_error_naming_the_extra(self) -> None:
        assert_missing_extra_refused(self, "apprise", "notify", "--notify", "json://127.0.0.1:9/")


@unittest.skipIf(apprise is None, "apprise is not installed (pip install 'monilog[notify]')")
class NotifySinkTest(unittest.TestCase):
    def test_each_event_is_one_notification_with_its_message(self) -> None:
        server = RecordingServer().start()
        self.addCleanup(server.stop)
        problems = Problems()
        sink = NotifySink([server.url.replace("http://", "json://") + "/notify"], on_problem=problems)
        recorder = Recorder()
        monitor = Monitor(2, 10, 10, sinks=[recorder, sink])
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        sink.close()
        self.assertEqual(problems.lines, [])
        bodies = [json.loads(request.body) for request in server.received]
        self.assertEqual([body["message"] for body in bodies], [event.message for event in recorder.events])
        self.assertEqual([body["type"] for body in bodies], ["failure", "success"])
        host = socket.gethostname()
        self.assertEqual([body["title"] for body in bodies],
                         [f"[{host}] monilog: high traffic alert", f"[{host}] monilog: traffic back to normal"])

    def test_unreachable_service_is_reported_not_raised(self) -> None:
        problems = Problems()
        sink = NotifySink([f"json://127.0.0.1:{closed_port()}/"], on_problem=problems)
        Monitor(2, 10, 10, sinks=[sink]).feed("access.log", timeline([3] * 10))
        sink.close()
        self.assertEqual(len(problems.matching("could not deliver the alert")), 1, problems.lines)

    def test_url_apprise_does_not_know_is_refused_without_echoing_it(self) -> None:
        with self.assertRaises(ValueError) as caught:
            NotifySink(["nosuchscheme://user:secret@host/"])
        self.assertNotIn("secret", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
