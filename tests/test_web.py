"""``--web`` and ``--html`` in a real headless browser (chromium), and the server without one.

Set ``MONILOG_SCREENSHOTS=DIR`` to keep screenshots (1280x800 and 390x844) of the live page
during an alert and of the static report.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from monilog.web.server import QUEUE_MESSAGES, Broadcaster
from tests.browser import Browser
from tests.support import DEADLINE, T0, script, wait_for

XSS_PATH = "/<img src=x onerror=document.title='pwned';window.__pwned=1>"
XSS_USER = "<script>window.__pwned=2</script>"
XSS_AGENT = "<svg onload=window.__pwned=3>"
TITLES = ("monilog live", "ALERT · monilog live", "monilog report")

SCREENSHOTS = os.environ.get("MONILOG_SCREENSHOTS")


def combined(moment: datetime, path: str = "/api/users", user: str = "-", agent: str = "curl/8") -> str:
    return (f'10.0.0.9 - {user} [{moment.strftime("%d/%b/%Y:%H:%M:%S %z")}] "GET {path} HTTP/1.1" 200 512 '
            f'"-" "{agent}"\n')


def get(url: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
    """Status, headers and body of a GET (errors included)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=DEADLINE) as response:
            return response.status, dict(response.headers), response.read(200_000)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Monitoring:
    """A ``monitoring --json`` process whose JSON lines are collected, each with when it was read."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([script("monitoring"), "--json", "--no-log-file", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[Tuple[float, Dict[str, Any]]]" = queue.Queue()
        self.seen: List[Tuple[float, Dict[str, Any]]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self.lines.put((time.monotonic(), json.loads(text)))

    def first(self, kind: str, deadline: float = DEADLINE) -> Tuple[float, Dict[str, Any]]:
        """The first JSON object of ``kind`` (waiting for it) and when it was read."""
        end = time.monotonic() + deadline
        while True:
            for when, data in self.seen:
                if data["type"] == kind:
                    return when, data
            try:
                self.seen.append(self.lines.get(timeout=max(0.01, end - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"monitoring wrote no {kind} object in {deadline:g} s") from None

    def url(self) -> str:
        _, notice = self.first("notice")
        found = re.search(r"live page on (http://\S+/)", notice["message"])
        assert found, notice
        return found.group(1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class BroadcasterTest(unittest.TestCase):
    def test_a_client_that_falls_behind_is_dropped_without_waiting(self) -> None:
        broadcaster = Broadcaster()
        slow, fast = broadcaster.join(), broadcaster.join()
        assert slow is not None and fast is not None
        started = time.monotonic()
        for index in range(QUEUE_MESSAGES + 1):
            broadcaster.send(b"data: %d\n\n" % index)
            if index < QUEUE_MESSAGES - 1:
                fast.queue.get_nowait()  # the fast client keeps up
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertTrue(slow.dropped)
        self.assertEqual((broadcaster.clients, broadcaster.dropped), (1, 1))
        self.assertFalse(fast.dropped)

    def test_clients_beyond_the_limit_are_refused(self) -> None:
        broadcaster = Broadcaster(max_clients=2)
        self.assertIsNotNone(broadcaster.join())
        self.assertIsNotNone(broadcaster.join())
        self.assertIsNone(broadcaster.join())


class TokenTest(unittest.TestCase):
    def setUp(self) -> None:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.log = os.path.join(directory.name, "access.log")
        open(self.log, "w").close()

    def test_an_address_other_machines_reach_needs_a_token(self) -> None:
        result = subprocess.run([script("monitoring"), "--no-log-file", "--web", "0.0.0.0:0", self.log],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("--web-token", result.stderr)

    def test_with_a_token_every_request_needs_it(self) -> None:
        token = "s3cret-token.42"
        monitoring = Monitoring("--web", "0.0.0.0:0", "--web-token", token, self.log)
        self.addCleanup(monitoring.stop)
        url = monitoring.url().replace("0.0.0.0", "127.0.0.1")
        for path in ("", "app.js", "api/view", "api/events", "api/view?token=wrong-token"):
            status, headers, _ = get(url + path)
            self.assertEqual(status, 401, path)
            self.assertEqual(get(url + path, {"Authorization": "Bearer not-the-token"})[0], 401, path)
        status, headers, body = get(url + "api/view", {"Authorization": f"Bearer {token}"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["type"], "view")
        status, headers, body = get(url + f"?token={token}")
        self.assertEqual(status, 200)
        self.assertIn("HttpOnly", headers["Set-Cookie"])
        self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
        cookie = headers["Set-Cookie"].split(";")[0]
        self.assertEqual(get(url + "app.css", {"Cookie": cookie})[0], 200)
        for path in ("../setup.py", "%2e%2e/setup.py", "etc/passwd", "monilog/web/server.py", "assets/app.js"):
            self.assertEqual(get(url + path, {"Authorization": f"Bearer {token}"})[0], 404, path)


class BrowserTest(unittest.TestCase):
    browser: Browser

    @classmethod
    def setUpClass(cls) -> None:
        cls.browser = Browser(1280, 800)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.browser.close()

    def setUp(self) -> None:
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.directory = directory.name
        self.browser.blank()
        self.browser.resize(1280, 800)

    def screenshots(self, name: str) -> None:
        if not SCREENSHOTS:
            return
        os.makedirs(SCREENSHOTS, exist_ok=True)
        for width, height in ((1280, 800), (390, 844)):
            self.browser.resize(width, height)
            time.sleep(0.5)  # a redraw at the new width (screenshots only, not a test condition)
            self.browser.screenshot(os.path.join(SCREENSHOTS, f"{name}-{width}x{height}.png"))
        self.browser.resize(1280, 800)

    def assert_inert(self) -> None:
        """The hostile strings of the log ran nothing."""
        self.assertIn(self.browser.run("return document.title"), TITLES)
        self.assertIsNone(self.browser.run("return window.__pwned === undefined ? null : window.__pwned"))
        self.assertEqual(self.browser.run("return document.querySelectorAll('#app img, #app script').length"), 0)

    def test_live_page_follows_alerts_seconds_and_restarts(self) -> None:
        log = os.path.join(self.directory, "access.log")
        open(log, "w").close()
        options = ("--from-start", "--threshold", "4", "--window", "3", "--period", "2", log)
        monitoring = Monitoring("--web", "127.0.0.1:0", *options)
        self.addCleanup(monitoring.stop)
        url = monitoring.url()
        browser = self.browser
        browser.driver.get(url)
        wait_for(lambda: browser.run("return document.body.dataset.connection") == "live", "the page to connect")

        stop_writing = threading.Event()

        def write() -> None:  # 16 lines a second, stamped now, some hostile
            with open(log, "a") as handle:
                while not stop_writing.wait(0.0625):
                    now = datetime.now(timezone.utc)
                    path, user = (XSS_PATH, XSS_USER) if int(now.timestamp() * 16) % 4 == 0 else ("/api/users", "-")
                    handle.write(combined(now, path, user, XSS_AGENT))
                    handle.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        self.addCleanup(stop_writing.set)
        raised, _ = monitoring.first("alert", deadline=30)
        wait_for(lambda: browser.text("#state").startswith("ALERT"), "the page to show the alert", deadline=2.0)
        self.assertLess(time.monotonic() - raised, 2.0)

        def points() -> Tuple[int, int, int]:
            found = browser.run("var s = document.querySelector('#rps svg');"
                                "return s ? [+s.dataset.points, +s.dataset.first, +s.dataset.width] : null;")
            return (0, 0, 0) if found is None else tuple(found)

        count, first, width = points()
        self.assertEqual(width, 1)
        later = wait_for(lambda: points()[0] >= count + 2 and points(), "two more seconds on the chart")
        self.assertEqual(later[1], first, "the chart starts at the same second")  # one point a second, no gap
        wait_for(lambda: browser.text("#users").find(XSS_USER) >= 0, "the hostile user shown as text")
        self.assertIn(XSS_PATH, browser.text("#sections"))
        self.assert_inert()
        self.screenshots("live-alert")

        stop_writing.set()
        writer.join()
        monitoring.first("recover", deadline=30)
        wait_for(lambda: browser.text("#state") == "OK", "the page to show the recovery")
        rows = browser.run("return Array.from(document.querySelectorAll('#alerts tbody tr'), r => r.textContent)")
        self.assertEqual(len(rows), 1, rows)
        self.assertNotIn("ongoing", rows[0])
        self.assertIn("avg > 4.00 req/s over 3s", rows[0])

        self.assertEqual(browser.console_errors(), [])  # reading the log empties it
        port = url.rsplit(":", 1)[1].strip("/")
        monitoring.stop()
        wait_for(lambda: browser.run("return document.body.dataset.connection") == "reconnecting",
                 "the page to see monitoring gone")
        fresh = os.path.join(self.directory, "fresh.log")
        open(fresh, "w").close()
        restarted = Monitoring("--web", f"127.0.0.1:{port}", *options[:-1], fresh)
        self.addCleanup(restarted.stop)
        restarted.url()
        wait_for(lambda: browser.run("return document.body.dataset.connection") == "live"
                 and browser.text("#alerts").find("no alert") >= 0, "the page to come back with the new run",
                 deadline=30)
        # While no monitoring listened, Chromium logs each refused retry as an error; nothing else may appear.
        refused = re.compile(r"/api/(events|view) - Failed to load resource: net::ERR_CONNECTION_REFUSED$")
        self.assertEqual([error for error in browser.console_errors() if not refused.search(error)], [])

    def test_static_report_shows_every_alert_offline(self) -> None:
        log = os.path.join(self.directory, "access.log")
        page = os.path.join(self.directory, "report.html")
        rates = [1] * 20 + [6] * 25 + [1] * 60 + [8] * 15 + [1] * 30  # two alerts over 10 s at 2 req/s
        sections = ["/shop/cart", "/api/users", "/api/orders", "/docs/index"]
        with open(log, "w") as handle:
            for second, rate in enumerate(rates):
                for index in range(rate):
                    path = XSS_PATH if second == 50 and index == 0 else sections[(second + index) % len(sections) if rate > 1 else 0]
                    handle.write(combined(T0 + timedelta(seconds=second), path, XSS_USER if second == 3 else "-", XSS_AGENT))
        result = subprocess.run([script("monitoring"), "--replay", "--json", "--no-log-file", "--threshold", "2",
                                 "--window", "10", "--period", "5", "--html", page, log], capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = json.loads(result.stdout.splitlines()[-1])
        alerts = [event for event in summary["alerts"] if event["type"] == "alert"]
        self.assertEqual(len(alerts), 2)
        self.assertLess(os.path.getsize(page), 200_000)

        browser = self.browser
        browser.block_network()
        browser.driver.get("file://" + page)
        wait_for(lambda: browser.text("#alerts"), "the report to be drawn")
        starts = browser.run("return Array.from(document.querySelectorAll('#alerts tbody tr'), r => r.cells[0].textContent)")
        self.assertEqual(sorted(starts), sorted(event["time"][:19].replace("T", " ") for event in alerts))
        shown = browser.run("return Array.from(document.querySelectorAll('#sections tbody tr'),"
                            " r => [r.cells[0].textContent, r.cells[1].textContent])")
        self.assertEqual(shown, [[s["section"], f"{s['hits']:,}"] for s in summary["sections"]])
        self.assertEqual(browser.run("return document.querySelectorAll('#rps svg rect.span').length"), 2)
        self.assertEqual(browser.run("return document.querySelector('#rps svg').dataset.points"), str(len(rates)))
        self.assertEqual(browser.run("return performance.getEntriesByType('resource').length"), 0)
        self.assertIn(XSS_PATH, browser.text("#sections"))
        self.assertIn(XSS_USER, browser.text("#users"))
        self.assert_inert()
        self.assertEqual(browser.console_errors(), [])
        self.screenshots("report")

    def test_static_report_names_each_rule_and_shades_the_traffic_rule(self) -> None:
        log = os.path.join(self.directory, "access.log")
        page = os.path.join(self.directory, "report.html")
        with open(log, "w") as handle:
            for second, rate in enumerate([1] * 20 + [6] * 25 + [1] * 40):
                for index in range(rate):
                    path = "/api/users" if index % 2 else "/shop/cart"
                    handle.write(combined(T0 + timedelta(seconds=second), path, "-", "curl"))
        rule = "rate on /api > 1 over 10s"
        result = subprocess.run([script("monitoring"), "--replay", "--json", "--no-log-file", "--threshold", "2",
                                 "--window", "10", "--period", "5", "--alert", rule, "--html", page, log],
                                capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        events = json.loads(result.stdout.splitlines()[-1])["alerts"]
        self.assertEqual(sorted((e["type"], e.get("rule", "")) for e in events),
                         [("alert", ""), ("alert", rule), ("recover", ""), ("recover", rule)])
        browser = self.browser
        browser.block_network()
        browser.driver.get("file://" + page)
        wait_for(lambda: browser.text("#alerts"), "the report to be drawn")
        rows = browser.run("return Array.from(document.querySelectorAll('#alerts tbody tr'), r => r.textContent)")
        self.assertEqual(len(rows), 2, rows)  # each rule's alert paired with its own recovery
        self.assertEqual(sum(rule in row for row in rows), 1, rows)
        self.assertEqual(browser.run("return document.querySelectorAll('#rps svg rect.span').length"), 1)
        self.assertEqual(browser.console_errors(), [])


if __name__ == "__main__":
    unittest.main()
