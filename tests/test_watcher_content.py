"""FileWatcher and file content: non-text files."""

from __future__ import annotations

import codecs
import gzip
import os
import unittest
from typing import List

from tests.test_watcher import WatcherTestCase, append, write


def entries(first: int, last: int, client: bytes = b"10.0.0.1") -> bytes:
    """Numbered nginx-like access log lines ``first`` to ``last``, each with its newline."""
    return b"".join(b'%s - - [10/Oct/2024:13:55:36 +0000] "GET /page/%d HTTP/1.1" 200 512\n'
                    % (client, number) for number in range(first, last + 1))


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


class NotTextTest(ContentTestCase):
    def check_refused(self, name: str, data: bytes, problem: str) -> None:
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
        self.assertIn(f"not a text access log ({problem}?)", notices[0].message)
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
        self.check_refused("access.log.2.gz", gzip.compress(entries(1, 50)), "gzip-compressed")

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
