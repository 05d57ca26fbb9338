"""Replay progress: the engine's callback (bytes that only grow and end at the total, on every way
a file is read: chunks in this process or in workers, lines of a W3C log or a compressed file,
several files merged; the lines applied; the file being read), and the bar ``monitoring --replay``
draws from it on a terminal (a pseudo-terminal here), absent on a pipe and with ``--quiet``."""

from __future__ import annotations

import fcntl
import gzip
import os
import pty
import re
import shutil
import struct
import subprocess
import tempfile
import termios
import threading
import unittest
from typing import Dict, List, Sequence, Tuple

from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.replayer import ReplayTuning, replay
from monilog.replayer.engine import ReplayProgress
from tests.support import DEADLINE, script

START = 1714557603.0
SMALL = dict(first_chunk_bytes=3000, chunk_bytes=20_000, merged_chunk_bytes=20_000, min_chunk_bytes=20_000,
             piece_bytes=6000, in_process_bytes=0, lines_per_batch=50)


class ReplayProgressTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-progress-")
        self.addCleanup(shutil.rmtree, self.directory)

    def log(self, name: str, fmt: str = "combined", seed: int = 1, start: float = START) -> str:
        path = os.path.join(self.directory, name)
        LogGenerator([20, 5], [40, 40], fmt=fmt, seed=seed, start=start).write(path, realtime=False, append=False)
        return path

    def replayed(self, paths: Sequence[str], workers: int = 0) -> List[ReplayProgress]:
        seen: List[ReplayProgress] = []
        monitor = Monitor(10, 20, 10, fmt="auto", files=paths)
        summary = replay(monitor, paths, tuning=ReplayTuning(**dict(SMALL, workers=workers)),  # type: ignore[arg-type]
                         progress=seen.append)
        total = sum(os.path.getsize(path) for path in paths)
        self.assertGreater(len(seen), 2, "progress is reported as the replay goes, not only at its end")
        done = [item.done for item in seen]
        self.assertEqual(done, sorted(done), "bytes done only grow")
        self.assertGreater(len(set(done)), 2)
        self.assertTrue(all(item.total == total for item in seen))
        self.assertEqual(seen[-1].done, total)
        self.assertEqual(seen[-1].lines, summary.lines)
        self.assertEqual([item.lines for item in seen], sorted(item.lines for item in seen))
        self.assertLessEqual({item.path for item in seen}, set(paths))
        return seen

    def test_chunks_in_this_process_and_in_workers(self) -> None:
        path = self.log("access.log")
        for workers in (1, 2):
            with self.subTest(workers=workers):
                self.replayed([path], workers)

    def test_a_w3c_log_read_as_lines(self) -> None:
        self.replayed([self.log("u_ex.log", fmt="w3c")])

    def test_a_compressed_file_counts_its_compressed_bytes(self) -> None:
        plain = self.log("access.log.1")
        with open(plain, "rb") as source, gzip.open(plain + ".gz", "wb") as target:
            shutil.copyfileobj(source, target)
        os.remove(plain)
        self.replayed([plain + ".gz"])

    def test_files_merged_each_named_while_read(self) -> None:
        first = self.log("access.log.1", seed=1)
        second = self.log("access.log", seed=2, start=START + 60)
        seen = self.replayed([first, second], workers=2)
        reached: Dict[str, int] = {}
        for item in seen:
            reached.setdefault(item.path, item.done)
        self.assertEqual(set(reached), {first, second})




def on_terminal(command: Sequence[str], stdout_too: bool) -> Tuple[bytes, bytes]:
    """Run ``command`` with standard error on a new pseudo-terminal (standard output too, or a
    pipe); return what the terminal and the pipe received, once it has exited."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=terminal,
                                   stdout=terminal if stdout_too else subprocess.PIPE)
    finally:
        os.close(terminal)
    seen = bytearray()
    with process:
        piped = threading.Thread(target=lambda: seen.extend(process.stdout.read() if process.stdout else b""))
        piped.start()
        shown = bytearray()
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: every end of the terminal is closed
                break
            if not data:
                break
            shown += data
        os.close(controller)
        piped.join(DEADLINE)
        process.wait(DEADLINE)
    return bytes(shown), bytes(seen)


class ProgressBarTest(unittest.TestCase):
    """``monitoring --replay`` on a terminal: the bar while it reads, gone when the summary prints."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.directory = tempfile.mkdtemp(prefix="monilog-bar-")
        cls.path = os.path.join(cls.directory, "access.log")
        # 300,000 lines: long enough for a bar on a fast machine (it waits 0.1 s before showing)
        LogGenerator([1000], [300], seed=3, start=START).write(cls.path, realtime=False)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.directory)

    def command(self, *options: str) -> List[str]:
        return [script("monitoring"), "--replay", "--no-log-file", *options, self.path]

    def test_the_bar_on_a_terminal_then_the_summary_below_it(self) -> None:
        shown, _ = on_terminal(self.command("--plain"), stdout_too=True)
        self.assertIn(b"lines/s", shown)
        self.assertIn(os.path.basename(self.path).encode(), shown)
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", shown)
        # on one line: the file, the bar, bytes read of the total, lines/s, elapsed, remaining
        self.assertRegex(text, rb"access\.log +\S+ [\d.]+/[\d.]+ MB [\d,]+ lines/s \d+:\d\d:\d\d \S+\r")
        summary = shown.rindex(b"monilog summary")
        self.assertGreater(summary, shown.rindex(b"lines/s"), "the bar is gone when the summary prints")
        self.assertIn(b"\x1b[2K", shown[shown.rindex(b"lines/s"):summary])  # erased, not left behind
        self.assertIn(b"High traffic generated an alert", shown)

    def test_with_json_on_a_pipe_the_bar_is_on_the_terminal_only(self) -> None:
        shown, printed = on_terminal(self.command("--json"), stdout_too=False)
        self.assertIn(b"lines/s", shown)
        self.assertNotIn(b"\x1b", printed)
        self.assertIn(b'"type": "summary"', printed.replace(b'"type":"summary"', b'"type": "summary"'))

    def test_nothing_when_stderr_is_not_a_terminal(self) -> None:
        done = subprocess.run(self.command("--json"), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=300, check=True)
        self.assertEqual(done.stderr, b"")

    def test_nothing_with_quiet(self) -> None:
        shown, printed = on_terminal(self.command("--json", "--quiet"), stdout_too=False)
        self.assertEqual(shown, b"")
        self.assertIn(b"summary", printed)


if __name__ == "__main__":
    unittest.main()
