"""FileWatcher and file content: copies of followed files (copytruncate under a glob), non-text files."""

from __future__ import annotations

import codecs
import gzip
import os
import shutil
import subprocess
import threading
import unittest
from typing import Callable, List

from monilog.watcher import FileWatcher
from tests.test_watcher import WatcherTestCase, append, write


def entries(first: int, last: int, client: bytes = b"10.0.0.1") -> bytes:
    """Numbered nginx-like access log lines ``first`` to ``last``, each with its newline."""
    return b"".join(b'%s - - [10/Oct/2024:13:55:36 +0000] "GET /page/%d HTTP/1.1" 200 512\n'
                    % (client, number) for number in range(first, last + 1))


def lines_of(data: bytes) -> List[bytes]:
    """The complete lines of ``data``, without their newlines."""
    return data.split(b"\n")[:-1]


def read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def truncate(path: str) -> None:
    with open(path, "r+b") as stream:
        stream.truncate(0)


def copytruncate(path: str, copy: str) -> None:
    """What logrotate's ``copytruncate`` does: copy the file, then empty it in place."""
    shutil.copyfile(path, copy)
    truncate(path)


class ContentTestCase(WatcherTestCase):
    """A followed beacon file, away from the patterns under test, to wait for polls."""

    def setUp(self) -> None:
        super().setUp()
        self.beacon = self.path("beacon")
        write(self.beacon, b"")
        self.beacons = 0
        self.helpers = {self.beacon}
        """Sources whose lines are not under test."""

    def settle(self) -> None:
        """Let the watcher complete at least two polls: append beacon lines and wait for each."""
        for _ in range(3):
            self.beacons += 1
            self.wait_beacon(b"beacon %d" % self.beacons)

    def wait_beacon(self, marker: bytes) -> None:
        """Append ``marker`` to the beacon and wait until the watcher delivered it."""
        append(self.beacon, marker + b"\n")
        self.wait_until(lambda: marker in self.lines(self.beacon), "a beacon line")

    def log_lines(self) -> List[bytes]:
        """Lines delivered from every source under test, in delivery order."""
        with self.lock:
            return [line for origin, line in self.delivered if origin not in self.helpers]

    def wait_count(self, count: int) -> None:
        """Wait until ``count`` lines (from the sources under test) arrived, then let it settle."""
        self.wait_until(lambda: len(self.log_lines()) >= count, f"{count} lines")
        self.settle()


class CopytruncateUnderAGlobTest(ContentTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.log = self.path("access.log")
        self.copy = self.log + ".1"
        self.pattern = self.path("access.log*")
        self.trigger = self.path("trigger")
        write(self.trigger, b"")
        self.helpers.add(self.trigger)
        write(self.log, b"")

    def watch_log(self, **options) -> FileWatcher:
        """Follow the log's pattern, then (read after it in every poll) the trigger and the beacon."""
        return self.watch([self.pattern, self.path("trigger*"), self.beacon], **options)

    def between_two_polls(self, action: Callable[[], None]) -> None:
        """Run ``action`` in the watcher thread once it read the log in a poll, before the next."""
        done = threading.Event()

        def run_once(source: str, lines: List[bytes]) -> None:
            if source == self.trigger and not done.is_set():
                action()
                done.set()

        self.hook = run_once
        append(self.trigger, b"now\n")
        self.wait_until(done.is_set, "the action between two polls")

    def test_copy_of_a_fully_read_file_is_not_read_again(self):
        write(self.log, entries(1, 50))  # followed from its end
        watcher = self.watch_log()
        append(self.log, entries(51, 100))
        self.wait_count(50)
        copytruncate(self.log, self.copy)
        append(self.log, entries(101, 150))
        self.wait_count(100)
        self.assertEqual(self.log_lines(), lines_of(entries(51, 150)))
        self.assertEqual(watcher.stats.files[self.copy].lines, 0)
        self.assertIn("copy", self.kinds(self.copy))

    def test_copy_of_a_file_shorter_than_the_fingerprint_is_not_read_again(self):
        watcher = self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 3))
        self.wait_count(3)
        self.assertLess(len(entries(1, 3)), 1024)
        copytruncate(self.log, self.copy)
        append(self.log, entries(4, 5))
        self.wait_count(5)
        self.assertEqual(self.log_lines(), lines_of(entries(1, 5)))
        self.assertEqual(watcher.stats.files[self.copy].lines, 0)

    def test_lines_not_read_before_the_truncation_are_read_from_the_copy_once(self):
        torn = entries(11, 11)
        append(self.log, entries(1, 10) + torn[:25])  # line 11's end will only be in the copy
        watcher = self.watch_log(from_start=True)
        self.wait_count(10)

        def rotate() -> None:
            append(self.log, torn[25:] + entries(12, 20))
            copytruncate(self.log, self.copy)

        self.between_two_polls(rotate)  # the copy is seen before the truncation
        append(self.log, entries(21, 30))
        self.wait_count(30)
        self.assertEqual(self.lines(self.log), lines_of(entries(1, 10) + entries(21, 30)))
        self.assertEqual(self.lines(self.copy), lines_of(entries(11, 20)))
        self.assertEqual(watcher.stats.files[self.log].truncations, 1)

    def test_copy_skips_the_rest_of_a_line_the_original_was_followed_from_inside(self):
        write(self.log, entries(1, 5) + b"half of a line")  # followed from its end
        self.watch_log()

        def rotate() -> None:
            append(self.log, b", its end\n" + entries(6, 10))
            copytruncate(self.log, self.copy)

        self.between_two_polls(rotate)
        self.wait_count(5)
        self.assertEqual(self.lines(self.copy), lines_of(entries(6, 10)))

    def test_copy_appearing_after_the_truncation_was_seen_is_read_only_past_what_was_read(self):
        staging = self.path("staging")  # the glob does not match it yet

        def rotate_now(source: str, lines: List[bytes]) -> None:
            if source == self.log and lines[-1:] == lines_of(entries(10, 10)):
                append(self.log, entries(11, 20))
                copytruncate(self.log, staging)

        self.hook = rotate_now
        watcher = self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 10))
        self.wait_until(lambda: watcher.stats.files[self.log].truncations == 1, "the truncation")
        append(self.log, entries(21, 25))
        self.wait_count(15)
        os.rename(staging, self.copy)
        self.wait_count(25)
        self.assertEqual(self.lines(self.log), lines_of(entries(1, 10) + entries(21, 25)))
        self.assertEqual(self.lines(self.copy), lines_of(entries(11, 20)))

    def test_copy_seen_while_it_is_being_written_is_waited_for(self):
        watcher = self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 60))
        self.wait_count(60)
        content = read(self.log)
        write(self.copy, content[:100])
        self.wait_until(lambda: self.copy in watcher.stats.files, "the copy to be seen")
        self.settle()
        append(self.copy, content[100:])
        truncate(self.log)
        append(self.log, entries(61, 70))
        self.wait_count(70)
        self.assertEqual(self.log_lines(), lines_of(entries(1, 70)))
        self.assertEqual(self.lines(self.copy), [])

    def test_new_file_matching_the_glob_is_read_whole(self):
        self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 30))
        self.wait_count(30)
        other = self.path("access.log.new")
        write(other, entries(1, 40, client=b"10.0.0.2"))
        self.wait_count(70)
        self.assertEqual(self.lines(other), lines_of(entries(1, 40, client=b"10.0.0.2")))
        self.assertNotIn("copy", self.kinds())

    def test_new_file_starting_like_a_followed_one_is_read_whole_once_it_differs(self):
        watcher = self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 30))
        self.wait_count(30)
        other = self.path("access.log.new")
        write(other, entries(1, 1)[:20])
        self.wait_until(lambda: other in watcher.stats.files, "the new file to be seen")
        self.settle()
        self.assertEqual(self.lines(other), [])
        append(other, b"-and then something else\nsecond\n")
        self.wait_count(32)
        self.assertEqual(self.lines(other), [entries(1, 1)[:20] + b"-and then something else",
                                             b"second"])
        self.assertNotIn("copy", self.kinds())

    def test_file_like_a_copy_at_first_but_different_further_on_is_read_from_its_start(self):
        self.watch([self.pattern, self.beacon])
        append(self.log, entries(1, 60))
        self.wait_count(60)
        content = read(self.log)
        lookalike = content[:1500] + entries(1000, 1100, client=b"10.9.9.9")
        write(self.copy, lookalike)
        self.wait_until(lambda: "copy" in self.kinds(self.copy), "the copy to be recognised")
        truncate(self.log)
        append(self.log, entries(61, 62))
        self.wait_count(62 + len(lines_of(lookalike)))
        self.assertEqual(self.lines(self.copy), lines_of(lookalike))
        self.assertEqual(self.lines(self.log), lines_of(entries(1, 62)))
        self.assertTrue(any("not a copy" in notice.message for notice in self.notices))

    def test_new_file_with_the_same_header_as_a_short_followed_one_is_read_once_they_differ(self):
        header = b"#Version: 1.0\n#Fields: date time cs-uri-stem sc-status\n"
        self.watch([self.pattern, self.beacon], from_start=True)
        append(self.log, header)
        self.wait_count(2)
        other = self.path("access.log.other")
        write(other, header + b"2024-10-10 13:55:36 /other 200\n")
        self.wait_until(lambda: "copy" in self.kinds(other), "the new file to be taken for a copy")
        append(self.log, b"2024-10-10 13:55:37 /index 200\n")
        self.wait_count(6)
        self.assertEqual(self.lines(other), lines_of(header + b"2024-10-10 13:55:36 /other 200\n"))
        self.assertTrue(any("not a copy" in notice.message for notice in self.notices))

    def test_rename_rotation_under_the_glob_still_hands_the_file_over(self):
        watcher = self.watch([self.pattern, self.beacon], rotation_grace=60)
        append(self.log, entries(1, 10))
        self.wait_count(10)
        os.rename(self.log, self.copy)
        append(self.copy, entries(11, 12))  # the writer has not reopened its log yet
        write(self.log, entries(13, 20))
        self.wait_count(20)
        self.assertEqual(sorted(self.log_lines()), sorted(lines_of(entries(1, 20))))
        self.assertEqual(watcher.stats.files[self.log].rotations, 1)


@unittest.skipIf(shutil.which("logrotate") is None, "logrotate is not installed")
class LogrotateTest(ContentTestCase):
    """The real logrotate, run by hand (``-f``) between writes, with a state file of its own."""

    def logrotate(self, options: str) -> None:
        config = self.path("logrotate.conf")
        write(config, b'"%s" {\n    rotate 3\n    nocompress\n    %s\n}\n'
              % (self.path("access.log").encode(), options.encode()))
        subprocess.run(["logrotate", "-f", "-s", self.path("logrotate.state"), config],
                       check=True, capture_output=True, timeout=60)

    def test_copytruncate_twice_under_a_glob_counts_every_line_once(self):
        log = self.path("access.log")
        write(log, b"")
        self.watch([self.path("access.log*"), self.beacon])
        append(log, entries(1, 100))
        self.wait_count(100)
        self.logrotate("copytruncate")
        append(log, entries(101, 200))
        self.wait_count(200)
        self.logrotate("copytruncate")
        append(log, entries(201, 250))
        self.wait_count(250)
        self.assertEqual(self.log_lines(), lines_of(entries(1, 250)))
        self.assertTrue(os.path.exists(log + ".2"), "logrotate did not rotate twice")

    def test_rename_and_create_under_a_glob_counts_every_line_once(self):
        log = self.path("access.log")
        write(log, b"")
        self.watch([self.path("access.log*"), self.beacon], rotation_grace=60)
        append(log, entries(1, 100))
        self.wait_count(100)
        self.logrotate("create")
        append(log + ".1", entries(101, 110))  # the writer has not reopened its log yet
        append(log, entries(111, 200))
        self.wait_count(200)
        self.assertEqual(sorted(self.log_lines()), sorted(lines_of(entries(1, 200))))


class NotTextTest(ContentTestCase):
    def check_refused(self, name: str, data: bytes, problem: str, message: str = "not a text access log ({}?)") -> None:
        """Follow a file holding ``data`` next to a text one: one notice, none of its lines."""
        refused, text = self.path(name), self.path("access.log")
        write(refused, data)
        write(text, b"")
        watcher = self.watch([refused, text, self.beacon], from_start=True)
        append(text, b"text line\n")
        self.wait_lines([b"text line"], text)
        self.wait_until(lambda: "not-text" in self.kinds(refused), "the not-text notice")
        append(refused, data)
        self.settle()
        self.assertEqual(self.lines(refused), [])
        notices = [notice for notice in self.notices if notice.path == refused]
        self.assertEqual([(notice.level, notice.kind) for notice in notices], [("error", "not-text")])
        self.assertIn(message.format(problem), notices[0].message)
        self.assertEqual(watcher.stats.files[refused].lines, 0)

    def test_utf16_le_with_a_byte_order_mark(self):
        data = "10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5\n" * 20
        self.check_refused("utf16.log", codecs.BOM_UTF16_LE + data.encode("utf-16-le"), "UTF-16")

    def test_utf16_be_without_a_byte_order_mark(self):
        data = "10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5\n" * 20
        self.check_refused("utf16.log", data.encode("utf-16-be"), "UTF-16")

    def test_utf32(self):
        self.check_refused("utf32.log", "a line\n".encode("utf-32") * 20, "UTF-32")

    def test_gzip_file_given_explicitly(self):
        self.check_refused("access.log.2.gz", gzip.compress(entries(1, 50)), "gzip", "compressed ({}); use --replay to read it")

    def test_utf16_file_appearing_under_a_glob(self):
        self.watch([self.path("*.log"), self.beacon])
        refused = self.path("utf16.log")
        write(refused, "a line\n".encode("utf-16-le") * 20)
        self.wait_until(lambda: "not-text" in self.kinds(refused), "the not-text notice")
        write(self.path("text.log"), b"text\n")
        self.wait_count(1)
        self.assertEqual(self.log_lines(), [b"text"])

    def test_utf16_named_pipe_is_read_to_its_end_and_dropped(self):
        fifo = self.path("pipe")
        os.mkfifo(fifo)
        watcher = self.watch([fifo, self.beacon])
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # fails unless the watcher reads it
        data = "a line\n".encode("utf-16") * 500
        try:
            for written in range(1, 4):
                os.write(writer, data)
                self.wait_read(watcher, fifo, written * len(data))  # read on, for the writer
        finally:
            os.close(writer)
        self.settle()
        self.assertEqual(self.lines(fifo), [])
        self.assertEqual(self.kinds(fifo), ["not-text"])

    def test_utf8_with_a_few_non_ascii_bytes_is_read(self):
        log = self.path("access.log")
        data = "10.0.0.1 - José [10/Oct/2024:13:55:36 +0000] \"GET /café HTTP/1.1\" 200 5\n".encode()
        write(log, codecs.BOM_UTF8 + data + b"\xff\xfe stray bytes\n")
        self.watch([log, self.beacon], from_start=True)
        self.wait_count(2)
        self.assertEqual(self.lines(log), [codecs.BOM_UTF8 + data.rstrip(b"\n"), b"\xff\xfe stray bytes"])
        self.assertNotIn("not-text", self.kinds())


if __name__ == "__main__":
    unittest.main()
