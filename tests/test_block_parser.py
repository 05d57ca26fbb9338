"""The block parser gives, line for line, what the reference LogParser gives.

Every comparison runs a block through :func:`parse_block` and the same lines one by one through
:class:`LogParser`, and checks the same records (host, user, method, section, status, size,
epoch, UTC offset) come out in the same order, and the same lines are skipped for the same
reasons at the same places. Lines come from the parser tests' fixtures, from the traffic
generator, and from hypothesis.
"""

from __future__ import annotations

import ast
import os
import random
import unittest
from datetime import timedelta
from typing import List, Sequence, Tuple, Union

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.generator import LogGenerator
from monilog.parsing.block import (
    FAST_FORMATS,
    LineKeys,
    ParsedBlock,
    count_lines,
    decode_request,
    decode_sizes,
    decode_stamp,
    decode_status,
    decode_who,
    parse_block,
)
from monilog.parsing.columns import joined, split_block
from monilog.parsing.parser import MAX_LINE_LENGTH, LogParser
from monilog.parsing.record import ParseError
from tests.test_parser import (
    ADVANCED_HEADER,
    ADVANCED_LINE,
    APACHE_COMBINED,
    APACHE_COMMON,
    DRAFT_FIELDS,
    DRAFT_LINE,
    IIS_HEADER,
    IIS_LINE,
    NGINX_COMBINED,
    format_line,
    log_fields,
)

Outcome = Tuple[List[tuple], List[Tuple[int, str]]]
"""Records as field tuples, and ``(index of the next record, reason)`` of each skipped line."""

HEAD = '10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] '


def reference_outcome(block: bytes, fmt: str) -> Outcome:
    """What the reference parser makes of the lines of ``block``."""
    parser = LogParser(fmt)
    records: List[tuple] = []
    skipped: List[Tuple[int, str]] = []
    lines = block.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        try:
            record = parser.parse(line)
        except ParseError as error:
            skipped.append((len(records), error.reason))
            continue
        if record is not None:
            records.append((record.host, record.user, record.method, record.section, record.status,
                            record.size, record.epoch, record.time.utcoffset()))
    return records, skipped


def fast_outcome(parsed: ParsedBlock) -> Outcome:
    records = []
    for index in range(len(parsed.stamps)):
        *head, zone = fields(parsed, index)
        records.append((*head, zone.utcoffset(None)))
    return records, list(parsed.skipped)


def fields(parsed: ParsedBlock, index: int) -> tuple:
    """The decoded fields of record ``index``: host, user, method, section, status, size, epoch, zone."""
    host, user = decode_who(parsed.who[index])
    method, section = decode_request(parsed.requests[index])
    epoch, zone = decode_stamp(parsed.stamps[index])
    return (host, user, method, section, decode_status(parsed.statuses[index]),
            decode_sizes([parsed.sizes[index]])[0], epoch, zone)


def assert_same_outcome(test: unittest.TestCase, block: bytes, fmt: str) -> None:
    parsed = parse_block(block, LogParser(fmt))
    test.assertEqual(parsed.lines, count_lines(block))
    test.assertEqual(fast_outcome(parsed), reference_outcome(block, fmt))


def as_bytes(line: Union[str, bytes]) -> bytes:
    return line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line


def parser_fixture_lines() -> List[bytes]:
    """Every string literal of tests/test_parser.py that could be a log line (no ``#`` lines)."""
    path = os.path.join(os.path.dirname(__file__), "test_parser.py")
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            for line in as_bytes(node.value).split(b"\n"):
                if line and not line.startswith(b"#"):
                    found.append(line)
    return found


HANDMADE = [
    APACHE_COMMON, APACHE_COMBINED, NGINX_COMBINED,
    NGINX_COMBINED + "\r", NGINX_COMBINED + "\r\r", APACHE_COMMON + "\r", APACHE_COMMON + " \r",
    APACHE_COMMON + "\textra", APACHE_COMMON + "\x0bx", APACHE_COMMON + "\x1cx", APACHE_COMMON + " ",
    "  " + APACHE_COMMON, APACHE_COMMON.replace(" - ", "  -  "),
    '10.1.1.1 - "john doe" [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 200 1 "-" "-"',
    '10.1.1.1 - "-" [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
    '127.0.0.1 - john doe [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.0" 200 263 "-" "ab"',
    '127.0.0.1 - john  doe  [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.0" 200 263',
    '10.1.1.1 - a"b [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
    HEAD + '"-" 408 0 "-" "-"', HEAD + '"GET /index.html" 200 100', HEAD + '"GET /my docs/a b HTTP/1.1" 400 0',
    HEAD + '"GET  /x HTTP/1.1" 200 1', HEAD + '"GET /x  HTTP/1.1" 200 1', HEAD + '"GET /x HTTP/1.1 " 200 1',
    HEAD + '"GET http://my.site.com/pages/create HTTP/1.1" 200 1', HEAD + '"OPTIONS * HTTP/1.1" 200 1',
    HEAD + '"CONNECT example.com:443 HTTP/1.1" 200 1', HEAD + '"GET /a?b/c HTTP/1.1" 200 1',
    HEAD + '"GET /a#b/c?d HTTP/1.1" 200 1', HEAD + '"GET //x HTTP/1.1" 200 1', HEAD + '"GET /?x HTTP/1.1" 200 1',
    HEAD + '"GET / HTTP/" 200 1', HEAD + '"GET / http/1.1" 200 1', HEAD + '"get /lower HTTP/1.1" 200 1',
    HEAD + '"GET /caf\u00e9/x HTTP/1.1" 200 1', HEAD + '"GET /x/caf\u00e9 HTTP/1.1" 200 1',
    HEAD + '"GET /a\tb/c HTTP/1.1" 200 1', HEAD + '"GET /a/b\tc HTTP/1.1" 200 1',
    HEAD + '"G\u00c9T /a HTTP/1.1" 200 1', HEAD + '"\\x16\\x03\\x01" 400 157 "-" "-"',
    HEAD + '"GET /q?s=\\"x\\" HTTP/1.1" 200 1 "http://r/?a=\\"b\\"" "Agent \\"quoted\\" \\\\ backslash"',
    HEAD + '"GET / HTTP/1.1" 200 1 "-" "say \\x22hi\\x22"', HEAD + '"GET / HTTP/1.1" 200 1 "ref\\" "agent"',
    HEAD + '"GET / HTTP/1.1" 200 1 "-" "agent\\"', HEAD + '"GET / HTTP/1.1" 200 1 "-" "a" trailing "x"',
    HEAD + '"GET / HTTP/1.1" 200 1 "-"', HEAD + '"GET / HTTP/1.1" 200 1 "-" "unterminated',
    HEAD + '"GET / HTTP/1.1" 200 1 "-"  "two spaces"', HEAD + '"GET / HTTP/1.1" 200 1"-" "-"',
    HEAD + '"GET / HTTP/1.1" 200 1 "caf\u00e9" "\u00e9t\u00e9 \x1b[31m"',
    HEAD + '"GET / HTTP/1.1" 200 -', HEAD + '"GET / HTTP/1.1" 200 007', HEAD + '"GET / HTTP/1.1" 999 1',
    HEAD + '"GET / HTTP/1.1" 099 1', HEAD + '"GET / HTTP/1.1" 2000 1', HEAD + '"GET / HTTP/1.1" 200 -1',
    HEAD + '"GET / HTTP/1.1" 200 1.5', HEAD + '"GET / HTTP/1.1" 200 ' + "9" * 19,
    HEAD + '"GET / HTTP/1.1" 200 123abc', HEAD + '"GET / HTTP/1.1" 200', HEAD + '"GET / HTTP/1.1" 200 ',
    '10.1.1.1 - - [31/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/Foo/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/Oct/2024:25:00:00 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/Oct/2024:10:00:00 +9999] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/Oct/2024:10:00:00 -0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/oct/2024:10:00:00 +0530] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [10/Oct/2024:10:00:0\u00e9 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - - [1/Oct/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1',
    '- - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1', 'h#st - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
    'h\u00f4te - us\u00e9r [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 \u00e9 - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1',
    '10.1.1.1 - \x1b[2Jroot [10/Oct/2000:13:55:36 +0000] "GET /\x1b[31mred HTTP/1.1" 200 1 "-" "\x1b]0;x\x07"',
    "", " ", "\t", "\r", "garbage line", "-", '"', '" "',
    APACHE_COMMON + ' "-" "' + "A" * MAX_LINE_LENGTH + '"',
    HEAD + '"GET /' + "a" * 3000 + ' HTTP/1.1" 200 1', HEAD + '"GET /x/' + "a" * 9000 + ' HTTP/1.1" 200 1',
    "x" * 70_000,
]
HANDMADE_BYTES = [
    b'10.1.1.1 - us\xe9r [10/Oct/2000:13:55:36 +0000] "GET /caf\xe9\xff/x HTTP/1.1" 200 1 "-" "bad \xc3\x28 bytes"\r',
    b'10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 200 1 "\xff\xfe" "\xe2\x22"',
    b'10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x\xe9 HTTP/1.1" 200 1 "-" "-"',
    b'10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 200 1 "-" "\x00\x01"',
]


W3C_LINES: List[Union[str, bytes]] = [
    *ADVANCED_HEADER, ADVANCED_LINE, ADVANCED_LINE.replace('"W3SVC1"', "W3SVC1").replace('"www.example.com"', "-"),
    ADVANCED_LINE.replace(" 31", " -"), ADVANCED_LINE[:-20], ADVANCED_LINE.replace('Safari/537.36"', "Safari/537.36"),
    ADVANCED_LINE + ' "one field too many"',
    DRAFT_FIELDS, DRAFT_LINE, DRAFT_LINE.replace('"-"', '"a ""quoted"" \\"b\\" ref"'),
    DRAFT_LINE.replace('"-"', '"-'), DRAFT_LINE + "\r",
    *IIS_HEADER, IIS_LINE, IIS_LINE.replace(" 15", " -"),
]
"""W3C lines with quoted strings (good and broken), local times, durations and vhosts."""


def extras_of_records(block: bytes, fmt: str) -> List[Tuple[str, object]]:
    """``(vhost, duration)`` of each record the reference parser reads from ``block``."""
    parser, extras = LogParser(fmt), []
    for line in block.split(b"\n"):
        try:
            record = parser.parse(line)
        except ParseError:
            continue
        if record is not None:
            extras.append((record.vhost, record.duration))
    return extras


class BlockParserTest(unittest.TestCase):
    def assert_same(self, lines: Sequence[Union[str, bytes]], formats: Sequence[str] = FAST_FORMATS) -> None:
        block = b"\n".join(as_bytes(line) for line in lines)
        for fmt in formats:
            with self.subTest(fmt=fmt, block=block[:120]):
                assert_same_outcome(self, block, fmt)

    def test_each_handmade_line_alone_and_terminated(self) -> None:
        for line in HANDMADE + HANDMADE_BYTES:
            self.assert_same([line])
            self.assert_same([line, b""])

    def test_handmade_lines_together(self) -> None:
        lines = HANDMADE + HANDMADE_BYTES
        self.assert_same(lines)
        shuffled = list(lines)
        random.Random(6).shuffle(shuffled)
        self.assert_same(shuffled + [b""])

    def test_parser_fixtures_alone_and_together(self) -> None:
        lines = parser_fixture_lines()
        self.assertGreater(len(lines), 40)
        for line in lines:
            self.assert_same([line])
        self.assert_same(lines)

    def test_clean_blocks_with_and_without_backslashes(self) -> None:
        clean = [APACHE_COMMON, APACHE_COMBINED, NGINX_COMBINED] * 5
        self.assert_same(clean)
        self.assert_same(clean + [HEAD + '"GET / HTTP/1.1" 200 1 "-" "a \\\\ b"'])
        self.assert_same(clean + ["garbage"] + clean)
        self.assert_same(clean + ['10.1.1.1 - - [31/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1'] + clean)

    def test_quoted_fields_never_swallow_the_next_line(self) -> None:
        # the block pattern lets quoted fields cross newlines; a line missing a quote must not merge
        broken = HEAD + '"GET / HTTP/1.1" 200 1 "-" "open agent'
        self.assert_same([APACHE_COMBINED, broken, APACHE_COMBINED, broken, 'closing" "quote"'])

    def test_empty_block_and_blank_lines(self) -> None:
        self.assertEqual(parse_block(b"", LogParser("combined")).lines, 0)
        self.assert_same([b"", b"", b""])
        self.assert_same([APACHE_COMMON, b"", APACHE_COMMON, b""])

    def test_directives_go_through_the_sources_parser(self) -> None:
        w3c_line = "2024-05-01 12:00:00 GET /a/b 200"
        for lines in (
            [b"#Fields: date time cs-method cs-uri-stem sc-status", w3c_line, APACHE_COMMON],  # switches to W3C
            [APACHE_COMMON, b"#Fields: date time cs-method cs-uri-stem sc-status", APACHE_COMMON],  # a comment
            [b"# comment", APACHE_COMMON, w3c_line],
        ):
            self.assert_same(lines, ["auto"])
        parser = LogParser("auto")
        parse_block(b"#Fields: date time cs-method cs-uri-stem sc-status\n", parser)
        self.assertEqual(parser.detected, "w3c", "the directive reached the source's parser")
        parsed = parse_block(w3c_line.encode() + b"\n" + as_bytes(APACHE_COMMON) + b"\n", parser)
        self.assertEqual((len(parsed.stamps), parsed.skipped), (1, [(1, "field count mismatch")]))

    def test_w3c_and_fast_formats_alike(self) -> None:
        lines = [b"#Fields: date time cs-method cs-uri-stem sc-status sc-bytes", "2024-05-01 12:00:00 GET /a/b 200 5",
                 "2024-05-01 12:00:01 GET /c 404 -", "garbage"]
        self.assert_same(lines, ["w3c", "auto"])

    def test_w3c_quoted_local_timed_and_vhost_lines_alike(self) -> None:
        block = b"\n".join(as_bytes(line) for line in W3C_LINES) + b"\n"
        self.assert_same(W3C_LINES, ["w3c", "auto"])
        for fmt in ("w3c", "auto"):
            with self.subTest(fmt=fmt):
                parsed = parse_block(block, LogParser(fmt))
                self.assertEqual((len(parsed.stamps), [reason for _, reason in parsed.skipped]),
                                 (8, ["malformed", "malformed", "field count mismatch", "malformed"]))
                self.assertIsNotNone(parsed.vhosts)
                self.assertIsNotNone(parsed.durations)
                extras = list(zip(map(parsed.keys.vhost, parsed.vhosts), parsed.keys.durations(parsed.durations)))
                self.assertEqual(extras, extras_of_records(block, fmt))
                self.assertEqual(extras[:4], [("www.example.com", 0.031), ("W3SVC1", 0.031), ("www.example.com", None),
                                              ("", None)])
                self.assertEqual(extras[-2:], [("", 0.015), ("", None)])

    def test_generated_traffic_in_each_format(self) -> None:
        for fmt in ("common", "combined"):
            generator = LogGenerator([50], [120], fmt=fmt, seed=3, start=1_714_560_000, clients=40)
            lines = [line for _, line in generator.timeline()]
            for parser_format in ("auto", fmt):
                self.assert_same(lines, [parser_format])
                self.assert_same(lines + [""], [parser_format])

    def test_generated_traffic_in_every_utc_offset(self) -> None:
        for hours in (-11, -7, 0, 5.5, 14):
            start = 1_714_560_000
            zone = f"{'+' if hours >= 0 else '-'}{int(abs(hours)):02d}{int(abs(hours) % 1 * 60):02d}"
            generator = LogGenerator([5], [30], fmt="combined", seed=1, start=start)
            lines = [line.replace("+0000", zone) for _, line in generator.timeline()]
            self.assert_same(lines, ["combined"])


CORRUPTIONS = st.sampled_from(["", '"', "\\", " ", "  ", "\t", "\r", "\x00", "\u00e9", "\ufffd", "#", "/", "?",
                               "-", "[", "]", "\x1b[0m", "HTTP/1.1", "\"-\""])


@st.composite
def corrupted_line(draw) -> str:
    """A generated line with a few characters replaced or inserted at random places."""
    line = format_line(draw(log_fields()))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        position = draw(st.integers(min_value=0, max_value=len(line)))
        cut = draw(st.integers(min_value=0, max_value=2))
        line = line[:position] + draw(CORRUPTIONS) + line[position + cut:]
    return line


def as_lists(parsed: ParsedBlock) -> dict:
    """A parsed block's fields, its columns as lists (a parser may give tuples), without its decoder."""
    return {name: list(value) if isinstance(value, (list, tuple)) else value
            for name, value in parsed._asdict().items() if name != "keys"}


class JoinedTest(unittest.TestCase):
    def test_blocks_joined_are_the_block_of_their_lines(self) -> None:
        lines = HANDMADE_BYTES + [as_bytes(line) for line in HANDMADE]
        random.Random(2).shuffle(lines)
        for fmt in ("combined", "json", "%h %l %u %t \"%r\" %>s %b %D"):
            parser = LogParser(fmt)
            cuts = sorted(random.Random(3).sample(range(1, len(lines)), 4))
            pieces = [lines[start:end] for start, end in zip([0, *cuts], [*cuts, len(lines)])]
            blocks = [parse_block(b"".join(line + b"\n" for line in piece), parser) for piece in pieces]
            whole = parse_block(b"".join(line + b"\n" for line in lines), parser)
            together = joined(blocks)
            assert together is not None
            self.assertEqual(as_lists(together), as_lists(whole), fmt)

    def test_a_block_split_joins_back_to_itself(self) -> None:
        lines = HANDMADE_BYTES + [as_bytes(line) for line in HANDMADE]
        random.Random(4).shuffle(lines)
        for fmt in ("combined", "%h %l %u %t \"%r\" %>s %b %D"):
            whole = parse_block(b"".join(line + b"\n" for line in lines), LogParser(fmt))
            records = len(whole.stamps)
            for index in range(records + 1):
                head, tail = split_block(whole, index)
                self.assertEqual((len(head.stamps), len(tail.stamps), head.lines, tail.lines),
                                 (index, records - index, whole.lines, 0))
                self.assertTrue(all(record < index for record, _ in head.skipped), (fmt, index))
                together = joined([head, tail])
                assert together is not None
                self.assertEqual(as_lists(together), as_lists(whole), (fmt, index))

    def test_blocks_whose_columns_differ_do_not_join(self) -> None:
        block = parse_block(b'1.2.3.4 - - [01/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 5\n', LogParser("combined"))
        self.assertIsNone(joined([block, block._replace(durations=[b"1"])]))
        self.assertIsNone(joined([block, block._replace(keys=LineKeys())]))  # another decoder
        self.assertIs(joined([block]), block)


class BlockParserPropertyTest(unittest.TestCase):
    @settings(max_examples=120, deadline=None)
    @given(st.lists(st.one_of(st.builds(format_line, log_fields()), corrupted_line()), min_size=1, max_size=8))
    def test_random_lines(self, lines: List[str]) -> None:
        lines = [line.replace("\n", " ") for line in lines]
        block = "\n".join("x" + line if line.startswith("#") else line for line in lines).encode("utf-8", "surrogateescape")
        for fmt in FAST_FORMATS:
            assert_same_outcome(self, block, fmt)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.binary(max_size=60), max_size=5), st.sampled_from([APACHE_COMMON, NGINX_COMBINED]))
    def test_random_bytes_around_good_lines(self, junk: List[bytes], good: str) -> None:
        lines: List[Union[str, bytes]] = []
        for piece in junk:
            piece = piece.replace(b"\n", b" ")
            lines.extend([good, b"x" + piece if piece.startswith(b"#") else piece])
        block = b"\n".join(as_bytes(line) for line in lines + [good])
        for fmt in FAST_FORMATS:
            assert_same_outcome(self, block, fmt)


class DecodingTest(unittest.TestCase):
    def test_fields_of_a_combined_line(self) -> None:
        parsed = parse_block(as_bytes(APACHE_COMBINED), LogParser("combined"))
        host, user, method, section, status, size, epoch, zone = fields(parsed, 0)
        self.assertEqual((host, user, method, section, status, size), ("127.0.0.1", "frank", "GET", "/apache_pb.gif", 200, 2326))
        self.assertEqual(zone.utcoffset(None), timedelta(hours=-7))
        self.assertEqual(epoch, 971211336)

    def test_dashes_are_empty(self) -> None:
        parsed = parse_block(b'- - - [10/Oct/2000:13:55:36 +0000] "GET /a/b HTTP/1.1" 304 -', LogParser("auto"))
        self.assertEqual(fields(parsed, 0)[:6], ("", "", "GET", "/a", 304, 0))


if __name__ == "__main__":
    unittest.main()
