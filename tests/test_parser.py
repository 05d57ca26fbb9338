"""LogParser and parse_line on realistic Common, Combined and W3C lines, and on bad input."""

from __future__ import annotations

import calendar
import os
import time
import unittest
from datetime import datetime, timedelta, timezone
from typing import List, Optional

from dateutil import tz
from hypothesis import given
from hypothesis import strategies as st

from monilog.parsing import (
    FORMATS,
    MAX_LINE_LENGTH,
    SKIP_REASONS,
    LogParser,
    LogRecord,
    ParseError,
    parse_line,
    section_of,
)
from monilog.parsing.w3c import W3CLayout, parse_w3c

APACHE_COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
APACHE_COMBINED = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)
NGINX_COMBINED = (
    '93.180.71.3 - - [17/May/2015:08:05:32 +0000] "GET /downloads/product_1 HTTP/1.1" 304 0 '
    '"-" "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)"'
)

IIS_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
)
IIS_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2024-03-01 13:55:00",
    IIS_FIELDS,
]
IIS_LINE = (
    "2024-03-01 13:55:36 10.0.0.4 GET /pages/create id=3&x=y 443 alice 192.168.1.5 "
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) https://www.example.com/start 201 0 0 15"
)


# IIS Advanced Logging writes quoted strings, spaces and all (here with local times, as it
# does when told to log them); the host header and the site name give the vhost.
ADVANCED_HEADER = [
    "#Software: IIS Advanced Logging Module",
    "#Version: 1.0",
    "#Start-Date: 2024-03-01 13:55:00.000",
    "#Fields: date-local time-local s-sitename cs-method cs-uri-stem cs-uri-query c-ip cs(User-Agent) "
    "cs(Referer) cs-host sc-status sc-bytes time-taken",
]
ADVANCED_LINE = (
    '2024-03-01 14:55:36.250 "W3SVC1" GET /default.aspx - 192.168.1.5 '
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36" '
    '"https://www.example.com/start page" "www.example.com" 200 5120 31'
)
# The working draft's quoted strings, as Oracle Web Cache writes its user agents and referers.
DRAFT_FIELDS = "#Fields: c-ip cs-username date time cs-method cs-uri cs-version sc-status sc-bytes cs(User-Agent) cs(Referer)"
DRAFT_LINE = (
    '10.2.3.4 - 2024-03-01 13:55:40 GET /catalog/item?id=7 HTTP/1.1 200 812 '
    '"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" "-"'
)


def reason_of(parser: LogParser, line) -> str:
    """The reason ``parser`` rejects ``line`` with; fails if it parses or the reason is unlisted."""
    try:
        record = parser.parse(line)
    except ParseError as error:
        if error.reason not in SKIP_REASONS:
            raise AssertionError(f"reason {error.reason!r} is not in SKIP_REASONS") from error
        return error.reason
    raise AssertionError(f"parsed instead of rejected: {record!r}")


class CommonTest(unittest.TestCase):
    def test_every_field_of_an_apache_common_line(self) -> None:
        record = LogParser("common").parse(APACHE_COMMON)
        self.assertIsInstance(record, LogRecord)
        self.assertEqual(record.host, "127.0.0.1")
        self.assertEqual(record.ident, "")
        self.assertEqual(record.user, "frank")
        self.assertEqual(record.time, datetime(2000, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=-7))))
        self.assertEqual(record.time.utcoffset(), timedelta(hours=-7))
        self.assertEqual(record.epoch, calendar.timegm((2000, 10, 10, 20, 55, 36)))
        self.assertEqual(record.method, "GET")
        self.assertEqual(record.target, "/apache_pb.gif")
        self.assertEqual(record.protocol, "HTTP/1.0")
        self.assertEqual(record.status, 200)
        self.assertEqual(record.size, 2326)
        self.assertEqual(record.referer, "")
        self.assertEqual(record.user_agent, "")
        self.assertEqual(record.section, "/apache_pb.gif")

    def test_common_mode_ignores_the_combined_tail_and_extra_fields(self) -> None:
        parser = LogParser("common")
        for line in (APACHE_COMBINED, APACHE_COMMON + " 1234 extra", APACHE_COMMON + " \"quoted\""):
            record = parser.parse(line)
            self.assertEqual((record.referer, record.user_agent, record.size), ("", "", 2326))

    def test_ident_and_host_dashes_and_values(self) -> None:
        record = parse_line('- ident42 - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 5')
        self.assertEqual((record.host, record.ident, record.user), ("", "ident42", ""))

    def test_size_dash_is_zero(self) -> None:
        record = parse_line('10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "HEAD / HTTP/1.1" 304 -')
        self.assertEqual(record.size, 0)
        self.assertEqual(record.status, 304)


class CombinedTest(unittest.TestCase):
    def test_every_field_of_an_nginx_combined_line(self) -> None:
        record = LogParser("combined").parse(NGINX_COMBINED)
        self.assertEqual(
            record,
            LogRecord(
                host="93.180.71.3", ident="", user="",
                time=datetime(2015, 5, 17, 8, 5, 32, tzinfo=timezone.utc),
                method="GET", target="/downloads/product_1", protocol="HTTP/1.1",
                status=304, size=0, referer="",
                user_agent="Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)",
                section="/downloads", epoch=1431849932,
            ),
        )
        self.assertIs(record.time.tzinfo, timezone.utc)

    def test_apache_combined_line(self) -> None:
        for fmt in ("combined", "auto"):
            record = LogParser(fmt).parse(APACHE_COMBINED)
            self.assertEqual(record.referer, "http://www.example.com/start.html")
            self.assertEqual(record.user_agent, "Mozilla/4.08 [en] (Win98; I ;Nav)")
            self.assertEqual(record.user, "frank")
            self.assertEqual(record.size, 2326)

    def test_combined_mode_requires_referer_and_agent(self) -> None:
        self.assertEqual(reason_of(LogParser("combined"), APACHE_COMMON), "malformed")
        self.assertEqual(reason_of(LogParser("combined"), APACHE_COMMON + ' "http://x/"'), "malformed")

    def test_auto_mode_reads_common_lines_too(self) -> None:
        record = LogParser().parse(APACHE_COMMON)
        self.assertEqual((record.referer, record.user_agent, record.size), ("", "", 2326))

    def test_fields_after_the_user_agent_are_ignored(self) -> None:
        # nginx with "$http_x_forwarded_for" $request_time appended
        line = NGINX_COMBINED + ' "203.0.113.9, 10.0.0.1" 0.005'
        for fmt in ("combined", "auto"):
            record = LogParser(fmt).parse(line)
            self.assertEqual(record.user_agent, "Debian APT-HTTP/1.3 (0.8.16~exp12ubuntu10.21)")
            self.assertEqual(record.size, 0)


class ToleranceTest(unittest.TestCase):
    def parse(self, line: str, fmt: str = "auto") -> LogRecord:
        return LogParser(fmt).parse(line)

    def test_doubled_spaces_between_fields(self) -> None:
        line = ('  127.0.0.1  -   frank  [10/Oct/2000:13:55:36 -0700]  "GET /a/b HTTP/1.0"  200   2326  '
                ' "http://r/"   "UA 1"')
        record = self.parse(line)
        self.assertEqual((record.host, record.user, record.status, record.size), ("127.0.0.1", "frank", 200, 2326))
        self.assertEqual((record.referer, record.user_agent, record.section), ("http://r/", "UA 1", "/a"))

    def test_quoted_user_with_spaces(self) -> None:
        record = self.parse('10.1.1.1 - "john doe" [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 200 1 "-" "-"')
        self.assertEqual(record.user, "john doe")
        self.assertEqual(self.parse('10.1.1.1 - "-" [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1').user, "")

    def test_unquoted_user_with_spaces(self) -> None:
        # nginx logs $remote_user from any client's Authorization header: `ab -H 'Authorization:
        # Basic am9obiBkb2U6eA=='` makes every line of a flood carry "john doe"
        line = '127.0.0.1 - john doe [01/Dec/2026:18:46:36 +0000] "GET /a/b HTTP/1.0" 200 263 "-" "ab"'
        record = self.parse(line)
        self.assertEqual((record.host, record.user, record.section, record.size), ("127.0.0.1", "john doe", "/a", 263))
        record = self.parse('::1 - a  b\x1b[2J c  [01/Dec/2026:18:46:36 +0000] "GET / HTTP/1.0" 200 1')
        self.assertEqual((record.host, record.user), ("::1", "a  b\x1b[2J c"))

    def test_dash_request_counts_as_a_record(self) -> None:
        # what nginx and Apache log when a client connects and sends nothing
        record = self.parse('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "-" 408 0 "-" "-"')
        self.assertEqual((record.method, record.target, record.protocol, record.section), ("", "-", "", "-"))
        self.assertEqual(record.status, 408)

    def test_http09_request_without_protocol(self) -> None:
        record = self.parse('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /index.html" 200 100')
        self.assertEqual((record.method, record.target, record.protocol), ("GET", "/index.html", ""))
        self.assertEqual(record.section, "/index.html")

    def test_target_with_spaces(self) -> None:
        record = self.parse('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /my docs/a b HTTP/1.1" 400 0')
        self.assertEqual((record.target, record.protocol, record.section), ("/my docs/a b", "HTTP/1.1", "/my docs"))

    def test_garbage_request_is_kept_as_the_target(self) -> None:
        # a TLS handshake sent to a plain-HTTP port, as nginx escapes it
        record = self.parse('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01\\x00\\xCA\\x01" 400 157 "-" "-"')
        self.assertEqual((record.method, record.protocol), ("", ""))
        self.assertEqual(record.target, "\\x16\\x03\\x01\\x00\\xCA\\x01")
        self.assertEqual(record.status, 400)

    def test_escaped_quotes_inside_quoted_fields(self) -> None:
        apache = ('10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /q?s=\\"x\\" HTTP/1.1" 200 1 '
                  '"http://r/?a=\\"b\\"" "Agent \\"quoted\\" \\\\ backslash"')
        record = self.parse(apache)
        self.assertEqual(record.target, '/q?s=\\"x\\"')
        self.assertEqual(record.section, "/q")
        self.assertEqual(record.referer, 'http://r/?a=\\"b\\"')
        self.assertEqual(record.user_agent, 'Agent \\"quoted\\" \\\\ backslash')
        nginx = '10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "say \\x22hi\\x22"'
        self.assertEqual(self.parse(nginx).user_agent, "say \\x22hi\\x22")

    def test_absolute_url_connect_and_asterisk_targets(self) -> None:
        base = '10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "{} HTTP/1.1" 200 1'
        for request, method, target, section in (
            ("GET http://my.site.com/pages/create", "GET", "http://my.site.com/pages/create", "http://my.site.com/pages"),
            ("CONNECT example.com:443", "CONNECT", "example.com:443", "example.com:443"),
            ("OPTIONS *", "OPTIONS", "*", "*"),
        ):
            record = self.parse(base.format(request))
            self.assertEqual((record.method, record.target, record.section), (method, target, section))

    def test_terminal_escape_sequences_are_kept_as_logged(self) -> None:
        line = ('10.1.1.1 - \x1b[2Jroot [10/Oct/2000:13:55:36 +0000] "GET /\x1b[31mred HTTP/1.1" 200 1 '
                '"-" "\x1b]0;owned\x07evil\x1b[0m"')
        record = self.parse(line)
        self.assertEqual(record.user, "\x1b[2Jroot")
        self.assertEqual(record.target, "/\x1b[31mred")
        self.assertEqual(record.user_agent, "\x1b]0;owned\x07evil\x1b[0m")

    def test_line_endings_are_stripped(self) -> None:
        for ending in ("\n", "\r\n", "\r"):
            self.assertEqual(self.parse(NGINX_COMBINED + ending), self.parse(NGINX_COMBINED))


class BytesTest(unittest.TestCase):
    def test_bytes_are_decoded_as_utf8(self) -> None:
        line = NGINX_COMBINED.replace("Debian", "D\u00e9bian").encode("utf-8") + b"\n"
        self.assertEqual(LogParser().parse(line).user_agent[:6], "D\u00e9bian")

    def test_invalid_utf8_is_replaced_not_fatal(self) -> None:
        line = (b'10.1.1.1 - us\xe9r [10/Oct/2000:13:55:36 +0000] "GET /caf\xe9\xff/x HTTP/1.1" 200 1 '
                b'"-" "bad \xc3\x28 bytes"\r\n')
        record = LogParser().parse(line)
        self.assertEqual(record.user, "us\ufffdr")
        self.assertEqual(record.target, "/caf\ufffd\ufffd/x")
        self.assertEqual(record.section, "/caf\ufffd\ufffd")
        self.assertEqual(record.user_agent, "bad \ufffd( bytes")

    def test_bytes_and_text_give_the_same_record(self) -> None:
        parser = LogParser()
        self.assertEqual(parser.parse(APACHE_COMBINED.encode()), parser.parse(APACHE_COMBINED))


class OffsetTest(unittest.TestCase):
    def test_offsets(self) -> None:
        template = '10.1.1.1 - - [{}] "GET / HTTP/1.1" 200 1'
        for stamp, offset, utc in (
            ("01/Jan/2024:00:10:00 +0000", timedelta(0), (2024, 1, 1, 0, 10, 0)),
            ("01/Jan/2024:00:10:00 -0700", timedelta(hours=-7), (2024, 1, 1, 7, 10, 0)),
            ("01/Jan/2024:00:10:00 +0530", timedelta(hours=5, minutes=30), (2023, 12, 31, 18, 40, 0)),
        ):
            with self.subTest(stamp=stamp):
                record = parse_line(template.format(stamp))
                self.assertEqual(record.time.utcoffset(), offset)
                self.assertEqual((record.time.hour, record.time.minute), (0, 10))
                self.assertEqual(record.epoch, calendar.timegm(utc))
                self.assertEqual(record.time, datetime(*utc, tzinfo=timezone.utc))

    def test_same_instant_in_two_zones_has_one_epoch(self) -> None:
        east = parse_line('a - - [10/Oct/2000:22:25:36 +0530] "GET / HTTP/1.1" 200 1')
        west = parse_line('b - - [10/Oct/2000:09:55:36 -0700] "GET / HTTP/1.1" 200 1')
        self.assertEqual(east.epoch, west.epoch)
        self.assertEqual(east.time, west.time)


class BadInputTest(unittest.TestCase):
    def test_truncated_lines_are_malformed(self) -> None:
        parser = LogParser()
        # every prefix that stops before the size lacks required fields
        status_at = NGINX_COMBINED.index('" 304') + 2
        cut_points = [1, 10, 25, 48, 60, status_at - 5, status_at - 1, status_at + 2, status_at + 4]
        for cut in cut_points:
            with self.subTest(prefix=NGINX_COMBINED[:cut]):
                self.assertEqual(reason_of(parser, NGINX_COMBINED[:cut]), "malformed")

    def test_truncated_inside_the_size_or_tail_still_reads_common_fields(self) -> None:
        # "... 304 0 "-" "Deb" — the tail is broken, auto mode falls back to Common
        truncated = NGINX_COMBINED[:-40]
        record = LogParser().parse(truncated)
        self.assertEqual((record.status, record.size, record.user_agent), (304, 0, ""))
        self.assertEqual(reason_of(LogParser("combined"), truncated), "malformed")

    def test_bad_status(self) -> None:
        for status in ("abc", "20", "2000", "099", "-", "２００"):
            line = f'10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" {status} 1'
            with self.subTest(status=status):
                self.assertEqual(reason_of(LogParser(), line), "bad status")

    def test_bad_size(self) -> None:
        for size in ("abc", "-1", "1.5", "1_000", "+5", "١٢"):
            line = f'10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 {size}'
            with self.subTest(size=size):
                self.assertEqual(reason_of(LogParser(), line), "bad size")

    def test_bad_timestamps(self) -> None:
        for stamp in ("31/Feb/2024:10:00:00 +0000", "10/Foo/2024:10:00:00 +0000", "10/Oct/2024:25:00:00 +0000",
                      "10/Oct/2024:10:00:00 +9999", "10/Oct/2024:10:00:00", "yesterday", ""):
            line = f'10.1.1.1 - - [{stamp}] "GET / HTTP/1.1" 200 1'
            with self.subTest(stamp=stamp):
                self.assertEqual(reason_of(LogParser(), line), "bad timestamp")

    def test_line_too_long_text_and_bytes(self) -> None:
        parser = LogParser(max_line_length=200)
        long_agent = APACHE_COMMON + ' "-" "' + "A" * 300 + '"'
        self.assertEqual(reason_of(parser, long_agent), "line too long")
        self.assertEqual(reason_of(parser, long_agent.encode()), "line too long")
        exactly = APACHE_COMMON + ' "-" "' + "A" * (200 - len(APACHE_COMMON) - 7) + '"'
        self.assertEqual(len(exactly), 200)
        self.assertEqual(len(parser.parse(exactly + "\r\n").user_agent), 200 - len(APACHE_COMMON) - 7)
        self.assertEqual(len(parser.parse(exactly.encode() + b"\n").user_agent), 200 - len(APACHE_COMMON) - 7)

    def test_default_cap_is_64_kib(self) -> None:
        self.assertEqual(MAX_LINE_LENGTH, 64 * 1024)
        line = APACHE_COMMON + ' "-" "' + "A" * MAX_LINE_LENGTH + '"'
        self.assertEqual(reason_of(LogParser(), line), "line too long")

    def test_megabyte_lines(self) -> None:
        megabyte = 1024 * 1024
        agent = "Mozilla " * (megabyte // 8)
        parser = LogParser(max_line_length=2 * megabyte)
        record = parser.parse(APACHE_COMMON + ' "-" "' + agent + '"')
        self.assertEqual(record.user_agent, agent)
        garbage_target = APACHE_COMMON.replace("/apache_pb.gif", "/" + "x/" * (megabyte // 2))
        self.assertEqual(parser.parse(garbage_target).section, "/x")
        # the same content without a closing quote must be rejected, not searched forever
        unterminated = '10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "GET /' + "\\x" * (megabyte // 2)
        self.assertEqual(reason_of(parser, unterminated), "malformed")

    def test_pathological_lines_are_rejected(self) -> None:
        parser = LogParser(max_line_length=10 ** 6)
        head = '10.1.1.1 - - [10/Oct/2000:13:55:36 +0000] "'
        for line in (
            '"' * 50_000,
            "x " * 50_000,
            " " * 50_000 + "x",
            "\\" * 50_000,
            head + '\\"' * 50_000,
            head + "\\" * 50_001,
            head + "GET / HTTP/1.1" + " " * 50_000,
            '1 - "' + " " * 50_000,
            "1 " * 3 + "[" * 50_000,
        ):
            with self.subTest(line=line[:60]):
                self.assertEqual(reason_of(parser, line), "malformed")
        # quotes where the size should be: the fields are there, the size is not a number
        self.assertEqual(reason_of(parser, head + 'GET / HTTP/1.1" 200' + ' "' * 50_000), "bad size")
        # spaces only are a blank line
        self.assertIsNone(parser.parse(" " * 50_000))

    def test_many_quotes_after_a_valid_line_are_trailing_fields(self) -> None:
        line = APACHE_COMMON + ' "' * 50_000
        record = LogParser("common", max_line_length=10 ** 6).parse(line)
        self.assertEqual((record.size, record.referer, record.user_agent), (2326, "", ""))
        # auto mode reads the first two pairs as a quoted referer and agent, each one space
        record = LogParser("auto", max_line_length=10 ** 6).parse(line)
        self.assertEqual((record.size, record.referer, record.user_agent), (2326, " ", " "))

    def test_errors_carry_the_line(self) -> None:
        with self.assertRaises(ParseError) as caught:
            LogParser().parse("garbage line\n")
        self.assertEqual(caught.exception.reason, "malformed")
        self.assertEqual(caught.exception.line, "garbage line")
        self.assertIsInstance(caught.exception, ValueError)


class DirectiveAndBlankTest(unittest.TestCase):
    def test_blank_and_comment_lines_return_none(self) -> None:
        parser = LogParser()
        for line in ("", "\n", "\r\n", "   \t  \n", b"\n", "# a comment\n", "#", b"#Remark: x"):
            self.assertIsNone(parser.parse(line), line)
        self.assertEqual(parser.detected, "clf")  # comments do not make a file W3C
        self.assertIsNotNone(parser.parse(APACHE_COMMON))


class W3CTest(unittest.TestCase):
    def parser_with_header(self, fmt: str = "w3c") -> LogParser:
        parser = LogParser(fmt)
        for line in IIS_HEADER:
            self.assertIsNone(parser.parse(line + "\r\n"))
        return parser

    def test_every_field_of_an_iis_line(self) -> None:
        record = self.parser_with_header().parse(IIS_LINE + "\r\n")
        self.assertEqual(
            record,
            LogRecord(
                host="192.168.1.5", ident="", user="alice",
                time=datetime(2024, 3, 1, 13, 55, 36, tzinfo=timezone.utc),
                method="GET", target="/pages/create?id=3&x=y", protocol="",
                status=201, size=0, referer="https://www.example.com/start",
                user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
                section="/pages", epoch=calendar.timegm((2024, 3, 1, 13, 55, 36)), duration=0.015,
            ),
        )
        self.assertIs(record.time.tzinfo, timezone.utc)

    def test_dashes_are_empty_and_empty_query_adds_nothing(self) -> None:
        line = "2024-03-01 13:55:37 10.0.0.4 POST /api/v2/items - 443 - 10.9.8.7 - - 500 0 0 3"
        record = self.parser_with_header().parse(line)
        self.assertEqual((record.target, record.section, record.user), ("/api/v2/items", "/api", ""))
        self.assertEqual((record.user_agent, record.referer, record.status), ("", "", 500))

    def test_fields_change_mid_file(self) -> None:
        parser = self.parser_with_header()
        self.assertEqual(parser.parse(IIS_LINE).host, "192.168.1.5")
        self.assertIsNone(parser.parse("#Fields: time c-ip cs-method cs-uri-stem sc-status sc-bytes cs-version"))
        self.assertEqual(parser.fields, ("time", "c-ip", "cs-method", "cs-uri-stem", "sc-status", "sc-bytes", "cs-version"))
        record = parser.parse("14:00:01 172.16.0.9 HEAD /health 200 1234 HTTP/1.1")
        self.assertEqual((record.host, record.method, record.target, record.status, record.size, record.protocol),
                         ("172.16.0.9", "HEAD", "/health", 200, 1234, "HTTP/1.1"))
        # no date field: the date of the last #Date directive
        self.assertEqual(record.time, datetime(2024, 3, 1, 14, 0, 1, tzinfo=timezone.utc))
        self.assertEqual(reason_of(parser, IIS_LINE), "field count mismatch")

    def test_without_date_field_or_directive_the_timestamp_is_bad(self) -> None:
        parser = LogParser("w3c")
        parser.parse("#Fields: time c-ip cs-uri-stem sc-status")
        self.assertEqual(reason_of(parser, "14:00:01 1.2.3.4 / 200"), "bad timestamp")

    def test_no_status_field_counts_the_hit_with_status_zero(self) -> None:
        parser = LogParser("w3c")
        parser.parse("#Fields: date time c-ip cs-uri")
        record = parser.parse("2024-03-01 10:00:00 1.2.3.4 /docs/a?b=c")
        self.assertEqual((record.status, record.size, record.target, record.section), (0, 0, "/docs/a?b=c", "/docs"))

    def test_fractional_seconds_and_field_name_case(self) -> None:
        parser = LogParser("w3c")
        parser.parse("#Fields: Date Time C-IP CS-URI-STEM SC-STATUS SC-BYTES")
        record = parser.parse("2024-03-01 10:00:00.5 1.2.3.4 / 200 77")
        self.assertEqual((record.time.microsecond, record.epoch, record.size), (500000, calendar.timegm((2024, 3, 1, 10, 0, 0)), 77))

    def test_data_before_fields_directive(self) -> None:
        self.assertEqual(reason_of(LogParser("w3c"), IIS_LINE), "no #Fields directive")
        parser = LogParser("w3c")
        parser.parse("#Software: Microsoft Internet Information Services 10.0")
        self.assertEqual(reason_of(parser, IIS_LINE), "no #Fields directive")

    def test_wrong_field_count(self) -> None:
        parser = self.parser_with_header()
        self.assertEqual(reason_of(parser, IIS_LINE + " extra"), "field count mismatch")
        self.assertEqual(reason_of(parser, IIS_LINE.rsplit(" ", 1)[0]), "field count mismatch")
        self.assertEqual(reason_of(parser, APACHE_COMBINED), "field count mismatch")

    def test_runs_of_spaces_and_tabs_are_tolerated(self) -> None:
        parser = self.parser_with_header()
        self.assertEqual(parser.parse(IIS_LINE.replace(" ", "  \t") + "  "), parser.parse(IIS_LINE))

    def test_bad_values(self) -> None:
        parser = self.parser_with_header()
        fields = IIS_LINE.split(" ")
        for index, value, reason in ((11, "abc", "bad status"), (0, "2024-02-30", "bad timestamp"),
                                     (1, "25:00:00", "bad timestamp")):
            broken = list(fields)
            broken[index] = value
            with self.subTest(value=value):
                self.assertEqual(reason_of(parser, " ".join(broken)), reason)
        sized = LogParser("w3c")
        sized.parse("#Fields: date time cs-uri-stem sc-status sc-bytes")
        self.assertEqual(sized.parse("2024-03-01 10:00:00 / 200 -").size, 0)
        self.assertEqual(reason_of(sized, "2024-03-01 10:00:00 / 200 12k"), "bad size")

    def test_empty_fields_directive_is_rejected_and_clears_the_layout(self) -> None:
        parser = self.parser_with_header()
        self.assertEqual(reason_of(parser, "#Fields:   "), "bad #Fields directive")
        self.assertIsNone(parser.fields)
        self.assertEqual(reason_of(parser, IIS_LINE), "no #Fields directive")

    def test_priming_fields_when_following_from_the_end(self) -> None:
        names = IIS_FIELDS.split()[1:]
        for primed in (lambda: IIS_FIELDS, lambda: IIS_FIELDS + "\r\n", lambda: " ".join(names),
                       lambda: names, lambda: iter(names)):
            for fmt in ("w3c", "auto"):
                parser = LogParser(fmt)
                parser.fields = primed()
                self.assertEqual(parser.fields, tuple(names))
                self.assertEqual(parser.detected, "w3c")
                self.assertEqual(parser.parse(IIS_LINE).target, "/pages/create?id=3&x=y")
        parser = LogParser("w3c")
        with self.assertRaises(ValueError):
            parser.fields = "   "
        parser.fields = names
        parser.fields = None
        self.assertEqual(reason_of(parser, IIS_LINE), "no #Fields directive")


def w3c_parser(header: List[str], fmt: str = "w3c", max_line_length: int = MAX_LINE_LENGTH) -> LogParser:
    parser = LogParser(fmt, max_line_length)
    for line in header:
        if parser.parse(line + "\r\n") is not None:
            raise AssertionError(f"a directive parsed as a record: {line!r}")
    return parser


class W3CQuotedTest(unittest.TestCase):
    """Quoted strings as the W3C Extended Log File Format working draft defines them."""

    def test_quoted_user_agent_referer_and_host_with_spaces(self) -> None:
        record = w3c_parser(ADVANCED_HEADER).parse(ADVANCED_LINE + "\r\n")
        self.assertEqual(
            record.user_agent,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36",
        )
        self.assertEqual((record.referer, record.vhost), ("https://www.example.com/start page", "www.example.com"))
        self.assertEqual((record.host, record.method, record.target, record.section, record.status, record.size),
                         ("192.168.1.5", "GET", "/default.aspx", "/default.aspx", 200, 5120))
        draft = w3c_parser(["#Version: 1.0", DRAFT_FIELDS]).parse(DRAFT_LINE)
        self.assertEqual((draft.host, draft.user, draft.target, draft.protocol, draft.status, draft.size, draft.referer),
                         ("10.2.3.4", "", "/catalog/item?id=7", "HTTP/1.1", 200, 812, ""))
        self.assertEqual(draft.time, datetime(2024, 3, 1, 13, 55, 40, tzinfo=timezone.utc))

    def test_quoted_values_keep_their_plus_signs(self) -> None:
        # IIS writes unquoted agents with '+' for spaces; a quoted agent has its spaces, and a '+' is a '+'
        record = w3c_parser(["#Version: 1.0", DRAFT_FIELDS]).parse(DRAFT_LINE)
        self.assertEqual(record.user_agent, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
        unquoted = w3c_parser(IIS_HEADER).parse(IIS_LINE.replace("/start", '/say"hi"'))
        self.assertEqual(unquoted.user_agent, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
        self.assertEqual(unquoted.referer, 'https://www.example.com/say"hi"', "a quote inside an unquoted field is kept")

    def test_doubled_quotes_stand_for_one_quote(self) -> None:
        parser = w3c_parser(["#Version: 1.0", DRAFT_FIELDS])
        line = DRAFT_LINE.replace('"-"', '"https://example.com/?q=""hello world"""')
        line = line.replace("(compatible;", '(compatible; ""quoted""; """";')
        record = parser.parse(line)
        self.assertEqual(record.referer, 'https://example.com/?q="hello world"')
        self.assertEqual(record.user_agent, 'Mozilla/5.0 (compatible; "quoted"; ""; Googlebot/2.1; +http://www.google.com/bot.html)')
        self.assertEqual(parser.parse(DRAFT_LINE.replace('"-"', '""')).referer, "")
        self.assertEqual(parser.parse(DRAFT_LINE.replace('"-"', '""""')).referer, '"')

    def test_backslash_escaped_quotes_are_tolerated(self) -> None:
        parser = w3c_parser(["#Version: 1.0", DRAFT_FIELDS])
        line = DRAFT_LINE.replace('"-"', r'"say \"hi\" C:\\dir\\ \d"')
        self.assertEqual(parser.parse(line).referer, r'say "hi" C:\dir\ \d')
        self.assertEqual(parser.parse(DRAFT_LINE.replace('"-"', r'"\""')).referer, '"')

    def test_quoted_dash_is_empty_and_quoted_numbers_read(self) -> None:
        parser = w3c_parser(["#Version: 1.0", DRAFT_FIELDS])
        record = parser.parse(DRAFT_LINE.replace(" 200 812 ", ' "404" "-" ').replace("10.2.3.4 -", '"10.2.3.4" "-"'))
        self.assertEqual((record.host, record.user, record.status, record.size, record.referer), ("10.2.3.4", "", 404, 0, ""))

    def test_unterminated_quote_is_a_counted_skip(self) -> None:
        parser = w3c_parser(["#Version: 1.0", DRAFT_FIELDS])
        skips = ("malformed", "field count mismatch")
        for line in (
            DRAFT_LINE[:-1],  # the referer's closing quote is missing
            DRAFT_LINE.replace('"-"', '"-'),
            DRAFT_LINE.replace('"-"', '"x"y'),  # a closing quote glued to more text
            DRAFT_LINE.replace('"-"', r'"\"'),  # the only closing quote is escaped
            DRAFT_LINE.replace('"-"', '"""'),
            DRAFT_LINE.replace('bot.html)"', 'bot.html)'),  # the agent's quote runs into the referer's
            DRAFT_LINE.replace('"Mozilla/5.0 (compatible;', '"Mozilla/5.0" (compatible;'),
            DRAFT_LINE.replace('"Mozilla', 'Mozilla').replace(' "-"', ""),
            '"',
            '" "',
            'a b c d e f g h i j "k',
        ):
            with self.subTest(line=line):
                self.assertIn(reason_of(parser, line), skips)
        self.assertEqual(parser.parse(DRAFT_LINE).status, 200, "the next line still parses")

    def test_hostile_quotes_and_spaces_take_linear_time(self) -> None:
        parser = w3c_parser(["#Version: 1.0", DRAFT_FIELDS], max_line_length=4 * 1024 * 1024)
        head = DRAFT_LINE.rsplit(' "Mozilla', 1)[0]
        megabyte, wide = " " * (1024 * 1024), " " * 65536
        cases = [
            (head + " " + '"' * 50_000 + ' "-"', '"' * 24_999),  # an open quote and 24,999 doubled ones
            (head + ' "' + '\\"' * 50_000 + '" "-"', '"' * 50_000),
            (head + " " + 'a"' * 50_000 + ' "-"', 'a"' * 50_000),
            (head + " " + '"' * 50_001 + ' "-"', None),
            (head + ' "' + '\\"' * 50_000 + ' "-', None),
            (head + ' "' + '""\\' * 30_000 + ' -', None),
            (head + ' "-" "' + megabyte, None),
            (head + " " + '" ' * 500_000, None),
            ('"' * 1_000_000, None),
            (megabyte + '"', None),
            ("x" + megabyte, None),
            (DRAFT_LINE.replace(" ", wide), "Mozilla/5.0" + wide + "(compatible;" + wide + "Googlebot/2.1;"
             + wide + "+http://www.google.com/bot.html)"),
        ]
        for line, agent in cases:
            with self.subTest(line=line[:80], length=len(line)):
                started = time.perf_counter()
                if agent is None:
                    self.assertIn(reason_of(parser, line), ("malformed", "field count mismatch"))
                else:
                    self.assertEqual(parser.parse(line).user_agent, agent)
                self.assertLess(time.perf_counter() - started, 2.0)


class W3CLocalTimeTest(unittest.TestCase):
    """IIS's ``date-local``/``time-local``: wall-clock times in a zone, the host's by default."""

    LOCAL_FIELDS = ("date-local", "time-local", "c-ip", "cs-uri-stem", "sc-status")

    def test_local_date_and_time_in_an_explicit_zone(self) -> None:
        india = timezone(timedelta(hours=5, minutes=30))
        record = parse_w3c("2024-03-01 19:25:36.5 1.2.3.4 /a/b 200", W3CLayout(self.LOCAL_FIELDS, india))
        self.assertEqual(record.time, datetime(2024, 3, 1, 13, 55, 36, 500000, tzinfo=timezone.utc))
        self.assertEqual((record.time.utcoffset(), record.epoch),
                         (timedelta(hours=5, minutes=30), calendar.timegm((2024, 3, 1, 13, 55, 36))))
        paris = W3CLayout(self.LOCAL_FIELDS, tz.gettz("Europe/Paris"))
        for line, utc, offset in (
            ("2024-07-01 14:00:00 1.2.3.4 / 200", datetime(2024, 7, 1, 12, tzinfo=timezone.utc), 2),
            ("2024-01-15 14:00:00 1.2.3.4 / 200", datetime(2024, 1, 15, 13, tzinfo=timezone.utc), 1),
            ("2024-10-27 02:30:00 1.2.3.4 / 200", datetime(2024, 10, 27, 0, 30, tzinfo=timezone.utc), 2),  # first of two
        ):
            with self.subTest(line=line):
                record = parse_w3c(line, paris)
                self.assertEqual((record.time, record.time.utcoffset()), (utc, timedelta(hours=offset)))
                self.assertIsInstance(record.time.tzinfo, timezone, "a fixed offset, as CLF records carry")
                self.assertEqual(record.epoch, int(utc.timestamp()))
        with self.assertRaises(ParseError) as caught:
            parse_w3c("2024-02-30 14:00:00 1.2.3.4 / 200", paris)
        self.assertEqual(caught.exception.reason, "bad timestamp")

    def test_local_date_and_time_default_to_the_hosts_zone(self) -> None:
        if not hasattr(time, "tzset"):
            self.skipTest("time.tzset is POSIX only")
        saved = os.environ.get("TZ")

        def restore() -> None:
            if saved is None:
                os.environ.pop("TZ", None)
            else:
                os.environ["TZ"] = saved
            time.tzset()

        self.addCleanup(restore)
        os.environ["TZ"] = "EST+5EDT,M3.2.0,M11.1.0"
        time.tzset()
        parser = w3c_parser(ADVANCED_HEADER)
        record = parser.parse(ADVANCED_LINE)
        self.assertEqual(record.time, datetime(2024, 3, 1, 19, 55, 36, 250000, tzinfo=timezone.utc))
        self.assertEqual(record.time.utcoffset(), timedelta(hours=-5))
        summer = parser.parse(ADVANCED_LINE.replace("2024-03-01", "2024-07-01"))
        self.assertEqual((summer.time.utcoffset(), summer.epoch), (timedelta(hours=-4), calendar.timegm((2024, 7, 1, 18, 55, 36))))
        self.assertEqual(W3CLayout(self.LOCAL_FIELDS).zone, tz.tzlocal())

    def test_utc_date_and_time_are_preferred_over_local_ones(self) -> None:
        paris = tz.gettz("Europe/Paris")
        both = W3CLayout(("date", "time", "date-local", "time-local", "cs-uri-stem", "sc-status"), paris)
        record = parse_w3c("2024-07-01 12:00:00 2024-07-01 14:00:00 / 200", both)
        self.assertEqual((record.time, both.zone), (datetime(2024, 7, 1, 12, tzinfo=timezone.utc), None))
        # a whole local pair beats a lone UTC time (which would need the #Date directive's date)
        local = W3CLayout(("time", "date-local", "time-local", "cs-uri-stem", "sc-status"), paris)
        record = parse_w3c("12:00:00 2024-07-01 14:00:00 / 200", local, "2024-07-01")
        self.assertEqual((record.time, record.time.utcoffset()), (datetime(2024, 7, 1, 12, tzinfo=timezone.utc), timedelta(hours=2)))
        # a local time needs its local date: a UTC date would be a day off around midnight
        with self.assertRaises(ParseError) as caught:
            parse_w3c("2024-07-01 14:00:00 / 200", W3CLayout(("date", "time-local", "cs-uri-stem", "sc-status"), paris))
        self.assertEqual(caught.exception.reason, "bad timestamp")


class W3CDurationAndVhostTest(unittest.TestCase):
    def test_time_taken_milliseconds_become_the_duration_in_seconds(self) -> None:
        parser = w3c_parser(IIS_HEADER)
        self.assertEqual(parser.parse(IIS_LINE).duration, 0.015)
        for taken, seconds in (("0", 0.0), ("1500", 1.5), ("12.5", 0.0125), ("-", None), ("abc", None), ("1e3", None),
                               ("-5", None), ("\u0663", None)):
            with self.subTest(taken=taken):
                record = parser.parse(IIS_LINE.rsplit(" ", 1)[0] + " " + taken)
                self.assertEqual(record.duration, seconds)
                self.assertEqual(record.status, 201, "the record counts all the same")
        self.assertEqual(w3c_parser(ADVANCED_HEADER).parse(ADVANCED_LINE).duration, 0.031)

    def test_cs_host_or_s_sitename_is_the_vhost(self) -> None:
        for fields, line, vhost in (
            ("s-sitename cs-host", "W3SVC1 www.example.com", "www.example.com"),
            ("cs-host s-sitename", "shop.example.com:8080 W3SVC2", "shop.example.com:8080"),
            ("s-sitename", "W3SVC1", "W3SVC1"),
            ("CS-HOST", "api.example.com", "api.example.com"),
            ("s-sitename cs-host", "W3SVC1 -", "W3SVC1"),
            ("s-sitename", "-", ""),
            ("s-ip", "10.0.0.4", ""),
        ):
            with self.subTest(fields=fields, line=line):
                parser = w3c_parser([f"#Fields: date time {fields} cs-uri-stem sc-status"])
                self.assertEqual(parser.parse(f"2024-03-01 13:55:36 {line} / 200").vhost, vhost)


class GuardTest(unittest.TestCase):
    def test_years_too_far_from_now_are_bad_timestamps(self) -> None:
        for stamp in ("01/Jan/0001:00:00:00 +2359", "31/Dec/9999:23:59:59 -2359", "01/Jan/1899:00:00:00 +0000"):
            line = f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1'
            with self.assertRaises(ParseError) as caught:
                parse_line(line)
            self.assertEqual(caught.exception.reason, "bad timestamp")
        self.assertEqual(parse_line('1.2.3.4 - - [01/Jan/1970:00:00:00 +0100] "GET / HTTP/1.1" 200 1').epoch, -3600)

    def test_doubled_spaces_inside_the_request(self) -> None:
        record = parse_line('1.2.3.4 - - [01/Jan/2024:00:00:00 +0000] "GET  /double/x  HTTP/1.1" 200 1')
        self.assertEqual((record.method, record.target, record.protocol, record.section), ("GET", "/double/x", "HTTP/1.1", "/double"))


class AutoDetectionTest(unittest.TestCase):
    def test_clf_until_a_w3c_directive(self) -> None:
        parser = LogParser()
        self.assertEqual(parser.detected, "clf")
        self.assertEqual(reason_of(parser, IIS_LINE), "malformed")
        for line in IIS_HEADER:
            parser.parse(line)
        self.assertEqual(parser.detected, "w3c")
        self.assertEqual(parser.parse(IIS_LINE).user, "alice")

    def test_a_stray_directive_cannot_switch_a_clf_log(self) -> None:
        # with a log format starting with a client-controlled field, a client could write one
        parser = LogParser()
        self.assertEqual(parser.parse(APACHE_COMBINED).user, "frank")
        for line in IIS_HEADER:
            self.assertIsNone(parser.parse(line))
        self.assertEqual(parser.detected, "clf")
        self.assertEqual(parser.parse(APACHE_COMBINED).user, "frank")

    def test_each_w3c_marker_switches(self) -> None:
        for directive in ("#Software: IIS", "#Version: 1.0", IIS_FIELDS, "#fields: date time"):
            parser = LogParser()
            parser.parse(directive)
            self.assertEqual(parser.detected, "w3c", directive)

    def test_software_directive_before_fields_then_data(self) -> None:
        parser = LogParser()
        parser.parse("#Software: Microsoft Internet Information Services 10.0")
        self.assertEqual(reason_of(parser, IIS_LINE), "no #Fields directive")

    def test_fixed_clf_formats_ignore_w3c_directives(self) -> None:
        for fmt in ("common", "combined"):
            parser = LogParser(fmt)
            for line in IIS_HEADER:
                self.assertIsNone(parser.parse(line))
            self.assertEqual(parser.detected, fmt)
            self.assertEqual(parser.parse(APACHE_COMBINED).status, 200)

    def test_independent_parsers_keep_their_own_state(self) -> None:
        w3c, clf = LogParser(), LogParser()
        w3c.parse(IIS_FIELDS)
        self.assertEqual(clf.parse(APACHE_COMMON).user, "frank")
        self.assertEqual(w3c.parse(IIS_LINE).user, "alice")


class ConstructionAndOneShotTest(unittest.TestCase):
    def test_formats(self) -> None:
        self.assertEqual(FORMATS, ("auto", "common", "combined", "w3c"))
        for fmt in FORMATS:
            self.assertEqual(LogParser(fmt).fmt, fmt)
        with self.assertRaises(ValueError):
            LogParser("nonsense")
        with self.assertRaises(ValueError):
            LogParser(max_line_length=0)

    def test_parse_line(self) -> None:
        self.assertEqual(parse_line(APACHE_COMBINED, "combined").referer, "http://www.example.com/start.html")
        self.assertEqual(parse_line(APACHE_COMBINED.encode() + b"\n").status, 200)
        for line, reason in (("", "blank line"), ("  \n", "blank line"), (b"\r\n", "blank line"),
                             ("#Fields: date time", "directive"), ("# hello", "directive"),
                             ("nonsense", "malformed"), (IIS_LINE, "malformed")):
            with self.subTest(line=line), self.assertRaises(ParseError) as caught:
                parse_line(line)
            self.assertEqual(caught.exception.reason, reason)
            self.assertIn(reason, SKIP_REASONS)
        with self.assertRaises(ParseError) as caught:
            parse_line(IIS_LINE, "w3c")
        self.assertEqual(caught.exception.reason, "no #Fields directive")


# --- round trip of generated Common/Combined lines -------------------------------------------

MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TOKEN = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='"\\'), min_size=1)
FREE_TEXT = st.lists(
    st.one_of(st.text(alphabet=st.characters(blacklist_characters='"\\\r\n', blacklist_categories=("Cs",))),
              st.just('\\"'), st.just("\\\\"), st.just("\\x22")),
).map("".join)


def dash(value: str) -> str:
    return value or "-"


@st.composite
def log_fields(draw) -> dict:
    local = draw(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)))
    offset = draw(st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
    target = draw(st.one_of(
        TOKEN.map(lambda text: "/" + text),
        st.sampled_from(["/", "*", "example.com:443", "http://my.site.com/pages/create?x=1"]),
    ))
    user = draw(st.one_of(st.just(""), TOKEN.filter(lambda text: text != "-"),
                          st.text(alphabet="abc xyz", min_size=1).filter(lambda t: t.strip() and t != "-")))
    return dict(
        host=draw(st.one_of(st.just(""), TOKEN.filter(lambda text: text != "-" and not text.startswith("#")))),
        ident=draw(st.one_of(st.just(""), TOKEN.filter(lambda text: text != "-"))),
        user=user,
        time=local.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=offset))),
        method=draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PROPFIND"])),
        target=target,
        protocol=draw(st.sampled_from(["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3", ""])),
        status=draw(st.integers(min_value=100, max_value=999)),
        size=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=10 ** 12))),
        referer=draw(FREE_TEXT.filter(lambda text: text != "-")),
        user_agent=draw(FREE_TEXT.filter(lambda text: text != "-")),
        spaces=draw(st.sampled_from([" ", "  "])),
        combined=draw(st.booleans()),
        as_bytes=draw(st.booleans()),
    )


def format_line(fields: dict) -> str:
    moment = fields["time"]
    offset = int(moment.utcoffset().total_seconds()) // 60
    hours, minutes = divmod(abs(offset), 60)
    stamp = (f"{moment.day:02d}/{MONTH_NAMES[moment.month - 1]}/{moment.year:04d}:{moment.hour:02d}:"
             f"{moment.minute:02d}:{moment.second:02d} {'-' if offset < 0 else '+'}{hours:02d}{minutes:02d}")
    user = fields["user"]
    user = f'"{user}"' if " " in user else dash(user)
    request = " ".join(part for part in (fields["method"], fields["target"], fields["protocol"]) if part)
    size = "-" if fields["size"] is None else str(fields["size"])
    parts: List[str] = [dash(fields["host"]), dash(fields["ident"]), user, f"[{stamp}]", f'"{request}"',
                        str(fields["status"]), size]
    if fields["combined"]:
        parts += [f'"{dash(fields["referer"])}"', f'"{dash(fields["user_agent"])}"']
    return fields["spaces"].join(parts)


class RoundTripTest(unittest.TestCase):
    @given(log_fields())
    def test_formatted_lines_parse_back(self, fields: dict) -> None:
        line = format_line(fields)
        fmt = "combined" if fields["combined"] else "common"
        for parser_format in (fmt, "auto"):
            source: Optional[object] = line.encode("utf-8") + b"\n" if fields["as_bytes"] else line + "\n"
            record = LogParser(parser_format, max_line_length=10 ** 6).parse(source)
            expected_referer = fields["referer"] if fields["combined"] else ""
            expected_agent = fields["user_agent"] if fields["combined"] else ""
            self.assertEqual(
                record,
                LogRecord(
                    host=fields["host"], ident=fields["ident"], user=fields["user"], time=fields["time"],
                    method=fields["method"], target=fields["target"], protocol=fields["protocol"],
                    status=fields["status"], size=fields["size"] or 0,
                    referer=expected_referer, user_agent=expected_agent,
                    section=section_of(fields["target"]), epoch=int(fields["time"].timestamp()),
                ),
            )
            self.assertEqual(record.time.utcoffset(), fields["time"].utcoffset())


if __name__ == "__main__":
    unittest.main()
