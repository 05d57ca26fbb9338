"""The format compiler: nginx and Apache format strings, presets, and what they make of real lines.

Lines are written as the servers' documentation and default configurations give them, then made
hostile (users with spaces, escaped quotes, ``-`` everywhere, upstream lists). Each format's block
parsing is checked against its line-by-line parsing on the same lines.
"""

from __future__ import annotations

import random
import subprocess
import sys
import unittest
from datetime import datetime, timedelta, timezone
from typing import ClassVar, Dict, List, Optional

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.parsing.block import parse_block
from monilog.parsing.columns import has_long_line
from monilog.parsing.filters import FILTERED, Filters
from monilog.parsing.logformat import PRESETS, FormatError, LogFormat, compile_format
from monilog.parsing.parser import LogParser
from monilog.parsing.reading import Reading
from monilog.parsing.record import LogRecord, ParseError

NGINX_WITH_TIMES = ("'$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent '\n"
                    "                '\"$http_referer\" \"$http_user_agent\" $request_time'")
"""As written in nginx.conf: two quoted pieces that nginx joins."""
APACHE_TIMED = r'%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D'
"""As written in apache2.conf, with the microseconds taken (%D)."""


def parse(fmt: str, line: str) -> Optional[LogRecord]:
    return LogParser(fmt).parse(line.encode())


class NginxFormatTest(unittest.TestCase):
    def test_quoted_configuration_pieces_with_request_time(self) -> None:
        record = parse(NGINX_WITH_TIMES, '203.0.113.9 - - [01/Dec/2026:18:46:36 +0100] "GET /api/users?id=3 HTTP/1.1" '
                                         '200 512 "https://example.com/" "Mozilla/5.0 (X11; Linux)" 0.125')
        assert record is not None
        self.assertEqual((record.host, record.user, record.method, record.target, record.section),
                         ("203.0.113.9", "", "GET", "/api/users?id=3", "/api"))
        self.assertEqual((record.status, record.size, record.duration), (200, 512, 0.125))
        self.assertEqual(record.time, datetime(2026, 12, 1, 18, 46, 36, tzinfo=timezone(timedelta(hours=1))))

    def test_user_with_spaces_escaped_quotes_and_dashes(self) -> None:
        record = parse(NGINX_WITH_TIMES, '127.0.0.1 - john doe [01/Dec/2026:18:46:36 +0000] "GET /a\\"b/c HTTP/1.0" '
                                         '404 - "-" "say \\"hi\\"" -')
        assert record is not None
        self.assertEqual((record.user, record.target, record.section, record.size, record.duration),
                         ("john doe", '/a\\"b/c', '/a\\"b', 0, None))

    def test_upstream_lists_are_added(self) -> None:
        fmt = "nginx"
        head = '10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "POST /pay HTTP/2.0" 502 0 "-" "curl" 0.300 '
        for upstream, expected in (("0.100", 0.1), ("0.100, 0.150", 0.25), ("0.100, 0.150 : 0.050", 0.3),
                                   ("-", None), ("0.100, -", 0.1)):
            with self.subTest(upstream=upstream):
                record = parse(fmt, head + upstream)
                assert record is not None
                if expected is None:
                    self.assertIsNone(record.upstream)
                else:
                    self.assertAlmostEqual(record.upstream, expected)  # type: ignore[arg-type]
                self.assertEqual(record.duration, 0.3)

    def test_iso8601_msec_host_and_unknown_variables(self) -> None:
        fmt = '$host $remote_addr [$time_iso8601] "$request" $status $bytes_sent $connection $msec_unknown "$http_x_forwarded_for"'
        record = parse(fmt, 'shop.example 10.0.0.2 [2026-12-01T18:46:36+00:00] "GET /cart HTTP/1.1" 200 99 17 x "1.2.3.4, 10.0.0.1"')
        assert record is not None
        self.assertEqual((record.vhost, record.host, record.section, record.epoch),
                         ("shop.example", "10.0.0.2", "/cart", int(datetime(2026, 12, 1, 18, 46, 36, tzinfo=timezone.utc).timestamp())))
        record = parse('$msec "$request_method $request_uri" $status', '1796150796.250 "GET /x/y" 301')
        assert record is not None
        self.assertEqual((record.epoch, record.method, record.section, record.status), (1796150796, "GET", "/x", 301))


class ApacheFormatTest(unittest.TestCase):
    def test_microseconds_and_escaped_quotes_of_the_configuration(self) -> None:
        record = parse(APACHE_TIMED, '192.0.2.4 - alice [01/Dec/2026:18:46:36 -0500] "GET /img/logo.png HTTP/1.1" 200 2326 '
                                     '"-" "Mozilla/5.0" 2500')
        assert record is not None
        self.assertEqual((record.user, record.section, record.size), ("alice", "/img", 2326))
        self.assertAlmostEqual(record.duration, 0.0025)  # type: ignore[arg-type]

    def test_vhost_combined_is_debian_apaches_default(self) -> None:
        line = 'www.example.com:443 198.51.100.7 - - [01/Dec/2026:18:46:36 +0000] "GET /blog/post HTTP/1.1" 200 5120 "-" "curl/8"'
        for fmt in ("vhost_combined", "vcombined", "auto"):
            with self.subTest(fmt=fmt):
                record = parse(fmt, line)
                assert record is not None
                self.assertEqual((record.vhost, record.host, record.section, record.size),
                                 ("www.example.com", "198.51.100.7", "/blog", 5120))

    def test_time_directives_and_units(self) -> None:
        cases = [
            ('%{%Y-%m-%d %H:%M:%S %z}t %s %U', '2026-12-01 18:46:36 +0000 200 /a/b', 1796150796, None),
            ('%{sec}t %>s %U %T', '1796150796 200 /a/b 2', 1796150796, 2.0),
            ('%{msec}t %>s %U %{ms}T', '1796150796250 200 /a/b 40', 1796150796, 0.04),
            ('%{usec}t %>s %U %{us}T', '1796150796250000 200 /a/b 40', 1796150796, 0.00004),
        ]
        for fmt, line, epoch, duration in cases:
            with self.subTest(fmt=fmt):
                record = parse(fmt, line)
                assert record is not None
                self.assertEqual((record.epoch, record.section), (epoch, "/a"))
                if duration is None:
                    self.assertIsNone(record.duration)
                else:
                    self.assertAlmostEqual(record.duration, duration)  # type: ignore[arg-type]


class SeparatorsAndTrailingFieldsTest(unittest.TestCase):
    def test_tab_separated_fields_keep_their_spaces(self) -> None:
        fmt = "$remote_addr\t$time_iso8601\t$request_method\t$request_uri\t$status\t$http_user_agent\t$request_time"
        record = parse(fmt, "10.0.0.1\t2026-12-01T18:46:36Z\tGET\t/a b/c\t200\tMozilla/5.0 (X11; Linux)\t0.5")
        assert record is not None
        self.assertEqual((record.target, record.section, record.duration), ("/a b/c", "/a b", 0.5))

    def test_a_trailing_ellipsis_reads_lines_with_more_fields_or_none(self) -> None:
        for fmt in ('$remote_addr [$time_local] "$request" $status ...', '%h %t \\"%r\\" %>s ...'):
            for tail in ("", " more fields", '  "x y" z', " "):
                with self.subTest(fmt=fmt, tail=tail):
                    record = parse(fmt, '10.0.0.1 [01/Dec/2026:18:46:36 +0000] "GET /a/b HTTP/1.1" 200' + tail)
                    assert record is not None
                    self.assertEqual((record.section, record.status), ("/a", 200))
        record = parse("$remote_addr [$time_local] $request_method $request_uri $status $remote_user ...",
                       "10.0.0.1 [01/Dec/2026:18:46:36 +0000] GET /a 200 alice and more")
        self.assertEqual(record.user, "alice")  # type: ignore[union-attr]
        with self.assertRaises(ParseError):  # the field before the ellipsis is still checked
            parse('$remote_addr [$time_local] "$request" $status ...', '10.0.0.1 [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.1" 20x')

    def test_ip_port_clients_and_minus_one_durations(self) -> None:
        fmt = '$remote_addr:$remote_port [$time_local] "$request" $status $request_time'
        for client, host in (("192.0.2.1:5123", "192.0.2.1"), ("2001:db8::7:5123", "2001:db8::7"), ("[2001:db8::7]:80", "[2001:db8::7]")):
            with self.subTest(client=client):
                record = parse(fmt, client + ' [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.1" 504 -1')
                assert record is not None
                self.assertEqual((record.host, record.duration), (host, None))


class ReviewFindingsTest(unittest.TestCase):
    """Lines and format strings that once ended a run or read nothing (found by review)."""

    def test_numbers_between_quotes_and_odd_upstream_lists_are_skips_not_crashes(self) -> None:
        fmt = '$remote_addr [$time_local] "$request" "$status" "$body_bytes_sent" "$request_time" $upstream_response_time'
        head = '10.0.0.1 [01/May/2024:12:00:00 +0000] "GET /a HTTP/1.1" '
        lines = [head + '"abc" "x" "fast" 0.1', head + '"200" "5" "0.5" 1.2.3', head + '"200" "5" "0.5" 0.1, 0.2']
        parsed = parse_block(("\n".join(lines) + "\n").encode(), LogParser(fmt))
        self.assertEqual([reason for _, reason in parsed.skipped], ["malformed", "malformed"])
        self.assertEqual(parsed.keys.durations(parsed.durations or []), [0.5])
        for line in lines[:2]:
            with self.assertRaises(ParseError):
                LogParser(fmt).parse(line)

    def test_apache_begin_end_epochs_and_a_second_time_with_spaces(self) -> None:
        record = parse('%v:%p %h %l %u %{end:sec}t \\"%r\\" %>s %O', 'www:80 1.2.3.4 - - 1714564800 "GET /a HTTP/1.1" 200 5')
        assert record is not None
        self.assertEqual((record.epoch, record.vhost), (1714564800, "www"))
        record = parse('%h %l %u %t \\"%r\\" %>s %O %{%Y-%m-%d %H:%M:%S}t',
                       '1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET /a HTTP/1.1" 200 5 2024-05-01 12:00:07')
        assert record is not None
        self.assertEqual(record.epoch, 1714564800)  # the first time field counts

    def test_nginx_escapes_and_a_pasted_directive(self) -> None:
        for fmt in ("log_format tabs '$remote_addr\\t$time_local\\t\"$request\"\\t$status';",
                    '"$remote_addr\\t$time_local\\t\\"$request\\"\\t$status"'):
            with self.subTest(fmt=fmt):
                record = parse(fmt, '1.2.3.4\t01/May/2024:12:00:00 +0000\t"GET /a/b HTTP/1.1"\t404')
                assert record is not None
                self.assertEqual((record.host, record.section, record.status), ("1.2.3.4", "/a", 404))


class WrongFormatNoticeTest(unittest.TestCase):
    LINE = b'10.0.0.1 - - [01/May/2024:12:00:00 +0000] "GET /a HTTP/1.1" 200 5\n'

    def notices(self, fmt: str, batches: int) -> List[str]:
        from monilog.monitor import Monitor
        from tests.support import Recorder

        recorder = Recorder()
        monitor = Monitor(fmt=fmt, sinks=[recorder])
        for _ in range(batches):
            monitor.feed("access.log", [self.LINE] * 60)
        monitor.finish()
        return [item for kind, item in recorder.items if kind == "notice"]

    def test_a_log_that_never_matches_its_format_is_said_once(self) -> None:
        notices = self.notices("nginx", 5)  # Common lines read as nginx's: 300 malformed
        self.assertEqual(len(notices), 1, notices)
        self.assertIn("none of its first 120 lines is a 'nginx' record", notices[0])
        self.assertEqual(self.notices("common", 5), [])
        self.assertEqual(self.notices("nginx", 1), [], "60 lines are too few to say")


class CompileErrorTest(unittest.TestCase):
    def test_each_refusal_says_why(self) -> None:
        for fmt, words in (("$remote_addr $status", "no time field"), ("%h %t %U", "no status"),
                           ("$time_local $status", "no request"), ("%h %Z %t", "%Z"), ("nonsense", "unknown log format"),
                           ("%{%Q}t %s %U", "%Q"), ("%t %s %r", "quoted"), ("%t %s %U %{hours}T", "unit")):
            with self.subTest(fmt=fmt):
                with self.assertRaises(FormatError) as caught:
                    compile_format(fmt)
                self.assertIn(words, str(caught.exception))

    def test_cli_refuses_in_one_line_with_exit_2(self) -> None:
        result = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--log-format", "$remote_addr $status", "x.log"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no time field", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class BlockAgreesWithLinesTest(unittest.TestCase):
    """Every preset and custom format: one block gives what the same lines give one by one."""

    HEAD = '10.0.0.{i} - {user} [01/Dec/2026:18:46:{s:02d} +0000] "GET /p{i}/x HTTP/1.1" {status} {size} '
    LINES: ClassVar[Dict[str, str]] = {
        "nginx": HEAD + '"-" "ua \\"q\\"" 0.0{i} {up}',
        "nginx_vhost": "h{i}.example " + HEAD + '"-" "ua" 0.{i} {up}',
        "vhost_combined": "v{i}:80 " + HEAD + '"-" "ua"',
        APACHE_TIMED: HEAD + '"-" "ua" {i}00',
        "traefik_clf": HEAD + '"-" "ua" {i} "r@docker" "http://10.1.0.2:80" {i}ms',
        "elb": ('2026-12-01T18:46:{s:02d}.123456Z lb 10.0.0.{i}:5{i}00 10.1.0.{i}:80 0.00{i} {part} 0.000 {status} {status} 10 '
                '{size} "GET https://h{i}.example:443/p{i}/x?q HTTP/1.1" "ua \\"q\\" x" - -'),
        "alb": ('h2 2026-12-01T18:46:{s:02d}.123456Z app/lb/1 2001:db8::{i}:5{i}00 - {part} {part} 0.00{i} {status} - 10 {size} '
                '"GET https://h{i}.example:443/p{i}/x?q HTTP/2.0" "Mozilla/5.0 (X11)" - - arn "Root=1" "-" "-" 0'),
        "s3": ('owner b{i} [01/Dec/2026:18:46:{s:02d} +0000] 10.0.0.{i} arn:aws:iam::1:user/u{i} R{i} REST.GET.OBJECT k{i} '
               '"GET /b{i}/p{i}/x HTTP/1.1" {status} - {size} {size} {i} - "-" "aws-cli/2 \\"x\\" y" - id SigV4'),
        "cloudfront": "\t".join(("2026-12-01", "18:46:{s:02d}", "LAX1", "{size}", "10.0.0.{i}", "GET", "d1.cloudfront.net", "/p{i}/x",
                                 "{status}", "-", "Mozilla/5.0 (X11; Linux)", "-", "-", "Hit", "id{i}", "h{i}.example", "https", "23",
                                 "0.0{i}", "-", "TLSv1.2")),
        "squid": ("1796150{s:03d}.{i}79 {i:6d} 10.0.0.{i} TCP_MISS/{status} {size} GET http://h{i}.example/p{i}/x - "
                  "HIER_DIRECT/10.1.0.1 text/html"),
    }

    def lines(self, template: str) -> List[bytes]:
        out = []
        for n in range(60):
            out.append(template.format(i=n % 7, s=n % 60, user=("john doe" if n % 3 == 0 else "-"), status=(200, 404, 503)[n % 3],
                                       size=("-" if n % 4 == 0 else n), up=("0.1, 0.2" if n % 2 else "-"),
                                       part=("-1" if n % 5 == 0 else f"0.{n:03d}")).encode())
        out.insert(10, b"garbage that is no log line")
        out.insert(20, b"")
        out.insert(30, b'10.0.0.1 - - [31/Feb/2026:18:46:00 +0000] "GET / HTTP/1.1" 200 1')
        return out

    def test_block_equals_line_by_line(self) -> None:
        for fmt, template in self.LINES.items():
            with self.subTest(fmt=fmt):
                lines = self.lines(template)
                records, skipped = [], []
                one_by_one = LogParser(fmt)
                for line in lines:
                    try:
                        record = one_by_one.parse(line)
                    except ParseError as error:
                        skipped.append((len(records), error.reason))
                        continue
                    if record is not None:
                        records.append(record)
                self.assertEqual(len(records), 60)
                self.assertEqual([reason for _, reason in skipped], ["malformed", "malformed"])
                block = parse_block(b"\n".join(lines) + b"\n", LogParser(fmt))
                keys = block.keys
                self.assertEqual(block.lines, len(lines))
                self.assertEqual(block.skipped, skipped)
                for index, record in enumerate(records):
                    self.assertEqual(keys.who(block.who[index]), (record.host, record.user))
                    self.assertEqual(keys.request(block.requests[index]), (record.method, record.section))
                    self.assertEqual(keys.stamp(block.stamps[index]), (record.epoch, record.time.tzinfo))
                    self.assertEqual(int(block.statuses[index]), record.status)
                    self.assertEqual(keys.sizes([block.sizes[index]]), [record.size])
                    if block.durations is not None:
                        self.assertEqual(keys.durations([block.durations[index]]), [record.duration])
                    if block.upstreams is not None:
                        self.assertEqual(keys.upstreams([block.upstreams[index]]), [record.upstream])
                    if block.vhosts is not None:
                        self.assertEqual(keys.vhost(block.vhosts[index]), record.vhost)
                # a good block in one piece takes the one-regex path and gives the same
                good = [line for line in lines if line and not line.startswith(b"garbage") and b"31/Feb" not in line]
                whole = parse_block(b"\n".join(good) + b"\n", LogParser(fmt))
                self.assertEqual(len(whole.stamps), 60)
                self.assertEqual(list(whole.requests), list(block.requests))


class LineCapTest(unittest.TestCase):
    def test_a_line_over_the_cap_is_skipped_in_a_block_as_line_by_line(self) -> None:
        # the block's regex matched it, so a block counted what the same line alone is refused for
        line = b'10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /' + b"a" * 70_000 + b' HTTP/1.1" 200 5 "-" "curl" 0.010 -'
        short = line.replace(b"a" * 70_000, b"a")
        parser = LogParser("nginx")
        with self.assertRaises(ParseError) as caught:
            parser.parse(line)
        self.assertEqual(caught.exception.reason, "line too long")
        block = parse_block(b"\n".join([short, line, short]) + b"\n", parser)
        self.assertEqual((len(block.stamps), block.skipped), (2, [(1, "line too long")]))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.integers(0, 40), max_size=12), st.booleans(), st.integers(1, 30))
    def test_a_long_line_is_found_wherever_it_is(self, lengths: List[int], ended: bool, limit: int) -> None:
        block = b"\n".join(b"x" * length for length in lengths) + (b"\n" if ended and lengths else b"")
        self.assertEqual(has_long_line(block, limit), max(map(len, block.split(b"\n"))) > limit, (block, limit))


class PlainBlockTest(unittest.TestCase):
    def test_a_quote_left_open_does_not_join_two_lines(self) -> None:
        # blocks without a backslash are read with quoted fields that may cross newlines
        good = b'v1:80 10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl"'
        for broken in (b'v1:80 10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl',
                       b'v1:80 10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "- "curl"'):
            with self.subTest(broken=broken):
                lines = [good, broken, good.replace(b"/a", b"/b"), good]
                block = parse_block(b"\n".join(lines) + b"\n", LogParser("vhost_combined"))
                self.assertEqual(block.skipped, [(1, "malformed")])
                self.assertEqual([block.keys.request(key)[1] for key in block.requests], ["/a", "/b", "/a"])


SPACED_LINES = {
    "vhost_combined": 'v1:80 10.0.0.1 - john [01/Dec/2026:18:46:36 +0000] "GET /a/b HTTP/1.1" 200 5 "-" "curl/8 (x y)"',
    "nginx": '10.0.0.1 - john doe [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla/5.0 (X11)" 0.010 0.001, 0.002',
    "traefik_clf": '10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl" 1 "r@docker" "http://h:80" 3ms',
    "elb": ('2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 '
            '200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -'),
    "squid": '1286536309.450 141 192.168.0.68 TCP_MISS/200 507 GET http://www.example.com/ john DIRECT/192.0.2.1 text/html',
    '%h %l %u %t "%r" %>s %b %D "%{X-Forwarded-For}i" %{Host}i':
        '10.0.0.1 - ann [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 1234 "1.2.3.4, 10.0.0.1" example.com',
}
"""A line of each format whose fields are one space apart, to be spaced out and altered."""


class SingleSpacePatternTest(unittest.TestCase):
    """The single-space pattern finds, on each line it matches, the fields the full pattern finds."""

    def test_where_it_matches_the_fields_are_the_full_patterns(self) -> None:
        draw = random.Random(3)
        replacements = ["", "-", " ", "john doe", "x  y", "x [y", '"', "["]
        for name, base in SPACED_LINES.items():
            fmt = compile_format(name)
            assert isinstance(fmt, LogFormat)
            matched = 0
            for _ in range(6000):
                pieces = base.split(" ")
                for _ in range(draw.randrange(4)):
                    index = draw.randrange(len(pieces))
                    pieces[index] = draw.choice([*replacements, pieces[index] * 2])
                gaps = [draw.choice([" "] * 18 + ["  ", "   "]) for _ in pieces[1:]]
                line = "".join(piece + gap for piece, gap in zip(pieces, gaps + [""])).encode()
                single = fmt.single_pattern.match(line)
                if single is None:
                    continue
                matched += 1
                full = fmt.plain_pattern.match(line)
                self.assertIsNotNone(full, line)
                assert full is not None
                self.assertEqual(single.groups(b""), full.groups(b""), line)
            self.assertGreater(matched, 200, f"{name}: too few lines to show anything")

    def test_a_padded_log_is_read_as_it_is(self) -> None:
        fmt = compile_format("squid")
        padded = b"1286536309.450    141 192.168.0.68 TCP_MISS/200 507 GET http://www.example.com/ - DIRECT/192.0.2.1 text/html\n"
        self.assertIsNone(fmt.single_pattern.match(padded))
        self.assertEqual(len(fmt.parse_block(padded * 3, 65536).stamps), 3)
        self.assertEqual(len(fmt.parse_block(padded.replace(b"    ", b" ") * 3, 65536).stamps), 3)


class AgentsUnreadTest(unittest.TestCase):
    def test_a_format_without_agents_reads_the_same_lines_the_same_way(self) -> None:
        lines = [
            b'v1:80 10.0.0.1 - john doe [01/Dec/2026:18:46:36 +0000] "GET /a/b HTTP/1.1" 200 5 "-" "curl/8 \\"x\\""',
            b'v1:80 10.0.0.2 - - [01/Dec/2026:18:46:37 +0000] "POST /c HTTP/1.1" 500 - "http://r/" "Mozilla/5.0 (X11)"',
            b'v1:80 10.0.0.2 - - [01/Dec/2026:18:46:37 +0000] "POST /c HTTP/1.1" 500 - "http://r/" "no end',
            b'garbage',
        ]
        for preset in ("vhost_combined", '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'):
            full = compile_format(preset)
            lean = full.without_agents()
            self.assertIsNot(lean, full)
            self.assertEqual(lean.pattern.groups, full.pattern.groups - 1, preset)
            if not preset.startswith("vhost"):
                lines = [line.replace(b"v1:80 ", b"") for line in lines]
            for block in (b"\n".join(lines) + b"\n", b"\n".join(lines[1:2] * 3) + b"\n"):
                with self.subTest(preset=preset, block=block[:40]):
                    read, unread = full.parse_block(block, 65536), lean.parse_block(block, 65536)
                    self.assertIsNone(unread.agents)
                    self.assertEqual(unread._replace(keys=full, agents=None), read._replace(agents=None))
        common = compile_format('%h %l %u %t "%r" %>s %b')
        self.assertIs(common.without_agents(), common)

    def test_agents_are_read_when_a_filter_needs_them(self) -> None:
        line = b'10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "Googlebot/2.1"\n'
        fmt = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
        self.assertEqual(len(parse_block(line * 2, LogParser(fmt)).stamps), 2)
        filtered = parse_block(line * 2, LogParser(fmt, reading=Reading(filters=Filters(exclude_bots=True))))
        self.assertEqual((len(filtered.stamps), [reason for _, reason in filtered.skipped]), (0, [FILTERED + "bot"] * 2))


class CommentLineTest(unittest.TestCase):
    def test_a_hash_line_is_not_a_record_in_a_block_either(self) -> None:
        good = b'10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl" 0.010 -'
        block = parse_block(good + b"\n#" + good + b"\n", LogParser("nginx"))
        self.assertEqual((len(block.stamps), block.skipped), (1, []))


class AutoDetectionTest(unittest.TestCase):
    def test_ipv6_clients_and_spaced_users_stay_common(self) -> None:
        for line in ('::1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 1',
                     '2001:db8::1 - john doe [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 1'):
            with self.subTest(line=line):
                parser = LogParser("auto")
                record = parser.parse(line)
                assert record is not None
                self.assertEqual((record.host, record.vhost), (line.split(" ")[0], ""))
                self.assertEqual(parser.detected, "clf")

    def test_a_common_log_never_turns_vhost(self) -> None:
        parser = LogParser("auto")
        parser.parse('10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 1')
        parser.parse('v:80 10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a HTTP/1.1" 200 1 "-" "-"')
        self.assertEqual(parser.detected, "clf")

    def test_block_of_a_vhost_log_is_detected_at_its_first_line(self) -> None:
        block = b"\n" + b'v.example:80 10.0.0.1 - - [01/Dec/2026:18:46:36 +0000] "GET /a/b HTTP/1.1" 200 1 "-" "-"\n' * 3
        parser = LogParser("auto")
        parsed = parse_block(block, parser)
        self.assertEqual(parser.detected, "vhost_combined")
        self.assertEqual([parsed.keys.vhost(key) for key in parsed.vhosts or ()], ["v.example"] * 3)


class PresetTest(unittest.TestCase):
    def test_every_preset_compiles_with_its_fields(self) -> None:
        for name in PRESETS:
            with self.subTest(name=name):
                compiled = compile_format(name)
                self.assertIn("stamp", compiled.kinds)
                self.assertIn("status", compiled.kinds)
        self.assertIn("duration", compile_format("nginx").kinds)  # type: ignore[attr-defined]
        self.assertNotIn("duration", compile_format("vhost_combined").kinds)  # type: ignore[attr-defined]


if __name__ == "__main__":
    unittest.main()
