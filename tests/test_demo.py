"""``monitoring --demo``: generated traffic raises an alert, recovers, and Ctrl-C ends with the summary;
it says it is a demo and how to watch a real log, and leaves no temporary file behind.

The tests run it with a 4-second window (its timeline follows the window: an alert about 6 s
in, a recovery about 10 s in) and stop it with SIGINT once what they wait for has shown.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import queue
import re
import signal
import struct
import subprocess
import termios
import threading
import unittest
from typing import IO, List, Optional

from monilog.cli import demo
from monilog.cli.monitoring import build_parser
from tests.support import DEADLINE, script, wait_for

FAST = ["--window", "4", "--period", "1"]
"""An alert about 6 s in and a recovery about 10 s in."""

WAIT = 60.0
"""Seconds to wait for the alert and the recovery (10 s on an idle machine)."""


def collect(stream: IO[bytes], into: "queue.Queue[bytes]") -> threading.Thread:
    """Read ``stream`` line by line into ``into`` in a thread."""
    reader = threading.Thread(target=lambda: [into.put(line) for line in iter(stream.readline, b"")], daemon=True)
    reader.start()
    return reader


class DemoTest(unittest.TestCase):
    def start(self, *options: str) -> subprocess.Popen:  # type: ignore[type-arg]
        process = subprocess.Popen([script("monitoring"), "--demo", *FAST, *options], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process

    def run_until_recovered(self, recovered: str, *options: str) -> List[bytes]:
        """Run the demo until ``recovered`` shows on stdout, then Ctrl-C; return stdout and stderr's text."""
        process = self.start(*options)
        lines: "queue.Queue[bytes]" = queue.Queue()
        assert process.stdout is not None and process.stderr is not None
        reader = collect(process.stdout, lines)
        seen: List[bytes] = []

        def received(text: str) -> Optional[bool]:
            while not lines.empty():
                seen.append(lines.get())
            return any(text.encode() in line for line in seen) or None

        wait_for(lambda: received(recovered), "the demo's recovery", deadline=WAIT)
        process.send_signal(signal.SIGINT)
        errors = process.stderr.read()
        self.assertEqual(process.wait(DEADLINE), 0)
        reader.join(DEADLINE)
        received("")
        return [b"".join(seen), errors]

    def assert_removed(self, text: str) -> None:
        log = re.search(r"Log: (\S+) \(temporary", text)
        assert log is not None, text
        self.assertTrue(log.group(1).endswith("access.log"))
        self.assertFalse(os.path.exists(os.path.dirname(log.group(1))), "the temporary log is removed at exit")

    def test_plain_text_alert_recovery_summary(self) -> None:
        printed, errors = self.run_until_recovered("Traffic back to normal", "--plain")
        text = printed.decode()
        self.assertIn("monilog demo", text)
        self.assertIn("Alert rule: average traffic over the last 4 s above 10 req/s", text)
        self.assertIn("To watch a real log: monitoring /var/log/nginx/access.log", text)
        alert = text.index("High traffic generated an alert")
        self.assertLess(alert, text.index("Traffic back to normal"))
        self.assertIn("=== monilog summary", text[alert:])
        self.assertEqual(errors, b"")
        self.assert_removed(text)

    def test_json_lines_stay_json_and_the_banner_goes_to_stderr(self) -> None:
        printed, errors = self.run_until_recovered('"recover"', "--json")
        objects = [json.loads(line) for line in printed.splitlines()]
        types = [item["type"] for item in objects]
        self.assertLess(types.index("alert"), types.index("recover"))
        self.assertEqual(types[-1], "summary")
        self.assertIn("DEMO", objects[-1]["files"][0])
        self.assertIn("monilog demo", errors.decode())
        self.assert_removed(errors.decode())

    def test_the_dashboard_on_a_terminal(self) -> None:
        controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        # the terminal's size, not COLUMNS and LINES (which readline exports to a test runner's children)
        environment = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
        process = subprocess.Popen([script("monitoring"), "--demo", *FAST], stdin=terminal, stdout=terminal,
                                   stderr=terminal, env=environment)
        os.close(terminal)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        shown = bytearray()
        reading = threading.Thread(target=lambda: _drain(controller, shown), daemon=True)
        reading.start()
        wait_for(lambda: b"DEMO \xc2\xb7 real logs: monitoring" in shown, "the dashboard's header saying it is a demo")
        self.assertNotIn(b"Top clients", shown)  # the wide layout's title
        fcntl.ioctl(controller, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 130, 0, 0))
        wait_for(lambda: b"Top clients" in shown, "the dashboard drawn again at the terminal's new size")
        process.send_signal(signal.SIGINT)
        self.assertEqual(process.wait(DEADLINE), 0)
        reading.join(DEADLINE)
        os.close(controller)
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))
        self.assertIn("monilog demo", text)
        self.assertIn("=== monilog summary", text)
        self.assert_removed(text)

    def test_what_a_demo_cannot_do(self) -> None:
        for options in (["access.log"], ["--file", "access.log"], ["--replay"]):
            with self.subTest(options=options):
                done = subprocess.run([script("monitoring"), "--demo", *options], stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=DEADLINE)
                self.assertEqual(done.returncode, 2)
                self.assertIn(b"--demo", done.stderr)

    def test_the_banner_announces_what_the_timeline_does(self) -> None:
        text = demo.banner(demo.arguments(build_parser(), ["--demo"]), "/tmp/x/access.log")
        self.assertIn("over the last 20 s above 10 req/s (the demo window; the default is 120 s)", text)
        self.assertIn("2 req/s for 20 s, then 20 req/s for 20 s, then 2 req/s for 20 s", text)
        self.assertIn("an alert about 29 s in and a recovery about 51 s in", text)


def _drain(controller: int, into: bytearray) -> None:
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            return
        if not data:
            return
        into += data


if __name__ == "__main__":
    unittest.main()
