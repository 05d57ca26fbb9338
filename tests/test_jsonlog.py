"""JSON access logs as nginx (``escape=json``), Caddy and Traefik write them, and hostile ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone
from typing import Any, List

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.monitor import Monitor
from monilog.parsing.block import parse_block
from monilog.parsing.jsonlog import json_format
from monilog.parsing.logformat import FormatError, compile_format
from monilog.parsing.parser import LogParser
from monilog.parsing.record import ParseError
from tests.support import Recorder

NGINX = ('{"time_local":"01/Dec/2026:18:46:36 +0000","remote_addr":"10.0.0.1","remote_user":"john doe",'
         '"request":"GET /api/users?id=1 HTTP/1.1","status": "200","body_bytes_sent":"612","request_time":"0.010",'
         '"upstream_response_time":"0.004, 0.002","host":"shop.example","http_user_agent":"curl \\"x\\""}')
CADDY = ('{"level":"info","ts":1796150797.52,"logger":"http.log.access","msg":"handled request",'
         '"request":{"remote_ip":"127.0.0.1","proto":"HTTP/2.0","method":"GET","host":"localhost","uri":"/c/d",'
         '"headers":{"User-Agent":["curl"]}},"user_id":"","duration":0.000929675,"size":10900,"status":404}')
TRAEFIK = ('{"ClientHost":"10.0.0.9","ClientUsername":"-","DownstreamContentSize":10,"DownstreamStatus":503,'
           '"Duration":1234567,"RequestHost":"api.example","RequestMethod":"POST","RequestPath":"/api/x",'
           '"RequestProtocol":"HTTP/1.1","StartUTC":"2026-12-01T18:46:38.123456789Z"}')


class KnownKeysTest(unittest.TestCase):
    def parse(self, line: str, fmt: str = "json"):  # type: ignore[no-untyped-def]
        record = LogParser(fmt).parse(line.encode())
        assert record is not None
        return record

    def test_nginx_escape_json(self) -> None:
        record = self.parse(NGINX)
        self.assertEqual((record.host, record.user, record.method, record.section, record.status, record.size, record.vhost),
                         ("10.0.0.1", "john doe", "GET", "/api", 200, 612, "shop.example"))
        self.assertEqual(record.duration, 0.010)
        self.assertAlmostEqual(record.upstream, 0.006)  # type: ignore[arg-type]

    def test_caddy_nested_keys(self) -> None:
        record = self.parse(CADDY)
        self.assertEqual((record.host, record.method, record.section, record.status, record.size, record.vhost),
                         ("127.0.0.1", "GET", "/c", 404, 10900, "localhost"))
        self.assertEqual(record.epoch, 1796150797)
        self.assertEqual(record.duration, 0.000929675)

    def test_traefik_nanoseconds_and_iso_time(self) -> None:
        record = self.parse(TRAEFIK)
        self.assertEqual((record.host, record.user, record.method, record.section, record.status, record.vhost),
                         ("10.0.0.9", "", "POST", "/api", 503, "api.example"))
        self.assertAlmostEqual(record.duration, 0.001234567)  # type: ignore[arg-type]
        self.assertEqual(record.time, datetime(2026, 12, 1, 18, 46, 38, 123456, tzinfo=timezone.utc))

    def test_auto_detects_json_per_file(self) -> None:
        for line in (NGINX, CADDY, TRAEFIK):
            with self.subTest(line=line[:30]):
                parser = LogParser("auto")
                self.assertEqual(parser.parse(line).status in (200, 404, 503), True)  # type: ignore[union-attr]
                self.assertEqual(parser.detected, "json")

    def test_caddy_and_traefik_json_are_names_of_json(self) -> None:
        for fmt, line in (("caddy", CADDY), ("traefik_json", TRAEFIK)):
            with self.subTest(fmt=fmt):
                self.assertIs(compile_format(fmt), compile_format("json"))
                self.assertEqual(self.parse(line, fmt).status, self.parse(line).status)

    def test_json_keys_go_with_the_json_aliases(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "caddy.log")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(CADDY.replace('"status":404', '"code":201') + "\n")
            result = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--log-format", "caddy", "--json-keys",
                                     "status=code", "--replay", "--json", "--no-log-file", path],
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 0, result.stderr)
        summary = json.loads(result.stdout.splitlines()[-1])
        self.assertEqual(summary["status_codes"], {"201": 1})  # the mapping was used

    def test_auto_detects_json_with_spaces_inside_the_braces(self) -> None:
        parser = LogParser("auto")
        record = parser.parse('{ "msec": 1796150796.5, "request": "GET /a/b HTTP/1.1", "status": 200 }')
        assert record is not None
        self.assertEqual((parser.detected, record.section), ("json", "/a"))

    def test_mapping_comes_first_and_reaches_nested_keys(self) -> None:
        line = '{"when": "2026-12-01T18:46:36+01:00", "req": {"url": "/x/y", "verb": "PUT"}, "code": 201, "took": 250}'
        record = self.parse(line, "json:time=when,path=req.url,method=req.verb,status=code,duration_ms=took")
        self.assertEqual((record.method, record.section, record.status, record.duration), ("PUT", "/x", 201, 0.25))
        self.assertEqual(record.epoch, int(datetime(2026, 12, 1, 17, 46, 36, tzinfo=timezone.utc).timestamp()))

    def test_a_bad_mapping_is_refused(self) -> None:
        with self.assertRaises(FormatError):
            compile_format("json:colour=x")
        result = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--json-keys", "colour=x", "a.log"],
                                capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 2)
        self.assertIn("colour", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class HostileJsonTest(unittest.TestCase):
    def test_each_bad_line_is_a_counted_skip_with_its_reason(self) -> None:
        good = json.loads(NGINX)
        cases = {
            "not json at all": "bad json",
            "[1, 2]": "bad json",
            '{"time_local": "01/Dec/2026:18:46:36 +0000"': "bad json",
            '{"status": 200, "request": "GET / HTTP/1.1"}': "missing field",
            json.dumps(dict(good, time_local="31/Feb/2026:00:00:00 +0000")): "bad timestamp",
            json.dumps(dict(good, status="OK")): "bad status",
            json.dumps(dict(good, body_bytes_sent="lots")): "bad size",
        }
        parser = LogParser("json")
        for line, reason in cases.items():
            with self.subTest(line=line):
                with self.assertRaises(ParseError) as caught:
                    parser.parse(line)
                self.assertEqual(caught.exception.reason, reason)
        block = parse_block(("\n".join([NGINX, *cases, NGINX]) + "\n").encode(), LogParser("json"))
        self.assertEqual(len(block.stamps), 2)
        self.assertEqual([reason for _, reason in block.skipped], list(cases.values()))

    def test_missing_optional_keys_and_dashes(self) -> None:
        record = LogParser("json").parse(b'{"msec": "1796150796.5", "request": "-", "status": 408, "remote_user": "-", '
                                         b'"request_time": "-", "upstream_response_time": "-", "host": null}')
        assert record is not None
        self.assertEqual((record.user, record.section, record.size, record.duration, record.upstream, record.vhost),
                         ("", "-", 0, None, None, ""))

    def test_non_utf8_bytes_are_replaced_and_the_line_counts(self) -> None:
        line = NGINX.replace("/api/users", "/caf\xe9/users").encode("latin-1")
        record = LogParser("json").parse(line)
        assert record is not None
        self.assertEqual(record.section, "/caf\ufffd")


def columns(block: Any) -> List[Any]:
    """A parsed block's content, comparable whatever sequence types its columns are."""
    return [block.lines, block.skipped] + [None if column is None else list(column) for column in
                                           (block.who, block.stamps, block.requests, block.statuses, block.sizes,
                                            block.durations, block.upstreams, block.vhosts, block.agents, block.forwarded)]


_STAMP = "01/Dec/2026:18:46:36 +0000"
_TEXTS = st.sampled_from(["", "-", "x", "john doe", "caf\u00e9", 'say "hi"', "back\\slash", "tab\there", "\u00ff\u4e2d",
                          "/a/b", "GET /a/b HTTP/1.1", "GET /caf\u00e9 HTTP/1.1", "10.0.0.1", "0.004, 0.002"])
_VALUES = st.one_of(st.sampled_from(["-", "", None]), _TEXTS, st.integers(-3, 3) | st.sampled_from([200, 404, 512]),
                    st.sampled_from([None, True, 0.25, 1e999, "200", "OK", "0.010", _STAMP, "31/Feb/2026:00:00:00 +0000",
                                     "1796150796.5"]))
_KEYS = ["time_local", "remote_addr", "remote_user", "request", "request_method", "request_uri", "status",
         "body_bytes_sent", "request_time", "duration", "upstream_response_time", "host", "http_user_agent", "other"]


@st.composite
def json_blocks(draw: Any) -> bytes:
    """Blocks of JSON lines mostly of one shape and plain, with now and then anything JSON allows or not."""
    keys = draw(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=8, unique=True))
    base = {key: draw(_VALUES) for key in keys}
    base.update(time_local=_STAMP, status=200, request="GET /a/b HTTP/1.1")
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        row = dict(base)
        if draw(st.integers(0, 9)) == 0:
            row[draw(st.sampled_from(list(row)))] = draw(_VALUES)
        text = json.dumps(row, ensure_ascii=draw(st.booleans()), separators=draw(st.sampled_from([(", ", ": "), (",", ":")])))
        damage = draw(st.sampled_from(["none"] * 40 + ["latin1", "tab", "blank", "trailing", "cut", "nested", "leading"]))
        if damage == "tab":
            text = text.replace(", ", ",\t", 1)
        elif damage == "blank":
            text = ""
        elif damage == "trailing":
            text += " \r"
        elif damage == "cut":
            text = text[:-1]
        elif damage == "nested":
            text = text[:-1] + ', "headers": {"a": [1]}}'
        elif damage == "leading":
            text = " " + text
        line = text.encode("utf-8", "surrogatepass")
        lines.append(line.replace(b"x", b"\xe9") if damage == "latin1" else line)  # not UTF-8
    return b"\n".join(lines) + b"\n"


class ShapeReadingTest(unittest.TestCase):
    """Blocks read by their lines' shape equal blocks read line by line, whatever the lines."""

    @settings(max_examples=400, deadline=None)
    @given(json_blocks(), st.sampled_from([260, 1 << 20, 1 << 20]))
    def test_by_shape_equals_line_by_line(self, block: bytes, cap: int) -> None:
        self.assertEqual(columns(json_format("json").parse_block(block, cap)),
                         columns(json_format("json").by_line(block, cap)))

    def test_values_that_need_care_convert_as_line_by_line(self) -> None:
        good = dict(json.loads(NGINX), request_uri="/api/users?id=1", request_method="GET")
        variants = [{"body_bytes_sent": "-4"}, {"body_bytes_sent": "-"}, {"remote_addr": "-"}, {"request_time": "-"},
                    {"request_time": "0.5"}, {"upstream_response_time": "-"}, {"remote_user": ""}, {"status": "404"},
                    {"host": "-"}, {"request": "-"}, {"request_uri": "-"}]  # each value of the line's own JSON type
        for variant in variants:
            with self.subTest(variant=variant):
                block = "\n".join(json.dumps(dict(good, **changes)) for changes in ({}, variant, {})) + "\n"
                fmt = json_format("json")
                self.assertIsNotNone(fmt._by_shape(block.encode(), 1 << 20))
                self.assertEqual(columns(fmt.parse_block(block.encode(), 1 << 20)), columns(fmt.by_line(block.encode(), 1 << 20)))

    def test_no_line_longer_than_the_cap_is_read_by_shape(self) -> None:
        line = json.dumps(dict(json.loads(NGINX), http_user_agent="x" * 200))
        fmt = json_format("json")
        for cap in range(len(line) - 2, len(line) + 3):
            with self.subTest(cap=cap):
                block = ((line + "\n") * 2).encode()
                self.assertEqual(columns(fmt.parse_block(block, cap)), columns(fmt.by_line(block, cap)))
        self.assertIsNotNone(fmt._by_shape(((line + "\n") * 2).encode(), 20 * len(line)))

    def test_a_line_too_long_is_skipped_as_line_by_line(self) -> None:
        block = (NGINX + "\n" + NGINX.replace("curl", "curl" * 100) + "\n").encode()
        parsed = json_format("json").parse_block(block, len(NGINX) + 10)
        self.assertEqual((len(parsed.stamps), parsed.skipped), (1, [(1, "line too long")]))

    def test_a_plain_block_and_one_with_escapes_are_read_by_shape(self) -> None:
        good = json.loads(NGINX)
        for line in (json.dumps(dict(good, http_user_agent="curl")), NGINX, json.dumps(dict(good, request="GET /caf\u00e9 HTTP/1.1"))):
            with self.subTest(line=line):
                block = (line + "\n") * 3
                fmt = json_format("json")
                self.assertIsNotNone(fmt._by_shape(block.encode(), 1 << 20))
                self.assertEqual(columns(fmt.parse_block(block.encode(), 1 << 20)), columns(fmt.by_line(block.encode(), 1 << 20)))

    def test_lines_of_a_non_ascii_target_count(self) -> None:
        # the end of the object was looked for at the text's index in the bytes: any non-ASCII byte
        # made the line "bad json"
        line = json.dumps(dict(json.loads(NGINX), request="GET /caf\u00e9 HTTP/1.1"), ensure_ascii=False)
        record = LogParser("json").parse(line.encode())
        assert record is not None
        self.assertEqual(record.section, "/caf\u00e9")

    def test_review_findings_are_records_or_counted_skips_never_exceptions(self) -> None:
        good = json.loads(NGINX)
        huge = "9" * 400
        for line, reason in ((NGINX[:-1] + ', "\\ud800": 1}', None),  # a lone surrogate key
                             (json.dumps(good)[:-1] + f', "request_time": {huge}}}', None),
                             (json.dumps(dict(good, upstream_response_time=None))[:-1] + f', "upstream_response_time": {huge}}}', None),
                             (json.dumps(good)[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}", "bad json")):
            with self.subTest(line=line[:80]):
                block = (line + "\n").encode()
                parsed = LogParser("json")
                got = parse_block(block, parsed)
                self.assertEqual(columns(got), columns(json_format("json").by_line(block, 1 << 16)))
                self.assertEqual([skip for _, skip in got.skipped], [] if reason is None else [reason])

    def test_a_list_or_an_infinite_number_is_a_counted_skip(self) -> None:
        good = json.loads(NGINX)
        for changes, reason in (({"time_local": [1]}, "bad timestamp"), ({"status": [200]}, "bad status"),
                                ({"body_bytes_sent": 1e999}, "bad size"), ({"time_local": True}, "bad timestamp")):
            with self.subTest(changes=changes):
                with self.assertRaises(ParseError) as caught:
                    LogParser("json").parse(json.dumps(dict(good, **changes)).encode())
                self.assertEqual(caught.exception.reason, reason)


class FloodWithSpacedUserTest(unittest.TestCase):
    def test_a_flood_of_john_doe_lines_alerts(self) -> None:
        # the reproduction: `ab -H 'Authorization: Basic am9obiBkb2U6eA=='` at 100 req/s
        recorder = Recorder()
        monitor = Monitor(20, 120, 10, sinks=[recorder])
        start = 1796150796
        for second in range(130):
            stamp = datetime.fromtimestamp(start + second, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
            line = f'127.0.0.1 - john doe [{stamp}] "GET / HTTP/1.0" 200 263 "-" "ab"\n'
            monitor.feed("access.log", [line.encode()] * 100)
        monitor.finish()
        self.assertEqual(monitor.parsed, 13_000)
        self.assertEqual([event.kind for event in recorder.events], ["alert"])


if __name__ == "__main__":
    unittest.main()
