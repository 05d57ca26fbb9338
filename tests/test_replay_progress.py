"""The replay engine's progress callback: bytes that only grow and end at the total, on every way
a file is read (chunks in this process or in workers, lines of a W3C log or a compressed file,
several files merged), the lines applied, and the file being read."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import unittest
from typing import Dict, List, Sequence

from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.replayer import ReplayTuning, replay
from monilog.replayer.engine import ReplayProgress

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


if __name__ == "__main__":
    unittest.main()
