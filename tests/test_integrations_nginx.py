"""A real nginx with a custom ``log_format``, followed live by ``monitoring --json``.

The test starts Debian's nginx (``nginx-light``) on a free loopback port with its own
configuration: a ``log_format`` with ``$host``, ``$request_time`` and ``$upstream_response_time``,
proxying to a backend in the test that answers after a few milliseconds. It sends a known set of
requests (two virtual hosts, a user name with a space in ``Authorization``, a few errors), then
checks that monilog's figures equal what the test computes from the log nginx wrote: hits,
sections, vhosts, and latency percentiles within 1% of the exact order statistics.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List

from tests.support import closed_port, script, wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOG_FORMAT = ('$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
              '"$http_referer" "$http_user_agent" $request_time $upstream_response_time')
LINE = re.compile(r'^(\S+) \S+ - (.+?) \[[^\]]+\] "(\S+) (\S+) [^"]*" (\d{3}) \d+ "[^"]*" "[^"]*" ([\d.]+) (\S+)$')
"""The test's own reading of the lines: vhost, user, method, target, status, request time, upstream."""


class Backend(BaseHTTPRequestHandler):
    """Answers after the number of milliseconds the query asks for (``?ms=12``)."""

    def do_GET(self) -> None:
        delay = int(self.path.rsplit("ms=", 1)[1]) if "ms=" in self.path else 0
        time.sleep(delay / 1000)
        status = 503 if self.path.startswith("/fail") else 200
        body = b"x" * (1 + delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def exact_quantile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@unittest.skipUnless(os.path.exists(NGINX), "nginx is not installed (Debian: apt-get install nginx-light)")
class NginxTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-nginx-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.backend = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
        threading.Thread(target=self.backend.serve_forever, daemon=True).start()
        self.addCleanup(self.backend.server_close)
        self.addCleanup(self.backend.shutdown)
        self.port = closed_port()
        self.log = os.path.join(self.dir, "access.log")
        config = os.path.join(self.dir, "nginx.conf")
        with open(config, "w") as out:
            out.write(f"""
daemon off;
master_process off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log;
events {{ worker_connections 64; }}
http {{
    log_format monilog '{LOG_FORMAT}';
    access_log {self.log} monilog;
    client_body_temp_path {self.dir}/body; proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi; uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;
    server {{
        listen 127.0.0.1:{self.port};
        server_name a.example b.example;
        location / {{ proxy_pass http://127.0.0.1:{self.backend.server_address[1]}; }}
        location /static/ {{ return 200 "static"; }}
    }}
}}
""")
        self.nginx = subprocess.Popen([NGINX, "-p", self.dir, "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.stop, self.nginx)
        wait_for(self.listening, "nginx to listen", deadline=30)

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()

    def listening(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            connection.request("GET", "/static/ping", headers={"Host": "probe.example"})
            connection.getresponse().read()
            return True
        except OSError:
            return False

    def test_hits_sections_vhosts_and_latency_equal_the_written_log(self) -> None:
        monitoring = subprocess.Popen(
            [script("monitoring"), "--json", "--no-log-file", "--from-start", "--period", "1", "--threshold", "1000",
             "--log-format", LOG_FORMAT, self.log],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.dir, stdin=subprocess.DEVNULL)
        self.addCleanup(self.stop, monitoring)
        objects: List[Dict] = []
        reader = threading.Thread(target=lambda: objects.extend(json.loads(line) for line in monitoring.stdout),  # type: ignore[union-attr]
                                  daemon=True)
        reader.start()

        rng = random.Random(7)
        john = "Basic " + base64.b64encode(b"john doe:x").decode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for number in range(240):
            path = rng.choice(["/api/users?ms={}", "/shop/cart?ms={}", "/fail/now?ms={}", "/static/logo.png"]).format(rng.randint(0, 25))
            headers = {"Host": rng.choice(["a.example", "b.example"])}
            if number % 5 == 0:
                headers["Authorization"] = john
            connection.request("GET", path, headers=headers)
            connection.getresponse().read()
        connection.close()

        def written() -> List[str]:
            with open(self.log) as stream:
                return stream.read().splitlines()

        lines = wait_for(lambda: (lambda found: found if len(found) >= 241 else None)(written()), "nginx to log every request")
        wait_for(lambda: sum(o["hits"] for o in objects if o["type"] == "report") >= len(lines),
                 "monitoring to report every logged request", deadline=60)
        monitoring.send_signal(signal.SIGINT)
        monitoring.wait(30)
        reader.join(10)
        self.assertEqual(monitoring.returncode, 0, monitoring.stderr.read())  # type: ignore[union-attr]
        summary = objects[-1]
        self.assertEqual(summary["type"], "summary")

        fields = [LINE.match(line) for line in lines]
        self.assertTrue(all(fields), [line for line, match in zip(lines, fields) if not match][:3])
        vhosts = Counter(match.group(1) for match in fields if match)
        sections = Counter("/" + match.group(4).split("/")[1].split("?")[0] for match in fields if match)
        durations = [float(match.group(6)) for match in fields if match]
        users = Counter(match.group(2) for match in fields if match and match.group(2) != "-")
        self.assertEqual(users["john doe"], 48)

        self.assertEqual((summary["lines"], summary["parsed"], summary["hits"]), (len(lines),) * 3)
        self.assertEqual({s["section"]: s["hits"] for s in summary["sections"]}, dict(sections.most_common(10)))
        self.assertEqual({v["vhost"]: v["hits"] for v in summary["vhosts"]}, dict(vhosts))
        self.assertEqual({u["user"]: u["hits"] for u in summary["users"]}, dict(users))
        latency = summary["latency"]
        self.assertEqual(latency["count"], len(durations))
        self.assertEqual(latency["max"], max(durations))
        self.assertGreater(max(durations), 0.01, "the backend's delays reach the log")
        for key, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
            exact = exact_quantile(durations, q)
            self.assertLessEqual(abs(latency[key] - exact), 0.01 * exact + 1e-9, (key, latency[key], exact))
        self.assertIn("upstream_latency", summary)


if __name__ == "__main__":
    unittest.main()
