"""The C scan of compiled formats gives exactly the columns of the formats' regex.

``monilog._speedups.scan_format`` runs :attr:`LogFormat.program`, the single-space pattern
translated piece by piece (:mod:`monilog.parsing.pieces`). Wherever it reads a block, its columns
must be those of :func:`~monilog.parsing.pieces.scan_single` (the regex); where it gives up, the
regex reads the block. Compared here on every preset, on random format strings in both syntaxes
with values chosen to make a regex backtrack (users with spaces, ``ip:port`` hosts, quotes,
dashes, padding), and on the same lines altered at random.
"""

from __future__ import annotations

import random
import unittest
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from monilog.accelerator import speedups
from monilog.parsing.logformat import PRESETS, LogFormat, compile_format
from monilog.parsing.pieces import Columns, scan_program, scan_single
from tests import test_logformat

needs_speedups = unittest.skipIf(speedups is None, "the C accelerator is not built (MONILOG_REQUIRE_SPEEDUPS=1 makes this an error)")

Value = Callable[[random.Random], str]


def pick(*choices: str) -> Value:
    return lambda draw: draw.choice(choices)


def number(draw: random.Random) -> str:
    return draw.choice([str(draw.randrange(10 ** draw.randrange(1, 8))), "-", "0", "007"])


def seconds(draw: random.Random) -> str:
    return draw.choice([f"{draw.random() * 3:.3f}", "0", "-", "-1", "1.", str(draw.randrange(5000))])


FIELDS: Dict[str, Tuple[str, str, Value]] = {
    # name: (apache, nginx, value); quoted fields are written with their quotes in both syntaxes
    "host": ("%h", "$remote_addr", pick("10.0.0.1", "::1", "2001:db8::7", "h-1.example", "a:b", "-")),
    "ident": ("%l", "$remote_port", pick("-", "443", "x")),
    "user": ("%u", "$remote_user", pick("-", "john", "john doe", "a  b", "x:y", "[x", " -", "a ")),
    "time": ("%t", "[$time_local]", pick("[01/Dec/2026:18:46:36 +0000]", "[31/Dec/1999:23:59:59 -0130]",
                                          "[1/Dec/2026:18:46:36 +0000]")),
    "iso": ("%{%Y-%m-%dT%H:%M:%S}t", "$time_iso8601", pick("2026-12-01T18:46:36+00:00", "2026-12-01T18:46:36Z",
                                                           "2026-12-01T18:46:36.25+0100", "2026-12-01T18:46:36",
                                                           "2026-12-01T18:46:36.+01:00")),
    "msec": ("%{msec}t", "$msec", pick("1796150796.123", "1796150796", "1796150796.", "17.9e3")),
    "request": ('"%r"', '"$request"', pick("GET /a/b HTTP/1.1", "POST /x?q=1 HTTP/2.0", "-", "GET /a b", "OPTIONS *")),
    "status": ("%>s", "$status", pick("200", "404", "503", "099", "2000", "20")),
    "size": ("%b", "$body_bytes_sent", number),
    "bytes": ("%O", "$bytes_sent", number),
    "micros": ("%D", "$request_time", seconds),
    "upstream": ("%{X-Up}i", "$upstream_response_time", pick("0.001", "0.001, 0.002", "0.1 : 0.2", "-", "0.1,0.2", "1, -")),
    "vhost": ("%v", "$host", pick("site.example", "a:b", "-", "x.example:8080")),
    "port": ("%p", "$server_port", pick("443", "80", "-")),
    "referer": ('"%{Referer}i"', '"$http_referer"', pick("-", "http://r.example/", "a b", "")),
    "agent": ('"%{User-Agent}i"', '"$http_user_agent"', pick("curl/8", "Mozilla/5.0 (X11; Linux)", "", "a  b ")),
    "forwarded": ('"%{X-Forwarded-For}i"', '"$http_x_forwarded_for"', pick("-", "1.2.3.4, 10.0.0.1")),
}
SEPARATORS = (" ", " ", " ", " - ", ":", " | ", "\t", ", ", " [", "] ")
REQUIRED = ("status", "request")
STAMPS = ("time", "iso", "msec")


def random_format(draw: random.Random) -> Tuple[str, List[Tuple[str, Value]]]:
    """A format string in one syntax, and the values of its fields and separators in order."""
    names = [draw.choice(STAMPS), *REQUIRED, *draw.sample([name for name in FIELDS if name not in STAMPS + REQUIRED],
                                                          draw.randrange(1, 8))]
    draw.shuffle(names)
    first = next(index for index, name in enumerate(names) if not FIELDS[name][1].startswith('"'))
    names[0], names[first] = names[first], names[0]  # nginx reads a leading quote as nginx.conf's quoting
    syntax = draw.randrange(2)
    text: List[str] = []
    parts: List[Tuple[str, Value]] = []
    for index, name in enumerate(names):
        if index:
            separator = draw.choice(SEPARATORS)
            text.append(separator)
            parts.append(("", pick(separator)))
        text.append(FIELDS[name][syntax])
        parts.append((name, FIELDS[name][2]))
    if draw.random() < 0.2:
        text.append(" ...")
        parts.append(("", pick("", " more fields", "\tx")))
    return "".join(text), parts


def line_of(parts: Sequence[Tuple[str, Value]], draw: random.Random) -> str:
    out = []
    for name, value in parts:
        text = value(draw)
        if name and FIELDS[name][0].startswith('"'):
            text = f'"{text}"'
        out.append(text)
    return "".join(out) + draw.choice(["", "", "", " ", "\r", "\t \r"])


def altered(line: str, draw: random.Random) -> str:
    chars = list(line)
    for _ in range(draw.randrange(1, 4)):
        at = draw.randrange(len(chars) + 1)
        action = draw.randrange(3)
        if action == 0 and at < len(chars):
            del chars[at]
        elif action == 1:
            chars.insert(at, draw.choice(' :-"[]\t0a.,'))
        elif at < len(chars):
            chars[at] = chars[at] * 2
    return "".join(chars)


def as_lists(columns: Optional[Columns]) -> Optional[List[List[bytes]]]:
    return None if columns is None else [list(column) for column in columns]


@needs_speedups
class FormatScanTest(unittest.TestCase):
    def assert_same_or_refused(self, fmt: LogFormat, block: bytes) -> bool:
        """Whether the C scan read ``block``; where it did, its columns are the regex's."""
        assert fmt.program is not None
        scanned = speedups.scan_format(block, fmt.program, fmt.outputs)
        if scanned is not None:
            self.assertEqual(as_lists(scanned), as_lists(scan_single(fmt.single_pattern, block, fmt.outputs)), (fmt.text, block[:400]))
        return scanned is not None

    def test_every_preset_it_can_run(self) -> None:
        runnable = set()
        for name in PRESETS:
            fmt = compile_format(name)
            assert isinstance(fmt, LogFormat)
            if fmt.program is None:
                continue
            runnable.add(name)
            samples = test_logformat.BlockAgreesWithLinesTest  # its lines of each preset (imported as a module: not run twice)
            lines = samples().lines(samples.LINES[name])
            good = [line for line in lines if line and not line.startswith(b"garbage") and b"31/Feb" not in line]
            for block in (b"\n".join(good) + b"\n", b"\n".join(good), b"\n".join(lines) + b"\n"):
                self.assert_same_or_refused(fmt, block)
            for line in good:  # each line the single-space regex reads (a padded or escaped one is not), the scan reads
                if scan_single(fmt.single_pattern, line + b"\n", fmt.outputs) is not None:
                    self.assertTrue(self.assert_same_or_refused(fmt, line + b"\n"), (name, line))
        # the load balancers' absolute-URL host and CloudFront's strftime time are left to the regex
        self.assertEqual(set(PRESETS) - runnable, {"elb", "alb", "cloudfront"})

    def test_random_formats_and_lines(self) -> None:
        draw = random.Random(11)
        read = refused = 0
        for _ in range(400):
            text, parts = random_format(draw)
            fmt = compile_format(text)
            assert isinstance(fmt, LogFormat)
            if fmt.program is None:
                self.assertIn("%Y", text)  # only the strftime time is left to the regex here
                continue
            for lean in (fmt, fmt.without_agents()):
                lines = [line_of(parts, draw) for _ in range(12)]
                for line in lines:
                    one = (line + "\n").encode()
                    if scan_single(lean.single_pattern, one, lean.outputs) is not None:
                        if self.assert_same_or_refused(lean, one):
                            read += 1
                        else:
                            refused += 1
                    self.assert_same_or_refused(lean, altered(line, draw).encode())
                self.assert_same_or_refused(lean, "\n".join(lines).encode())
        # the scan gives up only where the regex backtracks: seldom, on lines as servers write them
        self.assertGreater(read, 1000)
        self.assertLess(refused, read / 20)

    def test_each_form_servers_write_is_read_not_left_to_the_regex(self) -> None:
        request = '"GET /a HTTP/1.1" 200'
        for text, line in (
            ('$time_iso8601 "$request" $status', f"2026-12-01T18:46:36,5Z {request}"),
            ('$time_iso8601 "$request" $status', f"2026-12-01T18:46:36.250+01:00 {request}"),
            ('$time_iso8601 "$request" $status', f"2026-12-01T18:46:36-0130 {request}"),
            ('$msec "$request" $status $upstream_response_time', f"1796150796.123 {request} 0.1, 0.2 : 0.3"),
            ('$msec "$request" $status $request_time', f"1796150796 {request} -1"),
            ('$msec\t$remote_user\t"$request"\t$status', '1796150796\tjohn doe\t"GET /a HTTP/1.1"\t200'),
            ('$msec "$request" $status "$http_user_agent" ...', f'1796150796 {request} "curl" and more\r'),
            ('%h %l %u %t "%r" %>s %b', f"::1 - john doe [01/Dec/2026:18:46:36 +0000] {request} -  \t"),
        ):
            with self.subTest(line=line):
                fmt = compile_format(text)
                assert isinstance(fmt, LogFormat)
                self.assertTrue(self.assert_same_or_refused(fmt, line.encode() + b"\n"))

    def test_an_ip_port_host_backs_off_to_its_last_colon(self) -> None:
        fmt = compile_format('$remote_addr:$remote_port [$time_local] "$request" $status')
        assert isinstance(fmt, LogFormat) and fmt.program is not None
        block = b'2001:db8::1:5000 [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.1" 200\n'
        self.assertTrue(self.assert_same_or_refused(fmt, block))
        self.assertEqual(list(fmt.parse_block(block, 65536).who), [b"2001:db8::1\n"])
        self.assertIsNone(fmt.scan(b'nocolon [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.1" 200\n'))

    def test_who_keys_join_host_and_user_and_decode_as_logged(self) -> None:
        line = '10.0.0.1 - {user} [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5'
        for text, user, key, who in (
            ('%h %l %u %t "%r" %>s %b', "john doe", b"10.0.0.1\njohn doe", ("10.0.0.1", "john doe")),
            ('%h %l %u %t "%r" %>s %b', "-", b"10.0.0.1\n-", ("10.0.0.1", "")),
            ('%h %l - %t "%r" %>s %b', "-", b"10.0.0.1\n", ("10.0.0.1", "")),
            ('- %l %u %t "%r" %>s %b', "ann", b"\nann", ("", "ann")),
        ):
            with self.subTest(text=text, user=user):
                fmt = compile_format(text)
                assert isinstance(fmt, LogFormat)
                block = line.format(user=user).encode().replace(b"10.0.0.1", b"-" if text[0] == "-" else b"10.0.0.1") + b"\n"
                self.assertTrue(self.assert_same_or_refused(fmt, block))
                parsed = fmt.parse_block(block, 65536)
                self.assertEqual(list(parsed.who), [key])
                self.assertEqual(fmt.who(parsed.who[0]), who)
                self.assertEqual(fmt.who(fmt.with_client(key, "192.0.2.9")), ("192.0.2.9", who[1]))

    def test_equal_keys_are_one_object_and_distinct_kinds_are_not_shared(self) -> None:
        fmt = compile_format("nginx")
        assert isinstance(fmt, LogFormat) and fmt.program is not None
        line = b'10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "ua" 0.010 0.001\n'
        other = line.replace(b"10.0.0.1", b"10.0.0.2").replace(b"0.010", b"0.020")
        parsed = fmt.parse_block(line + other + line, 65536)
        self.assertIs(parsed.who[0], parsed.who[2])
        self.assertIs(parsed.requests[0], parsed.requests[1])
        durations = parsed.durations
        assert durations is not None
        self.assertEqual(list(durations), [b"0.010", b"0.020", b"0.010"])
        self.assertIsNot(durations[0], durations[2])  # seldom repeated: not looked up

    def test_pieces_it_does_not_know_leave_the_format_to_the_regex(self) -> None:
        self.assertIsNone(scan_program([b"^", rb"(\d+|x)"], 1))
        self.assertIsNone(scan_program([b"^", rb"([a-z]+)"], 1))
        self.assertIsNone(scan_program([b"^", b"(", b"(\\d+|-)"], 2))  # a group left open
        self.assertIsNotNone(scan_program([b"^", rb"([^ \n]+)", b" ", rb"([1-9]\d\d)", rb"[ \t]*\r?$"], 2))

    def test_a_malformed_program_is_an_error_not_a_crash(self) -> None:
        for program, groups, error in (
            (((99, b"", -1),), 0, ValueError),
            (((0, b"x", 3),), 1, ValueError),
            (((0, "x", -1),), 0, TypeError),
            (((0, b"x"),), 0, TypeError),
            ((b"x",), 0, TypeError),
            (((3, b"", 0),), 1, ValueError),  # a user op without its stop text
            (((0, b"x", -1),), 99, ValueError),
        ):
            with self.subTest(program=program), self.assertRaises(error):
                speedups.prepare_scan(program, groups)
        prepared = speedups.prepare_scan(((0, b"x", -1),), 1)
        for columns, error in (
            ((((1,), True),), ValueError),  # a column of a group the program has not
            ((((0, 0, 0, 0, 0), True),), ValueError),  # more groups joined than a key holds
            (((0, True),), TypeError),
        ):
            with self.subTest(columns=columns), self.assertRaises(error):
                speedups.scan_format(b"x\n", prepared, columns)
        with self.assertRaises(TypeError):
            speedups.scan_format(b"x\n", ((0, b"x", -1),), ())  # a program not prepared
        self.assertEqual(speedups.scan_format(b"", prepared, ()), ())
        self.assertEqual(speedups.scan_format(b"x\nx\n", prepared, (((-1, 0), True),)), ((b"\n", b"\n"),))
