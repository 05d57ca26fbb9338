"""Shared by the watcher and whole-file reading: line splitting (completeness, order, the length
cap) and the test of whether a file is text."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import shutil
import tempfile
import threading
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.watcher import LineBlock, LineSplitter, read_lines, text_problem


def expected_lines(data: bytes, cap: int) -> list:
    """What splitting ``data`` must give, last unterminated line included, each line cut at ``cap``."""
    *complete, tail = data.split(b"\n")
    return [line[:cap] for line in complete + ([tail] if tail else [])]


def feed_in_chunks(splitter: LineSplitter, data: bytes, cuts: list) -> list:
    """Feed ``data`` cut at the offsets ``cuts``, then flush; return all lines."""
    lines = []
    start = 0
    for end in sorted(cuts) + [len(data)]:
        lines.extend(splitter.feed(data[start:end]))
        start = end
    last = splitter.flush()
    return lines + ([last] if last is not None else [])


class LineSplitterTest(unittest.TestCase):
    def test_keeps_unterminated_remainder_until_its_newline(self):
        splitter = LineSplitter()
        self.assertEqual(splitter.feed(b"one\ntw"), [b"one"])
        self.assertEqual(splitter.pending, 2)
        self.assertEqual(splitter.feed(b"o"), [])
        self.assertEqual(splitter.feed(b"\nthree\n"), [b"two", b"three"])
        self.assertEqual(splitter.pending, 0)
        self.assertIsNone(splitter.flush())

    def test_empty_lines_and_carriage_returns_pass_through(self):
        self.assertEqual(LineSplitter().feed(b"\n\r\na\r\n"), [b"", b"\r", b"a\r"])

    def test_flush_hands_out_last_line_once(self):
        splitter = LineSplitter()
        splitter.feed(b"a\nlast")
        self.assertEqual(splitter.flush(), b"last")
        self.assertIsNone(splitter.flush())

    def test_long_complete_line_is_cut_and_counted(self):
        splitter = LineSplitter(max_line_length=4)
        self.assertEqual(splitter.feed(b"abcd\nabcdefgh\nxy\n"), [b"abcd", b"abcd", b"xy"])
        self.assertEqual(splitter.cut_lines, 1)

    def test_long_unterminated_line_is_cut_at_once_and_rest_discarded(self):
        splitter = LineSplitter(max_line_length=4)
        self.assertEqual(splitter.feed(b"abc"), [])
        self.assertEqual(splitter.feed(b"defg"), [b"abcd"])
        self.assertEqual(splitter.feed(b"hij"), [])
        self.assertEqual(splitter.feed(b"klm\nnext\n"), [b"next"])
        self.assertEqual(splitter.cut_lines, 1)
        self.assertIsNone(splitter.flush())

    def test_hundred_megabyte_line_keeps_memory_bounded(self):
        cap = 1 << 20
        splitter = LineSplitter(max_line_length=cap)
        chunk = b"x" * (1 << 20)
        delivered = []
        for _ in range(100):
            delivered.extend(splitter.feed(chunk))
            self.assertLessEqual(splitter.pending, cap)
        delivered.extend(splitter.feed(b"\nafter\n"))
        self.assertEqual(delivered, [chunk[:cap], b"after"])
        self.assertEqual(splitter.cut_lines, 1)

    def test_skip_to_newline_drops_the_partial_first_line(self):
        splitter = LineSplitter()
        splitter.skip_to_newline()
        self.assertTrue(splitter.discarding)
        self.assertEqual(splitter.feed(b"end of a line\nwhole\n"), [b"whole"])
        self.assertFalse(splitter.discarding)

    def test_reset_forgets_the_remainder(self):
        splitter = LineSplitter()
        splitter.feed(b"partial")
        self.assertEqual(splitter.reset(), 7)
        self.assertEqual(splitter.feed(b"new\n"), [b"new"])

    def test_rejects_non_positive_cap(self):
        with self.assertRaises(ValueError):
            LineSplitter(max_line_length=0)

    @settings(max_examples=300, deadline=None)
    @given(data=st.binary(max_size=300).map(lambda b: b.replace(b"z", b"\n")),
           cap=st.integers(min_value=1, max_value=40),
           cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=20))
    def test_any_chunking_gives_the_same_lines(self, data, cap, cuts):
        splitter = LineSplitter(max_line_length=cap)
        cuts = [cut for cut in cuts if cut <= len(data)]
        self.assertEqual(feed_in_chunks(splitter, data, cuts), expected_lines(data, cap))
        *complete, tail = data.split(b"\n")
        self.assertEqual(splitter.cut_lines, sum(1 for line in complete + [tail] if len(line) > cap))

    @settings(max_examples=200, deadline=None)
    @given(data=st.binary(max_size=300).map(lambda b: b.replace(b"z", b"\n")),
           cap=st.integers(min_value=1, max_value=40),
           cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=20))
    def test_a_block_is_its_lines_each_ended_by_a_newline(self, data, cap, cuts):
        splitter, start, lines = LineSplitter(max_line_length=cap), 0, []
        for end in sorted(cut for cut in cuts if cut <= len(data)) + [len(data)]:
            block = splitter.feed_block(data[start:end])
            start = end
            self.assertEqual(block.data.count(b"\n"), len(block))
            self.assertTrue(block.data.endswith(b"\n") or not block.data, block.data)
            lines.extend(block)
        self.assertEqual(lines, expected_lines(data, cap)[:len(lines)])


class LineBlockTest(unittest.TestCase):
    def test_it_is_the_sequence_of_its_lines(self):
        block = LineBlock(b"a\n\nbc\r\n", 3)
        self.assertEqual((len(block), block[0], block[-1], block[1:]), (3, b"a", b"bc\r", [b"", b"bc\r"]))
        self.assertEqual(block, [b"a", b"", b"bc\r"])
        self.assertEqual([b"a", b"", b"bc\r"], block)
        self.assertNotEqual(block, [b"a"])
        self.assertNotEqual(block, b"a\n\nbc\r\n")
        self.assertEqual(list(LineBlock(b"", 0)), [])
        self.assertEqual(LineBlock(b"x\n", 1), LineBlock(b"x\n", 1))


class ReadLinesTest(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="monilog-lines-")
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

    def write(self, data: bytes) -> str:
        path = os.path.join(self.directory, "access.log")
        with open(path, "wb") as stream:
            stream.write(data)
        return path

    def test_reads_whole_file_in_small_blocks_with_last_unterminated_line(self):
        data = b"".join(b"line %d \xff\xfe\n" % number for number in range(200)) + b"tail"
        lines = list(read_lines(self.write(data), block_size=7))
        self.assertEqual(lines, data.split(b"\n"))

    def test_own_splitter_caps_and_counts(self):
        splitter = LineSplitter(max_line_length=3)
        lines = list(read_lines(self.write(b"abcdef\nab\n"), splitter=splitter))
        self.assertEqual(lines, [b"abc", b"ab"])
        self.assertEqual(splitter.cut_lines, 1)

    def test_reads_a_descriptor_without_closing_it(self):
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)

        def write() -> None:
            with os.fdopen(write_end, "wb") as stream:
                stream.write(b"one\ntwo\n")

        writer = threading.Thread(target=write)
        writer.start()
        self.addCleanup(writer.join)
        self.assertEqual(list(read_lines(read_end)), [b"one", b"two"])
        os.fstat(read_end)  # still open

    def test_missing_file_raises(self):
        with self.assertRaises(FileNotFoundError):
            list(read_lines(os.path.join(self.directory, "absent.log")))


class TextProblemTest(unittest.TestCase):
    def test_encodings_and_compression_are_named(self):
        text = "GET /index.html 200\n" * 60
        cases = {
            codecs.BOM_UTF16_LE + text.encode("utf-16-le"): "UTF-16",
            codecs.BOM_UTF16_BE + text.encode("utf-16-be"): "UTF-16",
            text.encode("utf-16-le"): "UTF-16",
            text.encode("utf-16-be"): "UTF-16",
            text.encode("utf-32"): "UTF-32",
            text.encode("utf-32-be"): "UTF-32",
            text.encode("utf-32-le"): "UTF-32",
            b"\x28\xb5\x2f\xfd\x04\x00": "zstd-compressed",
            b"PK\x03\x04\x14\x00": "zip-compressed",
        }
        for first_bytes, name in cases.items():
            with self.subTest(first_bytes=first_bytes[:12]):
                self.assertEqual(text_problem(first_bytes[:1024]), f"not a text access log ({name}?)")

    def test_compression_a_replay_reads_says_so(self):
        text = b"GET /index.html 200\n" * 60
        for first_bytes, name in ((gzip.compress(text), "gzip"), (bz2.compress(text), "bzip2"),
                                  (b"BZh91AY&SY" + bytes(range(40)), "bzip2"),
                                  (lzma.compress(text), "xz"), (b"\xfd7zXZ\x00\x00\x04", "xz")):
            with self.subTest(first_bytes=first_bytes[:12]):
                self.assertEqual(text_problem(first_bytes[:1024]), f"compressed ({name}); use --replay to read it")

    def test_text_is_not_a_problem(self):
        for first_bytes in (
            b"",
            b"a",
            b"10.0.0.1 - - [10/Oct/2024:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5\n" * 20,
            codecs.BOM_UTF8 + "José → café\n".encode() * 40,
            b"#Software: IIS\n#Fields: date time\n",
            b"a\x00",  # too short to judge by its NUL bytes
            b"\x00" * 4096 + b"a line after a hole\n",  # a writer kept its offset after a truncation
            b"line\n" + b"\x00" * 300 + b"more lines\n" * 10,
            b"BZh is not bzip2 without its block header\n",
        ):
            with self.subTest(first_bytes=first_bytes[:20]):
                self.assertIsNone(text_problem(first_bytes))


if __name__ == "__main__":
    unittest.main()
