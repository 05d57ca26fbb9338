"""FileWatcher on real files: every test asserts the exact lines delivered, in order."""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import unittest
from typing import Callable, List, Optional, Tuple
from unittest import mock

from monilog.parsing.columns import LineBlock
from monilog.watcher import FileWatcher, WatchNotice
from monilog.watcher.follower import READ_BLOCK, Follower

DEADLINE = 20.0
"""Seconds a test waits for something that should happen within a poll or two."""

FAST = 0.05
"""Poll interval of most tests: short, to keep the suite quick."""


def open_fds() -> List[str]:
    """This process's open file descriptors."""
    return sorted(os.listdir("/proc/self/fd"))


class WatcherTestCase(unittest.TestCase):
    """Temp directory, a watcher collecting what it delivers, and waiting helpers."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="monilog-watch-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)
        self.lock = threading.Lock()
        self.delivered: List[Tuple[str, bytes]] = []
        self.batches = 0
        self.notices: List[WatchNotice] = []
        self.hook: Optional[Callable[[str, List[bytes]], None]] = None

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def on_lines(self, source: str, lines: List[bytes]) -> None:
        with self.lock:
            self.delivered.extend((source, line) for line in lines)
            self.batches += 1
        if self.hook is not None:
            self.hook(source, lines)

    def watch(self, paths, **options) -> FileWatcher:
        options.setdefault("poll_interval", FAST)
        watcher = FileWatcher(paths, self.on_lines, on_notice=self.notices.append, **options)
        watcher.start()
        self.addCleanup(watcher.stop)
        return watcher

    def lines(self, source: Optional[str] = None) -> List[bytes]:
        with self.lock:
            return [line for origin, line in self.delivered if source is None or origin == source]

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.01)

    def wait_lines(self, expected: List[bytes], source: Optional[str] = None) -> None:
        """Wait until as many lines as expected arrived, then compare them exactly."""
        self.wait_until(lambda: len(self.lines(source)) >= len(expected), f"lines {expected!r}")
        self.assertEqual(self.lines(source), expected)

    def wait_read(self, watcher: FileWatcher, source: str, size: int) -> None:
        """Wait until the watcher has read ``size`` bytes of ``source``."""
        self.wait_until(lambda: watcher.stats.files[source].bytes >= size, f"{size} bytes read")

    def wait_polls(self, watcher: FileWatcher, source: str) -> None:
        """Let the watcher poll a few times: append a marker line to ``source`` and wait for it."""
        for number in range(3):
            marker = b"marker %d" % number
            append(source, marker + b"\n")
            self.wait_until(lambda marker=marker: marker in self.lines(), "a marker line")  # type: ignore[misc]

    def kinds(self, path: Optional[str] = None) -> List[str]:
        return [notice.kind for notice in list(self.notices) if path is None or notice.path == path]


def append(path: str, data: bytes) -> None:
    with open(path, "ab") as stream:
        stream.write(data)


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as stream:
        stream.write(data)


class FollowTest(WatcherTestCase):
    def test_appended_lines_arrive_in_order_from_the_end(self):
        log = self.path("access.log")
        write(log, b"old 1\nold 2\n")
        watcher = self.watch([log])
        append(log, b"new 1\nnew 2\n")
        append(log, b"new 3\n")
        self.wait_lines([b"new 1", b"new 2", b"new 3"])
        self.assertEqual(self.delivered[0][0], log)
        self.assertEqual(watcher.stats.files[log].lines, 3)

    def test_from_start_reads_existing_content_first(self):
        log = self.path("access.log")
        write(log, b"old 1\nold 2\n")
        self.watch([log], from_start=True)
        append(log, b"new\n")
        self.wait_lines([b"old 1", b"old 2", b"new"])

    def test_start_inside_a_line_skips_its_rest(self):
        log = self.path("access.log")
        write(log, b"old\nhalf writ")
        self.watch([log])
        append(log, b"ten line\nnext\n")
        self.wait_lines([b"next"])

    def test_torn_write_arrives_once_whole(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        append(log, b"first half of a line, ")
        self.wait_read(watcher, log, 22)
        append(log, b"then its end\nsecond\n")
        self.wait_lines([b"first half of a line, then its end", b"second"])

    def test_unterminated_last_line_is_delivered_at_stop(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        data = b"one\nlast without newline"
        append(log, data)
        self.wait_read(watcher, log, len(data))
        self.assertEqual(self.lines(), [b"one"])
        self.assertTrue(watcher.stop())
        self.assertEqual(self.lines(), [b"one", b"last without newline"])

    def test_lines_appended_just_before_stop_are_delivered(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log], poll_interval=0.25)
        append(log, b"a\nb\nc")
        watcher.stop()
        self.assertEqual(self.lines(), [b"a", b"b", b"c"])

    def test_binary_garbage_passes_through_as_bytes(self):
        log = self.path("access.log")
        write(log, b"")
        self.watch([log])
        noise = random.Random(7)
        garbage = bytes(noise.randrange(256) for _ in range(20000)) + b"\n"
        append(log, garbage)
        self.wait_lines(garbage.split(b"\n")[:-1])

    def test_forty_megabyte_unterminated_line_is_cut_and_counted_in_bounded_memory(self):
        log = self.path("access.log")
        write(log, b"")
        cap = 1 << 20
        chunk = b"x" * (1 << 20)
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        watcher = self.watch([log], max_line_length=cap)
        with open(log, "ab") as stream:
            for _ in range(40):
                stream.write(chunk)
        self.wait_read(watcher, log, 40 * len(chunk))
        append(log, b"\nafter\n")
        self.wait_lines([chunk[:cap], b"after"])
        peak = tracemalloc.get_traced_memory()[1]
        self.assertLess(peak, 2 * READ_BLOCK + 4 * cap, "memory grew with the line instead of the cap")
        self.assertEqual(watcher.stats.files[log].cut_lines, 1)
        self.assertIn("cut", self.kinds(log))

    def test_a_read_that_fills_its_block_says_more_was_waiting(self):
        log = self.path("access.log")
        lines = [b"line %06d " % number + b"x" * 90 for number in range(2000)]  # 200 KB
        write(log, b"".join(line + b"\n" for line in lines))
        marks: List[bool] = []
        self.hook = lambda source, block: marks.append(block.more)  # type: ignore[attr-defined]
        with mock.patch("monilog.watcher.follower.READ_BLOCK", 64 << 10):
            self.watch([log], from_start=True)
            self.wait_lines(lines)
        self.assertEqual(marks, [True, True, True, False])  # three full reads, then the end of the file

    def test_blocks_say_whether_their_lines_had_waited_to_be_read(self):
        old, new = self.path("old.log"), self.path("new.log")
        lines = [b"line %06d " % number + b"x" * 90 for number in range(2000)]  # 200 KB
        write(old, b"".join(line + b"\n" for line in lines))
        write(new, b"".join(line + b"\n" for line in lines))
        marks: List[Tuple[str, bool]] = []
        fills: List[bool] = []
        self.hook = lambda source, block: (marks.append((source, block.backlog)), fills.append(block.more))  # type: ignore[attr-defined]
        # an hour to be fresh in: a loaded machine may leave the watcher's thread waiting seconds
        with mock.patch("monilog.watcher.follower.READ_BLOCK", 64 << 10), \
                mock.patch("monilog.watcher.follower.FRESH_SECONDS", 3600.0):
            self.watch([old], from_start=True)
            self.watch([new])  # from its end
            self.wait_lines(lines, old)
            self.assertEqual(marks, [(old, True)] * 4, "a file read from its start, to its end")
            append(old, b"appended\n")
            append(new, b"appended\n")
            self.wait_lines(lines + [b"appended"], old)
            self.wait_lines([b"appended"], new)
            self.assertEqual(sorted(marks[4:]), [(new, False), (old, False)], "lines written since the file's end was read")
            append(new, b"".join(line + b"\n" for line in lines))  # a burst: more than a read, written since
            self.wait_lines([b"appended"] + lines, new)
            self.assertTrue(any(fills[6:]))  # 200 KB in one write: a read fills its 64 KiB
            self.assertEqual(marks[6:], [(new, False)] * (len(marks) - 6))
            with mock.patch("monilog.watcher.follower.FRESH_SECONDS", -1.0):  # any end reached is too long ago
                append(new, b"late\n")
                self.wait_lines([b"appended"] + lines + [b"late"], new)
        self.assertEqual(marks[-1], (new, True), "what was written long after the end was read")

    def test_last_activity_moves_when_lines_arrive(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        started = watcher.last_activity
        append(log, b"line\n")
        self.wait_lines([b"line"])
        self.assertGreater(watcher.last_activity, started)

    def test_batches_group_lines_of_one_read(self):
        log = self.path("access.log")
        write(log, b"")
        self.watch([log])
        append(log, b"".join(b"line %d\n" % number for number in range(1000)))
        self.wait_lines([b"line %d" % number for number in range(1000)])
        self.assertLess(self.batches, 1000)


class RotationTest(WatcherTestCase):
    def test_rename_rotation_drains_the_old_file_then_reads_the_new_one(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log], rotation_grace=60)
        append(log, b"1\n2\n")
        self.wait_lines([b"1", b"2"])
        os.rename(log, log + ".1")
        append(log + ".1", b"3\n")
        write(log, b"4\n")
        self.wait_lines([b"1", b"2", b"3", b"4"])
        self.wait_until(lambda: watcher.stats.files[log].rotations == 1, "the rotation")
        append(log + ".1", b"5\n")  # a writer that has not reopened its log yet
        self.wait_lines([b"1", b"2", b"3", b"4", b"5"])
        append(log, b"6\n")
        self.wait_lines([b"1", b"2", b"3", b"4", b"5", b"6"])
        self.assertEqual({source for source, _ in self.delivered}, {log})
        self.assertIn("rotated", self.kinds(log))

    def test_rotated_file_is_closed_once_idle(self):
        log = self.path("access.log")
        write(log, b"")
        before = open_fds()
        watcher = self.watch([log], rotation_grace=0.2)
        opened = open_fds()
        os.rename(log, log + ".1")
        write(log, b"new\n")
        self.wait_lines([b"new"])
        self.assertEqual(watcher.stats.files[log].rotations, 1)
        self.wait_until(lambda: open_fds() == opened, "the rotated file to be closed")
        watcher.stop()
        self.assertEqual(open_fds(), before)

    def test_rotated_file_delivers_its_unterminated_last_line_when_closed(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log], rotation_grace=1.0)
        append(log, b"a\nb")
        self.wait_read(watcher, log, 3)
        os.rename(log, log + ".1")
        write(log, b"c\n")
        self.wait_lines([b"a", b"c", b"b"])

    def test_copytruncate_reads_again_from_the_start(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        append(log, b"before 1\nbefore 2\n")
        self.wait_lines([b"before 1", b"before 2"])
        shutil.copyfile(log, log + ".1")
        with open(log, "r+b") as stream:
            stream.truncate(0)
        append(log, b"after\n")
        self.wait_lines([b"before 1", b"before 2", b"after"])
        self.assertEqual(watcher.stats.files[log].truncations, 1)
        self.assertIn("truncated", self.kinds(log))

    def test_truncation_refilled_past_the_offset_between_polls_is_detected(self):
        log = self.path("access.log")
        write(log, b"")
        refill = b"a replacement line longer than the first\n"

        def truncate_and_refill(source: str, lines: List[bytes]) -> None:
            if lines == [b"first"]:  # the watcher waits for us: nothing is read meanwhile
                write(log, refill)

        self.hook = truncate_and_refill
        watcher = self.watch([log])
        append(log, b"first\n")
        self.wait_lines([b"first", refill.rstrip(b"\n")])
        self.assertEqual(watcher.stats.files[log].truncations, 1)

    def test_delete_and_recreate(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        append(log, b"first\n")
        self.wait_lines([b"first"])
        os.unlink(log)
        self.wait_until(lambda: "removed" in self.kinds(log), "the removal notice")
        write(log, b"second\nthird\n")
        self.wait_lines([b"first", b"second", b"third"])
        self.assertEqual(watcher.stats.files[log].rotations, 1)

    def test_symlink_retargeted(self):
        first, second, link = self.path("a.log"), self.path("b.log"), self.path("current.log")
        write(first, b"a old\n")
        os.symlink(first, link)
        watcher = self.watch([link])
        append(first, b"a new\n")
        self.wait_lines([b"a new"])
        write(second, b"b 1\n")
        os.symlink(second, link + ".tmp")
        os.replace(link + ".tmp", link)
        self.wait_lines([b"a new", b"b 1"])
        append(second, b"b 2\n")
        self.wait_lines([b"a new", b"b 1", b"b 2"])
        self.assertEqual(watcher.stats.files[link].rotations, 1)


class AppearingFilesTest(WatcherTestCase):
    def test_file_created_after_start_is_read_from_its_start(self):
        log = self.path("later.log")
        self.watch([log])
        self.wait_until(lambda: "missing" in self.kinds(log), "the missing-file warning")
        write(log, b"1\n2\n")
        append(log, b"3\n")
        self.wait_lines([b"1", b"2", b"3"])
        self.assertEqual(self.kinds(log).count("missing"), 1)
        self.assertIn("appeared", self.kinds(log))

    def test_glob_gains_a_file(self):
        existing, later = self.path("a.log"), self.path("b.log")
        write(existing, b"old\n")
        watcher = self.watch([self.path("*.log")])
        append(existing, b"a new\n")
        self.wait_lines([b"a new"], existing)
        write(later, b"b 1\n")
        self.wait_lines([b"b 1"], later)
        append(later, b"b 2\n")
        self.wait_lines([b"b 1", b"b 2"], later)
        self.assertEqual(self.lines(), [b"a new", b"b 1", b"b 2"])
        self.assertEqual(set(watcher.stats.files), {existing, later})

    def test_glob_matching_nothing_yet_warns_once_and_waits(self):
        pattern = self.path("*.log")
        self.watch([pattern])
        self.wait_until(lambda: "missing" in self.kinds(pattern), "the warning")
        write(self.path("x.log"), b"x\n")
        self.wait_lines([b"x"])
        self.assertEqual(self.kinds(pattern), ["missing"])

    def test_rotated_file_matching_the_glob_is_handed_over_not_reread(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([self.path("access.log*")], rotation_grace=60)
        append(log, b"1\n")
        self.wait_lines([b"1"])
        os.rename(log, log + ".1")
        append(log + ".1", b"2\n")
        write(log, b"3\n")
        self.wait_until(lambda: log + ".1" in watcher.stats.files, "the rotated name to be followed")
        self.wait_until(lambda: len(self.lines()) >= 3, "three lines")
        append(log + ".1", b"4\n")
        self.wait_until(lambda: b"4" in self.lines(log + ".1"), "the line added to the rotated file")
        self.wait_polls(watcher, log)
        self.assertEqual(sorted(self.lines()), [b"1", b"2", b"3", b"4", b"marker 0", b"marker 1",
                                                b"marker 2"])
        self.assertEqual(self.lines(log)[:1], [b"1"])

    def test_same_file_named_twice_is_read_once(self):
        log, link = self.path("access.log"), self.path("link.log")
        write(log, b"")
        os.symlink(log, link)
        watcher = self.watch([log, link])
        append(log, b"once\n")
        self.wait_lines([b"once"])
        self.wait_polls(watcher, log)
        self.assertEqual(self.lines(), [b"once", b"marker 0", b"marker 1", b"marker 2"])
        self.assertIn("duplicate", self.kinds(link))


class ErrorsTest(WatcherTestCase):
    @unittest.skipIf(os.geteuid() == 0, "root reads files whatever their mode; "
                                        "test_permission_denied_on_open covers the error path")
    def test_permission_denied_by_mode(self):
        denied, readable = self.path("denied.log"), self.path("ok.log")
        write(denied, b"old\n")
        write(readable, b"")
        os.chmod(denied, 0)
        self.watch([denied, readable])
        append(readable, b"ok\n")
        self.wait_lines([b"ok"])
        self.assertEqual(self.kinds(denied), ["permission"])
        os.chmod(denied, 0o644)
        append(denied, b"new\n")
        self.wait_lines([b"ok", b"new"])

    def test_permission_denied_on_open(self):
        denied, readable = self.path("denied.log"), self.path("ok.log")
        write(denied, b"there before start\n")
        write(readable, b"")
        real_open = os.open
        refusing = threading.Event()
        refusing.set()

        def fake_open(path, flags, *args, **kwargs):
            if refusing.is_set() and path == denied:
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, *args, **kwargs)

        with mock.patch("monilog.watcher.follower.os.open", side_effect=fake_open):
            watcher = self.watch([denied, readable])
            append(readable, b"ok\n")
            self.wait_lines([b"ok"])
            self.wait_polls(watcher, readable)
            errors = [notice for notice in self.notices if notice.path == denied]
            self.assertEqual([(n.level, n.kind) for n in errors], [("error", "permission")])
            self.assertIn("permission denied", errors[0].message)
            append(denied, b"written while denied\n")
            refusing.clear()
            self.wait_lines([b"written while denied"], denied)
        self.assertIn("readable", self.kinds(denied))

    def test_directory_is_reported_and_other_files_followed(self):
        folder, log = self.path("folder"), self.path("access.log")
        os.mkdir(folder)
        write(log, b"")
        self.watch([folder, log])
        append(log, b"line\n")
        self.wait_lines([b"line"])
        self.assertEqual(self.kinds(folder), ["unreadable"])

    def test_callback_error_ends_the_watcher_and_is_raised_by_stop(self):
        log = self.path("access.log")
        write(log, b"")
        before = open_fds()

        def fail(source: str, lines: List[bytes]) -> None:
            raise ValueError("consumer bug")

        watcher = FileWatcher([log], fail, poll_interval=FAST)
        with self.assertLogs("monilog.watcher", "ERROR"):
            watcher.start()
            append(log, b"line\n")
            self.assertTrue(watcher.wait(DEADLINE))
        self.assertIsInstance(watcher.error, ValueError)
        with self.assertRaises(ValueError):
            watcher.stop()
        self.assertEqual(open_fds(), before)

    def test_invalid_arguments(self):
        with self.assertRaises(ValueError):
            FileWatcher([], self.on_lines)
        with self.assertRaises(ValueError):
            FileWatcher(["x"], self.on_lines, poll_interval=0)
        with self.assertRaises(ValueError):
            FileWatcher(["x"], self.on_lines, max_line_length=0)
        with self.assertRaises(TypeError):
            FileWatcher("access.log", self.on_lines)


class StreamTest(WatcherTestCase):
    def test_named_pipe_survives_writers_coming_and_going(self):
        fifo = self.path("pipe")
        os.mkfifo(fifo)
        self.watch([fifo])
        for payload in (b"one\ntwo\n", b"three\n"):
            # Opening without blocking fails (ENXIO) unless the watcher holds the reading end.
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(writer, payload)
            os.close(writer)
        self.wait_lines([b"one", b"two", b"three"])

    def test_a_stream_is_read_to_its_end_only_when_nothing_more_is_ready(self):
        fifo = self.path("pipe")
        os.mkfifo(fifo)
        writer = os.open(fifo, os.O_RDWR)  # both ends: neither open blocks
        self.addCleanup(os.close, writer)
        marks: List[bool] = []

        class Sink:
            def deliver(self, source: str, lines: LineBlock) -> None:
                marks.append(lines.backlog)

            def notice(self, level: str, source: str, kind: str, message: str) -> None:
                pass

            def count(self, source: str, field: str, amount: int = 1) -> None:
                pass

            def skip(self, source: str, reason: str, amount: int) -> None:
                pass

        follower = Follower(fifo, Sink(), {}, max_line_length=1 << 16, rotation_grace=1.0, explicit=True)
        follower.prime(from_start=False)
        self.addCleanup(follower.close, False)
        os.write(writer, b"x" * 99 + b"\n" + b"history\n" * 3000)  # 24 KB waiting before the first read
        with mock.patch("monilog.watcher.follower.READ_BLOCK", 8 << 10), \
                mock.patch("monilog.watcher.follower.FRESH_SECONDS", 3600.0):
            follower.read(1)  # full reads
            follower.read(1)
            follower.read(1)  # a short one: a pipe gives what it holds, not the end of its writer
            os.write(writer, b"more\n")
            follower.read(1)  # still the history's reading: nothing came back empty yet
            follower.read(1)  # empty: the end, now
            os.write(writer, b"new\n")
            follower.read(1)
        self.assertEqual(marks, [True, True, True, True, False])

    def test_standard_input_in_a_subprocess(self):
        script = (
            "import sys\n"
            "from monilog.watcher import FileWatcher\n"
            "def show(source, lines):\n"
            "    for line in lines:\n"
            "        print(source, line.hex(), flush=True)\n"
            "watcher = FileWatcher(['-'], show, poll_interval=0.05)\n"
            "watcher.start()\n"
            "print('ended' if watcher.wait(60) else 'still running', flush=True)\n"
            "watcher.stop()\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        self.addCleanup(child.wait, DEADLINE)
        self.addCleanup(child.kill)
        self.addCleanup(child.stdout.close)
        child.stdin.write(b"first\nsec")
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], DEADLINE)
        self.assertTrue(ready, "no line delivered while standard input stays open")
        self.assertEqual(child.stdout.readline(), b"- " + b"first".hex().encode() + b"\n")
        output, _ = child.communicate(b"ond\n\xff\xfe\nlast", timeout=DEADLINE)
        expected = [b"- " + line.hex().encode() for line in (b"second", b"\xff\xfe", b"last")]
        self.assertEqual(output.splitlines(), expected + [b"ended"])
        self.assertEqual(child.returncode, 0)


class LifecycleTest(WatcherTestCase):
    def test_stop_leaks_no_descriptor_and_no_thread(self):
        log, fifo = self.path("access.log"), self.path("pipe")
        write(log, b"")
        os.mkfifo(fifo)
        fds, threads = open_fds(), set(threading.enumerate())
        watcher = FileWatcher([log, fifo, self.path("*.txt"), self.path("missing.log")],
                              self.on_lines, poll_interval=FAST, on_notice=self.notices.append)
        with watcher:
            self.assertTrue(watcher.running)
            write(self.path("x.txt"), b"x\n")
            append(log, b"1\n")
            self.wait_until(lambda: len(self.lines()) == 2, "two lines")
            os.rename(log, log + ".1")
            write(log, b"2\n")
            self.wait_until(lambda: len(self.lines()) == 3, "three lines")
        self.assertFalse(watcher.running)
        self.assertEqual(open_fds(), fds)
        self.assertEqual(set(threading.enumerate()), threads)
        self.assertTrue(watcher.stop())

    def test_stop_from_the_callback_ends_the_watcher(self):
        log = self.path("access.log")
        write(log, b"")
        watcher = self.watch([log])
        self.hook = lambda source, lines: self.assertFalse(watcher.stop())
        append(log, b"last\n")
        self.assertTrue(watcher.wait(DEADLINE))
        self.assertEqual(self.lines(), [b"last"])

    def test_start_twice_is_refused(self):
        watcher = self.watch([self.path("a.log")])
        with self.assertRaises(RuntimeError):
            watcher.start()

    def test_notices_go_to_the_log_without_a_callback(self):
        watcher = FileWatcher([self.path("absent.log")], self.on_lines, poll_interval=FAST)
        with self.assertLogs("monilog.watcher", "WARNING") as logs:
            watcher.start()
            watcher.stop()
        self.assertIn("does not exist yet", logs.output[0])


if __name__ == "__main__":
    unittest.main()
