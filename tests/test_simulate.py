"""simulate.sh: the quick demo shows an alert then a recovery, and leaves nothing behind."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
from typing import List

from tests.support import wait_for

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "simulate.sh")


def processes_of(directory: str) -> List[str]:
    """Command lines of running processes that mention ``directory`` or run in it (Linux ``/proc``):
    what simulate.sh started there, a ``sleep`` included."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
            where = os.readlink(f"/proc/{pid}/cwd")
        except OSError:  # gone, or a zombie
            continue
        if directory in command or where.startswith(directory):
            found.append(command)
    return found


@unittest.skipIf(importlib.util.find_spec("monilog.cli.monitoring") is None,
                 "the monitoring console script (monilog.cli.monitoring) does not exist yet")
@unittest.skipUnless(shutil.which("bash"), "simulate.sh needs bash")
class SimulateTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmpdir = tempfile.mkdtemp(prefix="monilog-simulate-test-")
        self.addCleanup(shutil.rmtree, self.tmpdir, True)
        # The console scripts of this Python's installation come first, as after `pip install -e .`.
        scripts = os.path.dirname(sys.executable)
        self.env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", ""), "TMPDIR": self.tmpdir}

    def start(self, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(["bash", SCRIPT, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, env=self.env, cwd=self.tmpdir)
        self.addCleanup(process.wait)
        self.addCleanup(process.kill)
        assert process.stdout is not None
        self.addCleanup(process.stdout.close)
        return process

    def assert_cleaned_up(self) -> None:
        self.assertEqual(os.listdir(self.tmpdir), [], "the temporary directory was not removed")
        if os.path.isdir("/proc"):
            self.assertEqual(processes_of(self.tmpdir), [], "background processes left running")

    def test_test_mode_shows_an_alert_then_a_recovery(self) -> None:
        # the quick mode's traffic and window, written at once and replayed: the same script and
        # the same alert, in seconds (live following is FollowTest's business in test_cli_monitoring)
        process = self.start("--test")
        output, _ = process.communicate(timeout=300)
        self.assertEqual(process.returncode, 0, output)
        lines = output.splitlines()
        self.assertTrue(any("20 s" in line and "120 s" in line for line in lines[:5]),
                        "test mode does not state its window on screen")
        alerts = [index for index, line in enumerate(lines) if "High traffic generated an alert" in line]
        self.assertTrue(alerts, output)
        recoveries = [index for index, line in enumerate(lines)
                      if index > alerts[0] and "recover" in line.lower() and "simulate.sh" not in line]
        self.assertTrue(recoveries, output)
        self.assert_cleaned_up()

    def test_terminated_quick_run_stops_its_background_processes(self) -> None:
        process = self.start("--quick")
        assert process.stdout is not None
        header = [process.stdout.readline() for _ in range(2)]
        self.assertIn("20 s", header[1], "quick mode does not state its window on screen")
        self.assertIn("120 s", header[1])

        def both_running() -> bool:
            commands = processes_of(self.tmpdir)
            return all(any(name in command for command in commands) for name in ("monitoring", "log_generator"))

        wait_for(both_running, "monitoring and log_generator to run")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        self.assertNotEqual(process.returncode, 0)
        self.assert_cleaned_up()

    def test_unknown_option(self) -> None:
        process = self.start("--fast")
        output, _ = process.communicate(timeout=30)
        self.assertEqual(process.returncode, 2)
        self.assertEqual(len(output.splitlines()), 1, output)
        self.assertIn("--fast", output)


if __name__ == "__main__":
    unittest.main()
