"""Stress: 120,000 lines across several rename + create rotations, nothing lost or doubled."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import unittest
from collections import defaultdict
from typing import Dict, List

from monilog.watcher import FileWatcher

GENERATIONS = 5
LINES_PER_GENERATION = 24_000
LATE_LINES = 200
"""Lines each writer adds to its file after the rotation was noticed, before it reopens."""
DEADLINE = 60.0


class RotationStressTest(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-stress-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.log = os.path.join(self.directory, "access.log")
        self.received: List[bytes] = []
        self.sources = set()
        self.lock = threading.Lock()

    def on_lines(self, source: str, lines: List[bytes]) -> None:
        with self.lock:
            self.received.extend(lines)
            self.sources.add(source)

    def wait_until(self, condition, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.005)

    def write_generation(self, stream, generation: int, numbers: range) -> None:
        """Write numbered lines in batches; every other batch is torn in the middle of a line."""
        batch = 997
        for start in range(numbers.start, numbers.stop, batch):
            data = b"".join(b"gen %d line %06d %s\n" % (generation, number, b"x" * (number % 50))
                            for number in range(start, min(start + batch, numbers.stop)))
            if start // batch % 2:
                middle = len(data) // 2 + 3
                stream.write(data[:middle])
                stream.flush()
                stream.write(data[middle:])
            else:
                stream.write(data)
            stream.flush()

    def test_every_line_exactly_once_in_order_per_generation(self):
        open(self.log, "wb").close()
        watcher = FileWatcher([self.log], self.on_lines, poll_interval=0.05, rotation_grace=DEADLINE)
        watcher.start()
        self.addCleanup(watcher.stop)
        main_part = LINES_PER_GENERATION - LATE_LINES
        stream = open(self.log, "ab")
        try:
            for generation in range(GENERATIONS):
                self.write_generation(stream, generation, range(0, main_part // 2))
                if generation == GENERATIONS - 1:
                    self.write_generation(stream, generation, range(main_part // 2,
                                                                    LINES_PER_GENERATION))
                    break
                os.rename(self.log, f"{self.log}.{generation + 1}")
                # The writer has not reopened its log yet: it keeps writing to the renamed file.
                self.write_generation(stream, generation, range(main_part // 2, main_part))
                new_stream = open(self.log, "ab")
                self.wait_until(lambda generation=generation: watcher.stats.total.rotations == generation + 1,  # type: ignore[misc]
                                f"rotation {generation + 1} to be noticed")
                self.write_generation(stream, generation, range(main_part, LINES_PER_GENERATION))
                stream.close()
                stream = new_stream
        finally:
            stream.close()
        total = GENERATIONS * LINES_PER_GENERATION
        self.wait_until(lambda: len(self.received) >= total, f"{total} lines")
        self.assertTrue(watcher.stop())
        self.assertEqual(len(self.received), total)
        numbers: Dict[int, List[int]] = defaultdict(list)
        for line in self.received:
            _, generation, _, number, _ = line.split(b" ")
            numbers[int(generation)].append(int(number))
        for generation in range(GENERATIONS):
            self.assertEqual(numbers[generation], list(range(LINES_PER_GENERATION)),
                             f"generation {generation} lost, doubled or reordered lines")
        self.assertEqual(self.sources, {self.log})
        stats = watcher.stats.files[self.log]
        self.assertEqual((stats.lines, stats.rotations, stats.truncations, stats.cut_lines),
                         (total, GENERATIONS - 1, 0, 0))


if __name__ == "__main__":
    unittest.main()
