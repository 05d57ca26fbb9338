"""The exec hook: a command per event, the event verbatim in its environment and on stdin, never a shell."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
from datetime import timedelta

from monilog.accumulation.alerter import AlertEvent
from monilog.monitor import Monitor
from monilog.outputs.execute import ExecSink, event_environment, parse_command
from monilog.presentation.jsonlines import event_to_dict
from tests.support import ALERT_TIMELINE, T0, Problems, script, timeline, wait_for

CAPTURE = """
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("MONILOG_")}
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps({"env": env, "stdin": sys.stdin.read(), "argv": sys.argv[2:]}) + "\\n")
"""
"""A hook that appends what it received (MONILOG_* variables, stdin, its arguments) to a file."""


def capture_command(output: str, *extra: str) -> str:
    return shlex.join([sys.executable, "-c", CAPTURE, output, *extra])


def received(path: str) -> list:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(text) for text in handle]


def hostile_event(message: str) -> AlertEvent:
    """An alert whose message carries ``message`` (alert messages are made by the alerter: a
    future one quoting log content must still reach hooks inert)."""
    event = AlertEvent("recover", 1234, 10.28, T0, 10.0, 120, started=T0 - timedelta(minutes=3), peak_hits=2000)
    object.__setattr__(event, "message", message)
    return event


class ExecSinkTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-exec-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.output = os.path.join(self.dir, "received.jsonl")

    def test_hostile_content_reaches_the_command_verbatim_and_runs_nothing(self) -> None:
        marker = os.path.join(self.dir, "pwned")
        message = (f"$(touch {marker}1) `touch {marker}2` ; touch {marker}3 && echo \"quoted\" 'single'\n"
                   f"second line | touch {marker}4 $HOME \\ \x1b[2J \u202e end")
        problems = Problems()
        sink = ExecSink(capture_command(self.output, "$(touch " + marker + "5)"), on_problem=problems)
        sink.event(hostile_event(message))
        sink.close()
        self.assertEqual(problems.lines, [])
        [got] = received(self.output)
        self.assertEqual(got["env"]["MONILOG_MESSAGE"], message)
        self.assertEqual(json.loads(got["stdin"])["message"], message)
        self.assertEqual(got["argv"], [f"$(touch {marker}5)"])  # an argument, not a command
        self.assertEqual([name for name in os.listdir(self.dir) if name.startswith("pwned")], [])

    def test_environment_and_stdin_describe_the_event(self) -> None:
        sink = ExecSink(capture_command(self.output), on_problem=Problems())
        monitor = Monitor(2, 10, 10, sinks=[sink])
        monitor.feed("access.log", timeline(ALERT_TIMELINE))
        monitor.finish()
        sink.close()
        alert, recover = received(self.output)
        self.assertEqual(alert["env"]["MONILOG_EVENT"], "alert")
        self.assertEqual(alert["env"]["MONILOG_HITS"], "21")
        self.assertEqual(alert["env"]["MONILOG_TIME"], (T0 + timedelta(seconds=7)).isoformat())
        self.assertEqual(alert["env"]["MONILOG_THRESHOLD"], "2.0")
        self.assertEqual(alert["env"]["MONILOG_WINDOW"], "10")
        self.assertNotIn("MONILOG_STARTED", alert["env"])
        self.assertEqual(recover["env"]["MONILOG_EVENT"], "recover")
        self.assertEqual(recover["env"]["MONILOG_STARTED"], alert["env"]["MONILOG_TIME"])
        self.assertEqual(recover["env"]["MONILOG_DURATION_SECONDS"], "28.0")
        for got in (alert, recover):
            self.assertEqual(json.loads(got["stdin"])["type"], got["env"]["MONILOG_EVENT"])
            self.assertTrue(got["stdin"].endswith("\n"))

    def test_variables_follow_the_json_object(self) -> None:
        event = hostile_event("nul \x00 inside")
        env = event_environment(event)
        expected = {("MONILOG_EVENT" if key == "type" else "MONILOG_" + key.upper()) for key in event_to_dict(event)}
        self.assertEqual(set(env), expected)
        self.assertEqual(env["MONILOG_MESSAGE"], "nul \\0 inside")  # an environment cannot hold NUL

    def test_failing_command_is_reported_with_its_last_error_line(self) -> None:
        problems = Problems()
        failing = shlex.join([sys.executable, "-c", "import sys; print('detail', file=sys.stderr); sys.exit(3)"])
        sink = ExecSink(failing, on_problem=problems)
        sink.event(hostile_event("x"))
        sink.close()
        self.assertEqual(len(problems.lines), 1)
        self.assertIn("exited with status 3: detail", problems.lines[0])

    def test_command_over_its_timeout_is_killed(self) -> None:
        problems = Problems()
        sink = ExecSink(shlex.join([sys.executable, "-c", "import time; time.sleep(60)"]), timeout=0.5,
                        on_problem=problems)
        self.addCleanup(sink.close)
        sink.event(hostile_event("x"))
        wait_for(lambda: problems.matching("killed after 0.5 s"), "the timeout to be reported")

    def test_a_command_still_running_when_monitoring_ends_is_killed_and_reported(self) -> None:
        problems = Problems()
        pid_file = os.path.join(self.dir, "pid")
        script = f"import os, time; open({pid_file!r}, 'w').write(str(os.getpid())); time.sleep(60)"
        sink = ExecSink(shlex.join([sys.executable, "-c", script]), on_problem=problems)
        sink.event(hostile_event("x"))
        wait_for(lambda: os.path.exists(pid_file) and os.path.getsize(pid_file), "the hook to start")
        with open(pid_file, encoding="utf-8") as handle:
            pid = int(handle.read())
        sink.worker.close(drain=0.2)
        self.assertTrue(problems.matching("monitoring ended before the command did"), problems.lines)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, "the hook to be killed")

    def test_unusable_commands_are_refused_at_start(self) -> None:
        for command in ("", "   ", "'unbalanced", "no-such-program-for-monilog --flag"):
            with self.subTest(command=command), self.assertRaises(ValueError):
                parse_command(command)
        self.assertEqual(parse_command("echo 'a b' c"), ["echo", "a b", "c"])


class ExecCommandTest(unittest.TestCase):
    def test_replay_runs_the_hook_per_event_and_refuses_a_missing_program(self) -> None:
        directory = tempfile.mkdtemp(prefix="monilog-exec-")
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        log, output = os.path.join(directory, "access.log"), os.path.join(directory, "received.jsonl")
        with open(log, "w", encoding="utf-8") as handle:
            handle.writelines(timeline(ALERT_TIMELINE))
        base = [script("monitoring"), "--replay", "--json", "--no-log-file", "-t", "2", "-w", "10", log]

        result = subprocess.run([*base, "--exec", capture_command(output)], capture_output=True, text=True,
                                timeout=120, cwd=directory, stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 0, result.stderr)
        events = [obj for obj in map(json.loads, result.stdout.splitlines()) if obj["type"] in ("alert", "recover")]
        self.assertEqual([json.loads(got["stdin"]) for got in received(output)], events)

        result = subprocess.run([*base, "--exec", "no-such-program-for-monilog"], capture_output=True, text=True,
                                timeout=120, cwd=directory, stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--exec: no-such-program-for-monilog: command not found", result.stderr)


if __name__ == "__main__":
    unittest.main()
