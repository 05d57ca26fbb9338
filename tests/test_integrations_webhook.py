"""Webhooks and the background worker behind every notifying output: loopback HTTP only."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
from typing import Callable, List, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.monitor import Monitor
from monilog.outputs.webhook import MAX_REDIRECTS, WebhookSink, check_url, redact
from monilog.outputs.worker import BackgroundWorker
from monilog.presentation.jsonlines import event_to_dict
from tests.support import (
    ALERT_TIMELINE,
    DEADLINE,
    T0,
    Answer,
    Problems,
    Recorder,
    RecordingServer,
    Request,
    closed_port,
    script,
    timeline,
    wait_for,
)


class WorkerTest(unittest.TestCase):
    def test_full_queue_drops_and_counts_instead_of_blocking(self) -> None:
        started, release = threading.Event(), threading.Event()
        delivered: List[int] = []

        def deliver(item: int, abandoned: threading.Event) -> None:
            started.set()
            release.wait(DEADLINE)
            delivered.append(item)

        problems = Problems()
        worker: BackgroundWorker[int] = BackgroundWorker("test", deliver, capacity=3, on_problem=problems)
        self.addCleanup(worker.close, 0)
        self.addCleanup(release.set)
        self.assertTrue(worker.submit(0))
        wait_for(started.is_set, "the first delivery to start")
        accepted = [worker.submit(item) for item in range(1, 6)]  # 3 fit behind the one in progress
        self.assertEqual(accepted, [True, True, True, False, False])
        self.assertEqual(worker.dropped, 2)
        release.set()
        worker.close()
        self.assertEqual(delivered, [0, 1, 2, 3])
        self.assertEqual(worker.delivered, 4)
        self.assertTrue(problems.matching("2 not delivered"), problems.lines)

    def test_failure_is_reported_and_the_next_item_still_delivered(self) -> None:
        delivered: List[str] = []

        def deliver(item: str, abandoned: threading.Event) -> None:
            if item == "bad":
                raise RuntimeError("endpoint exploded")
            delivered.append(item)

        problems = Problems()
        worker: BackgroundWorker[str] = BackgroundWorker("test", deliver, on_problem=problems)
        for item in ("bad", "good"):
            worker.submit(item)
        worker.close()
        self.assertEqual(delivered, ["good"])
        self.assertEqual((worker.failed, worker.delivered), (1, 1))
        self.assertEqual(problems.lines, ["test: RuntimeError: endpoint exploded"])

    def test_close_gives_up_on_a_stuck_delivery_and_counts_the_rest(self) -> None:
        def deliver(item: int, abandoned: threading.Event) -> None:
            abandoned.wait(DEADLINE)  # stuck until the worker gives up

        problems = Problems()
        worker: BackgroundWorker[int] = BackgroundWorker("test", deliver, on_problem=problems)
        for item in range(4):
            worker.submit(item)
        worker.close(drain=0.1)
        self.assertTrue(worker.abandoned.is_set())
        # the stuck one returns once abandoned; the rest is dropped without delivery
        wait_for(lambda: worker.delivered + worker.dropped == 4, "the worker to empty its queue")
        self.assertEqual((worker.delivered, worker.dropped), (1, 3))
        self.assertFalse(worker.submit(5))


class UrlTest(unittest.TestCase):
    def test_only_http_urls_with_a_host(self) -> None:
        self.assertEqual(check_url("https://hooks.example.com/x"), "https://hooks.example.com/x")
        for bad in ("ftp://example.com/", "http://", "example.com/hook", ""):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                check_url(bad)

    def test_reports_never_show_paths_queries_or_credentials(self) -> None:
        self.assertEqual(redact("https://user:pw@hooks.example.com:8443/services/T0/SECRET?token=abc"),
                         "https://hooks.example.com:8443/...")
        self.assertEqual(redact("http://127.0.0.1:9000"), "http://127.0.0.1:9000")


class WebhookSinkTest(unittest.TestCase):
    def server(self, *statuses: int) -> RecordingServer:
        server = RecordingServer(statuses).start()
        self.addCleanup(server.stop)
        return server

    def test_one_post_per_event_with_the_event_json(self) -> None:
        server = self.server()
        problems = Problems()
        webhook = WebhookSink([server.url + "/hook"], on_problem=problems)
        recorder = Recorder()
        monitor = Monitor(2, 10, 10, sinks=[recorder, webhook])
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        webhook.close()  # drains: every event is delivered before close returns
        self.assertEqual([event.kind for event in recorder.events], ["alert", "recover"])
        bodies = [json.loads(request.body) for request in server.received]
        ids = [body.pop("id") for body in bodies]
        self.assertEqual(bodies, [event_to_dict(event) for event in recorder.events])  # the schema, plus "id"
        self.assertEqual(ids, [request.headers["Idempotency-Key"] for request in server.received])
        self.assertEqual(len(set(ids)), 2)
        self.assertTrue(all(r.path == "/hook" and r.content_type == "application/json" for r in server.received))
        self.assertEqual(problems.lines, [])

    def test_server_error_is_retried_until_it_succeeds(self) -> None:
        server = self.server(503, 500)
        problems = Problems()
        webhook = WebhookSink([server.url], backoff=0.01, on_problem=problems)
        recorder = Recorder()
        Monitor(2, 10, 10, sinks=[recorder, webhook]).feed("a.log", timeline([3] * 10))
        webhook.close()
        self.assertEqual(len(recorder.events), 1)
        self.assertEqual(len(server.received), 3)  # 503, 500, then 200
        self.assertEqual(len({request.body for request in server.received}), 1)
        self.assertEqual(len({request.headers["Idempotency-Key"] for request in server.received}), 1)
        self.assertEqual(problems.lines, [])

    def test_client_error_is_final_and_reported(self) -> None:
        server = self.server(404)
        problems = Problems()
        webhook = WebhookSink([server.url + "/secret-token"], backoff=0.01, on_problem=problems)
        Monitor(2, 10, 10, sinks=[webhook]).feed("a.log", timeline([3] * 10))
        webhook.close()
        self.assertEqual(len(server.received), 1)
        self.assertEqual(len(problems.lines), 1)
        self.assertIn("HTTP 404", problems.lines[0])
        self.assertNotIn("secret-token", problems.lines[0])

    def test_each_endpoint_gets_every_event_even_when_another_is_dead(self) -> None:
        server = self.server()
        problems = Problems()
        webhook = WebhookSink([f"http://127.0.0.1:{closed_port()}/", server.url], backoff=0.01, on_problem=problems)
        recorder = Recorder()
        monitor = Monitor(2, 10, 10, sinks=[recorder, webhook])
        monitor.feed("a.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        webhook.close()
        self.assertEqual(len(server.received), len(recorder.events))
        self.assertEqual(len(problems.matching("POST failed")), len(recorder.events))


ALERT = AlertEvent("alert", 21, 2.1, T0, 2.0, 10)


def redirecting(code: int, location: str) -> Callable[[Request], Answer]:
    """A server script: POSTs to ``/old`` are answered ``code`` to ``location``, the rest 200."""
    return lambda request: (code, {"Location": location}) if request.path == "/old" else (200, {})


class SlowEndpointTest(unittest.TestCase):
    """An endpoint slower than the timeout: retried with the same id, its late answer still counts."""

    def slow_server(self, late: bool) -> RecordingServer:
        """Answers 200 at the end of the test, except (when ``late``) the first request: once a retry came."""
        retried, release = threading.Event(), threading.Event()
        requests = itertools.count()

        def respond(request: Request) -> Answer:
            if next(requests) == 0 and late:
                retried.wait(DEADLINE)
            else:
                retried.set()
                release.wait(DEADLINE)
            return 200, {}

        server = RecordingServer(respond=respond).start()
        self.addCleanup(server.stop)
        self.addCleanup(release.set)
        return server

    def test_a_late_answer_to_an_earlier_try_counts_as_delivered(self) -> None:
        server = self.slow_server(late=True)
        problems = Problems()
        # the first try is answered as the second arrives; the delivery listens for 4 more timeouts
        webhook = WebhookSink([server.url], timeout=0.5, attempts=5, backoff=0.01, on_problem=problems)
        webhook.event(ALERT)
        webhook.close()
        worker = webhook.workers[0]
        self.assertEqual((worker.delivered, worker.failed), (1, 0), problems.lines)
        self.assertEqual(problems.lines, [])
        self.assertGreaterEqual(len(server.received), 2)
        self.assertEqual(len({request.body for request in server.received}), 1)
        key = json.loads(server.received[0].body)["id"]
        self.assertEqual({request.headers["Idempotency-Key"] for request in server.received}, {key})

    def test_no_answer_at_all_fails_after_every_try(self) -> None:
        server = self.slow_server(late=False)
        problems = Problems()
        webhook = WebhookSink([server.url], timeout=0.1, attempts=2, backoff=0.01, on_problem=problems)
        webhook.event(ALERT)
        webhook.close()
        self.assertEqual(webhook.workers[0].failed, 1)
        self.assertEqual(problems.lines, [f"webhook {server.url}: POST failed: no answer within 0.1 s (after 2 attempts)"])
        wait_for(lambda: len(server.received) == 2, "both tries to reach the server")


class RedirectTest(unittest.TestCase):
    """A 307 / 308 is followed with the same POST; a 301 / 302 / 303 (POST turned into GET) is refused."""

    def deliver(self, respond: Callable[[Request], Answer]) -> Tuple[RecordingServer, WebhookSink, Problems]:
        server = RecordingServer(respond=respond).start()
        self.addCleanup(server.stop)
        problems = Problems()
        webhook = WebhookSink([server.url + "/old"], backoff=0.01, on_problem=problems)
        webhook.event(ALERT)
        webhook.close()
        return server, webhook, problems

    def test_307_and_308_post_the_same_body_and_headers_again(self) -> None:
        for code in (307, 308):
            with self.subTest(code=code):
                server, webhook, problems = self.deliver(redirecting(code, "/new"))
                self.assertEqual([(r.method, r.path) for r in server.received], [("POST", "/old"), ("POST", "/new")])
                first, second = server.received
                self.assertEqual(first.body, second.body)
                self.assertEqual(json.loads(second.body)["type"], "alert")
                for header in ("Content-Type", "User-Agent", "Idempotency-Key"):
                    self.assertEqual(first.headers[header], second.headers[header])
                self.assertEqual((webhook.workers[0].delivered, webhook.workers[0].failed), (1, 0))
                self.assertEqual(problems.lines, [])

    def test_301_302_303_fail_naming_the_new_location(self) -> None:
        for code in (301, 302, 303):
            with self.subTest(code=code):
                server, webhook, problems = self.deliver(redirecting(code, "/services/SECRET"))
                self.assertEqual([(r.method, r.path) for r in server.received], [("POST", "/old")])  # no GET
                self.assertEqual((webhook.workers[0].delivered, webhook.workers[0].failed), (0, 1))
                self.assertEqual(len(problems.lines), 1, problems.lines)
                self.assertIn(f"HTTP {code}", problems.lines[0])
                self.assertIn(f"moved to {server.url}/...", problems.lines[0])
                self.assertNotIn("SECRET", problems.lines[0])

    def test_redirects_are_bounded(self) -> None:
        server, webhook, problems = self.deliver(lambda request: (307, {"Location": request.path}))
        self.assertEqual(len(server.received), MAX_REDIRECTS + 1)
        self.assertEqual(webhook.workers[0].failed, 1)
        self.assertEqual(len(problems.matching(f"more than {MAX_REDIRECTS} redirects")), 1, problems.lines)

    def test_redirect_away_from_http_is_refused(self) -> None:
        server, _, problems = self.deliver(redirecting(308, "ftp://127.0.0.1/x"))
        self.assertEqual(len(server.received), 1)
        self.assertEqual(len(problems.matching("not http(s)")), 1, problems.lines)


class WebhookCommandTest(unittest.TestCase):
    """``monitoring --replay --webhook`` in a subprocess."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-webhook-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.log = os.path.join(self.dir, "access.log")
        with open(self.log, "w", encoding="utf-8") as handle:
            handle.writelines(timeline(ALERT_TIMELINE))

    def replay(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [script("monitoring"), "--replay", "--json", "--no-log-file", "-t", "2", "-w", "10", self.log, *args],
            capture_output=True, text=True, timeout=120, cwd=self.dir, stdin=subprocess.DEVNULL,
        )

    def test_replay_posts_each_event_of_its_output_once(self) -> None:
        server = RecordingServer().start()
        self.addCleanup(server.stop)
        result = self.replay("--webhook", server.url + "/a", "--webhook", server.url + "/b")
        self.assertEqual(result.returncode, 0, result.stderr)
        events = [obj for obj in map(json.loads, result.stdout.splitlines()) if obj["type"] in ("alert", "recover")]
        self.assertEqual(len(events), 2)
        bodies = {path: [json.loads(r.body) for r in server.received if r.path == path] for path in ("/a", "/b")}
        self.assertEqual([body["id"] for body in bodies["/a"]], [body["id"] for body in bodies["/b"]])  # per event
        for posted in bodies.values():
            self.assertEqual([{key: value for key, value in body.items() if key != "id"} for body in posted], events)
        self.assertEqual(len(server.received), 4)

    def test_dead_endpoint_does_not_stop_monitoring(self) -> None:
        with open(self.log, "w", encoding="utf-8") as handle:  # one alert: one delivery of 3 tries, 3 s of backoff
            handle.writelines(timeline([3] * 20))
        result = self.replay("--webhook", f"http://127.0.0.1:{closed_port()}/hook")
        self.assertEqual(result.returncode, 0, result.stderr)
        types = [json.loads(text)["type"] for text in result.stdout.splitlines()]
        self.assertEqual((types.count("report"), types.count("alert")), (2, 1))
        self.assertEqual(types[-1], "summary")
        self.assertIn("POST failed", result.stderr + result.stdout)  # a notice while running, else stderr
        self.assertNotIn("Traceback", result.stderr)

    def test_bad_url_is_refused_at_start(self) -> None:
        result = self.replay("--webhook", "ftp://example.com/hook")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--webhook", result.stderr)
        self.assertEqual(result.stdout, "")


if __name__ == "__main__":
    unittest.main()
