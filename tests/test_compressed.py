"""Compressed logs: ``--replay`` reads gzip, bzip2 and xz files (told by their first bytes) as
their plain text; following live leaves compressed rotations unopened, with one notice each."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib
from typing import Any, Callable, Dict, List, Sequence, Tuple
from unittest import mock

import monilog
from monilog.generator import LogGenerator
from tests.support import T0
from tests.test_watcher import WatcherTestCase, append, write

COMPRESSORS: Dict[str, Callable[[bytes], bytes]] = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
"""How each kind of compressed rotation is written, by its usual suffix."""

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(monilog.__file__)))
"""Where the monilog under test lives: the command runs that one, wherever the tests run from."""


def generated(fmt: str = "combined", seed: int = 1) -> List[bytes]:
    """A few minutes of traffic crossing the threshold (10/s over 60 s) and back, with a bad line."""
    generator = LogGenerator((4, 25, 2), (90, 90, 120), fmt=fmt, seed=seed, start=T0.timestamp())
    lines = [line.encode() for line in generator.header(T0.timestamp()).splitlines()]
    lines += [line.encode() for _, line in generator.timeline()]
    lines.insert(len(lines) // 2, b"not an access log line")
    return lines


def text(lines: Sequence[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


class ReplayTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-compressed-")
        self.addCleanup(shutil.rmtree, self.directory)

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def replay(self, *paths: str, directives: int = 0) -> List[Dict[str, Any]]:
        """``monitoring --replay --json PATHS``: the objects it prints, checked to end well and add
        up (every line read but the ``directives`` is parsed or skipped)."""
        environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")])))
        done = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file",
                               "--window", "60", *paths], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, env=environment, check=False)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        objects = [json.loads(line) for line in done.stdout.splitlines()]
        summary = objects[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["lines"] - directives, summary["parsed"] + summary["malformed"])
        return objects

    def assert_same_replay(self, paths: Sequence[str], plain_paths: Sequence[str], directives: int = 0) -> List[Dict[str, Any]]:
        """Replaying ``paths`` prints what replaying ``plain_paths`` prints, but for the file names."""
        expected = self.replay(*plain_paths, directives=directives)
        self.assertIn("alert", [item["type"] for item in expected])  # the comparison covers alerts
        self.assertIn("recover", [item["type"] for item in expected])
        got = self.replay(*paths, directives=directives)
        self.assertEqual(without_files(got), without_files(expected))
        return got


def without_files(objects: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The objects, but for the summary's list of file names."""
    return [{key: value for key, value in item.items() if key != "files"} for item in objects]


class ReplayCompressedTest(ReplayTestCase):
    def test_gzip_bzip2_and_xz_replay_as_their_plain_file(self) -> None:
        for fmt in ("combined", "w3c"):
            lines = generated(fmt)
            data = text(lines)
            plain = self.write(f"{fmt}/access.log", data)
            directives = sum(1 for line in lines if line.startswith(b"#"))
            for suffix, compress in COMPRESSORS.items():
                with self.subTest(fmt=fmt, compression=suffix):
                    got = self.assert_same_replay([self.write(f"{fmt}/access.log.1{suffix}", compress(data))], [plain],
                                                  directives)
                    self.assertEqual(got[-1]["malformed"], 1)
                    self.assertEqual(got[-1]["notices"], {})

    def test_multistream_gzip_reads_every_member(self) -> None:
        lines = generated()
        third = len(lines) // 3
        plain = self.write("plain/access.log", text(lines))
        # logrotate's delaycompress then cat: one file of several gzip members
        members = b"".join(gzip.compress(text(part)) for part in (lines[:third], lines[third:2 * third], lines[2 * third:]))
        got = self.assert_same_replay([self.write("access.log.2.gz", members)], [plain])
        self.assertEqual(got[-1]["lines"], len(lines))

    def test_a_glob_merging_plain_and_compressed_files_is_the_plain_merge(self) -> None:
        # two servers' logs, each rotated: the replay merges every file in time order
        parts: List[Tuple[str, List[bytes]]] = []
        for server, seed in (("a", 1), ("b", 2)):
            lines = generated(seed=seed)
            half = len(lines) // 2
            parts += [(f"{server}.access.log.1", lines[:half]), (f"{server}.access.log", lines[half:])]
        suffixes = {"a.access.log.1": ".gz", "b.access.log.1": ".bz2", "b.access.log": ".xz"}
        for name, lines in parts:
            self.write(f"plain/{name}", text(lines))
            suffix = suffixes.get(name, "")
            self.write(f"mixed/{name}{suffix}", COMPRESSORS[suffix](text(lines)) if suffix else text(lines))
        got = self.assert_same_replay([os.path.join(self.directory, "mixed", "*access.log*")],
                                      [os.path.join(self.directory, "plain", "*access.log*")])
        self.assertEqual(len(got[-1]["files"]), 4)
        self.assertEqual(got[-1]["lines"], sum(len(lines) for _, lines in parts))

    def test_compression_is_told_by_the_first_bytes_not_the_name(self) -> None:
        data = text(generated())
        plain = self.write("plain/access.log", data)
        for name, content in (("access.log.1", gzip.compress(data)),   # gzipped, named like text
                              ("access.log.2.bz2", lzma.compress(data)),  # xz, named like bzip2
                              ("access.log.3.gz", data)):               # text, named like gzip
            with self.subTest(name=name):
                path = self.write(f"{name}/{name}", content)
                self.assert_same_replay([path], [plain])
                self.assert_same_replay([os.path.join(os.path.dirname(path), "access.log*")], [plain])


class DamagedCompressedTest(ReplayTestCase):
    def test_a_truncated_file_counts_the_lines_before_the_damage_with_a_notice(self) -> None:
        lines = generated()
        data = text(lines)
        for suffix, compress, decompressor in ((".gz", gzip.compress, lambda: zlib.decompressobj(wbits=31)),
                                               (".xz", lzma.compress, lzma.LZMADecompressor)):
            with self.subTest(compression=suffix):
                cut = compress(data)
                cut = cut[:len(cut) // 2]  # a copy that did not finish
                path = self.write(f"access.log.1{suffix}", cut)
                readable = decompressor().decompress(cut).count(b"\n")  # whole lines before the cut
                self.assertTrue(0 < readable < len(lines))
                got = self.replay(path)
                notices = [item["message"] for item in got if item["type"] == "notice"]
                self.assertEqual(len(notices), 1, notices)
                self.assertTrue(notices[0].startswith(f"{path}: "), notices)
                self.assertIn("damaged", notices[0])
                self.assertEqual(got[-1]["notices"], {"damaged": 1})
                self.assertEqual(got[-1]["lines"], readable)
                # the lines before the damage give what they give as a plain file
                expected = self.replay(self.write(f"read{suffix}.log", text(lines[:readable])))
                self.assertEqual([item for item in without_files(got) if item["type"] not in ("notice", "summary")],
                                 [item for item in without_files(expected) if item["type"] != "summary"])
                # merged with another file, that one is read whole
                other = self.write(f"other{suffix}.log", data)
                merged = self.replay(path, other)
                self.assertEqual(merged[-1]["lines"], readable + len(lines))
                self.assertEqual(merged[-1]["notices"], {"damaged": 1})

    def test_corrupt_data_is_a_notice_not_a_traceback(self) -> None:
        data = gzip.compress(text(generated()))
        middle = len(data) // 2
        for name, content in (("flipped.gz", data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:]),
                              ("trailing.gz", data + b"garbage after the last member"),
                              ("header-only.gz", data[:10]),
                              ("bad.bz2", b"BZh91AY&SY" + bytes(range(60)))):
            with self.subTest(name=name):
                path = self.write(name, content)
                got = self.replay(path)  # exit status 0, nothing on stderr, lines = parsed + malformed
                notices = [item["message"] for item in got if item["type"] == "notice"]
                self.assertEqual(len(notices), 1, notices)
                self.assertTrue(notices[0].startswith(f"{path}: "), notices)
                self.assertEqual(got[-1]["notices"], {"damaged": 1})


class FollowCompressedTest(WatcherTestCase):
    def test_a_glob_leaves_compressed_rotations_unopened_with_one_notice_each(self) -> None:
        log = self.path("access.log")
        write(log, b"")
        write(self.path("access.log.1"), b"rotated\n")
        rotations = [self.path("access.log.2.gz"), self.path("access.log.3.bz2")]
        write(rotations[0], gzip.compress(b"old\n" * 100))
        write(rotations[1], bz2.compress(b"older\n" * 100))
        opened: List[str] = []
        real_open = os.open

        def recording_open(path: Any, *args: Any, **kwargs: Any) -> int:
            opened.append(os.fspath(path))
            return real_open(path, *args, **kwargs)

        with mock.patch("os.open", recording_open):
            watcher = self.watch([self.path("access.log*")], from_start=True)
            self.wait_lines([b"rotated"])
            later = self.path("access.log.4.xz")  # appears while following, as logrotate's compress makes it
            write(later, lzma.compress(b"oldest\n" * 100))
            rotations.append(later)
            self.wait_until(lambda: later in [notice.path for notice in self.notices], "the notice of the new rotation")
            self.wait_polls(watcher, log)
        for path in rotations:
            with self.subTest(path=path):
                notices = [notice for notice in self.notices if notice.path == path]
                self.assertEqual([(notice.level, notice.kind) for notice in notices], [("info", "compressed")])
                self.assertIn("use --replay to read it", notices[0].message)
                self.assertNotIn(path, opened)
                self.assertNotIn(path, watcher.stats.files)
        self.assertEqual(sorted(self.lines()), [b"marker 0", b"marker 1", b"marker 2", b"rotated"])

    def test_a_compressed_file_named_like_a_log_is_refused_by_its_first_bytes(self) -> None:
        log, misnamed = self.path("access.log"), self.path("access.log.1")
        write(log, b"")
        write(misnamed, gzip.compress(b"old\n" * 100))
        watcher = self.watch([self.path("access.log*")], from_start=True)
        self.wait_polls(watcher, log)
        append(misnamed, gzip.compress(b"more\n"))
        self.wait_polls(watcher, log)
        notices = [notice for notice in self.notices if notice.path == misnamed]
        self.assertEqual([notice.kind for notice in notices], ["not-text"])
        self.assertIn("compressed (gzip); use --replay to read it", notices[0].message)
        self.assertEqual(self.lines(misnamed), [])


if __name__ == "__main__":
    unittest.main()
