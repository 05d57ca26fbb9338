"""JSON access logs as nginx (``escape=json``), Caddy and Traefik write them, and hostile ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone

from monilog.monitor import Monitor
from monilog.parsing.block import parse_block
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
