"""Reading rules beyond the format: the real client behind proxies, vhosts named after files, sections per vhost."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from monilog.parsing.block import parse_block
from monilog.parsing.parser import LogParser
from monilog.parsing.reading import DEFAULT_TRUSTED, Reading, real_client, vhost_of_file

TRUSTED = tuple(ipaddress.ip_network(spec) for spec in DEFAULT_TRUSTED)
NGINX_XFF = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
             '"$http_user_agent" "$http_x_forwarded_for"')


def line(peer: str, forwarded: str, path: str = "/a/b", second: int = 36) -> str:
    return f'{peer} - - [01/Dec/2026:18:46:{second:02d} +0000] "GET {path} HTTP/1.1" 200 5 "-" "ua" "{forwarded}"'


class RealClientTest(unittest.TestCase):
    def test_the_first_untrusted_hop_from_the_right_is_the_client(self) -> None:
        cases = [
            ("203.0.113.7, 10.0.0.9", "10.0.0.5", "203.0.113.7"),   # through two private proxies
            ("198.51.100.1", "192.0.2.50", "192.0.2.50"),            # an untrusted peer is the client, whatever it says
            ("1.2.3.4, 203.0.113.7, 10.0.0.9", "10.0.0.5", "203.0.113.7"),  # a forged leftmost entry is not believed
            ("10.1.1.1, 10.0.0.9", "10.0.0.5", "10.1.1.1"),          # all trusted: the leftmost
            ("-", "10.0.0.5", "10.0.0.5"),
            ("garbage, 203.0.113.7", "10.0.0.5", "203.0.113.7"),
            ("2001:db8::7", "::1", "2001:db8::7"),
        ]
        for forwarded, peer, expected in cases:
            with self.subTest(forwarded=forwarded, peer=peer):
                self.assertEqual(real_client(forwarded, peer, TRUSTED), expected)

    def test_block_columns_carry_the_real_client_and_trusted_proxies_can_be_given(self) -> None:
        block = "\n".join([line("10.0.0.5", "203.0.113.7, 10.0.0.9"), line("192.0.2.50", "1.1.1.1"),
                           line("203.0.113.99", "198.51.100.1")]) + "\n"
        for reading, hosts in ((Reading(), ["10.0.0.5", "192.0.2.50", "203.0.113.99"]),
                               (Reading(real_client=True), ["203.0.113.7", "192.0.2.50", "203.0.113.99"]),
                               (Reading(real_client=True, trusted_proxies=("203.0.113.0/24",)),
                                ["10.0.0.5", "192.0.2.50", "198.51.100.1"])):
            with self.subTest(reading=reading):
                parsed = parse_block(block.encode(), LogParser(NGINX_XFF, reading=reading))
                self.assertEqual([parsed.keys.who(key)[0] for key in parsed.who], hosts)


class VhostTest(unittest.TestCase):
    def test_file_names(self) -> None:
        for path, vhost in (("/var/log/nginx/shop.example.access.log", "shop.example"), ("shop.example-access.log.2.gz", "shop.example"),
                            ("/logs/api.example.log.1", "api.example"), ("access.log", "access.log")):
            with self.subTest(path=path):
                self.assertEqual(vhost_of_file(path), vhost)

    def test_sections_per_vhost_and_vhost_from_the_file(self) -> None:
        block = (line("1.1.1.1", "-") + "\n" + line("1.1.1.1", "-", "/c/d") + "\n").encode()
        reading = Reading(vhost_from_filename=True, by_vhost=True)
        parsed = parse_block(block, LogParser(NGINX_XFF, reading=reading, source="/var/log/shop.example.access.log"))
        self.assertEqual([parsed.keys.request(key)[1] for key in parsed.requests], ["shop.example/a", "shop.example/c"])
        self.assertEqual([parsed.keys.vhost(key) for key in parsed.vhosts or ()], ["shop.example"] * 2)


class TimezoneTest(unittest.TestCase):
    def test_w3c_local_times_are_read_in_the_zone_given(self) -> None:
        lines = b"#Fields: date-local time-local cs-method cs-uri-stem sc-status\n2026-07-01 12:00:00 GET /a/b 200\n"
        for zone, hour in (("UTC", 12), ("Europe/Paris", 10), ("Asia/Kolkata", 6)):
            with self.subTest(zone=zone):
                parsed = parse_block(lines, LogParser("w3c", reading=Reading(timezone=zone)))
                epoch = parsed.keys.stamp(parsed.stamps[0])[0]
                self.assertEqual((epoch // 3600) % 24, hour)  # 12:00 local; Kolkata is +05:30
        with self.assertRaises(ValueError):
            Reading(timezone="Mars/Olympus")


class ReadingCommandTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-reading-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def replay(self, *options: str) -> dict:
        result = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file", *options],
                                capture_output=True, text=True, timeout=120, cwd=self.dir)
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout.splitlines()[-1])

    def test_two_vhost_files_with_real_clients_merged(self) -> None:
        paths = []
        for name, peer in (("shop.example.access.log", "10.0.0.5"), ("api.example.access.log", "10.0.0.6")):
            path = os.path.join(self.dir, name)
            with open(path, "w") as out:
                out.write("".join(line(peer, f"203.0.113.{n % 3}", f"/p{n % 2}/x", 30 + n) + "\n" for n in range(20)))
            paths.append(path)
        summary = self.replay("--log-format", NGINX_XFF, "--real-client", "x-forwarded-for", "--vhost-from-filename",
                              "--by-vhost", *paths)
        self.assertEqual({c["client"] for c in summary["clients"]}, {"203.0.113.0", "203.0.113.1", "203.0.113.2"})
        self.assertEqual({v["vhost"]: v["hits"] for v in summary["vhosts"]}, {"shop.example": 20, "api.example": 20})
        self.assertEqual({s["section"] for s in summary["sections"]},
                         {"shop.example/p0", "shop.example/p1", "api.example/p0", "api.example/p1"})

    def test_real_client_needs_a_format_that_logs_it(self) -> None:
        for fmt in ("combined", "nginx", "vhost_combined"):
            with self.subTest(fmt=fmt):
                result = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--log-format", fmt, "--real-client",
                                         "x-forwarded-for", "a.log"], capture_output=True, text=True, timeout=60)
                self.assertEqual(result.returncode, 2)
                self.assertIn("X-Forwarded-For", result.stderr)


if __name__ == "__main__":
    unittest.main()
