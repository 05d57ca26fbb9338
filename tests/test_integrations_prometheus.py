"""The Prometheus exporter: scraped over loopback HTTP, and by a real Prometheus server applying the shipped rules."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

from monilog.accumulation.sketch import ALPHA
from monilog.accumulation.statistics import Statistics, StatsSnapshot
from monilog.monitor import Monitor
from monilog.outputs.prometheus import (
    DURATION_BUCKETS,
    MAX_SECTIONS,
    OTHER_SECTION,
    PrometheusSink,
    parse_listen_address,
)
from tests.presentation_samples import record, report
from tests.support import DEADLINE, T0, Recorder, assert_missing_extra_refused, closed_port, line, script, wait_for

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None

NO_CLIENT = "prometheus-client is not installed (pip install 'monilog[prometheus]')"

RULES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "contrib", "prometheus",
                     "monilog.rules.yml")

Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def exposition(port: int) -> str:
    """The text of ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=DEADLINE) as response:
        return response.read().decode("utf-8")


def scrape(port: int) -> Samples:
    """Every sample of ``/metrics``: ``(name, sorted labels) -> value``."""
    text = exposition(port)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def by_label(samples: Samples, name: str, label: str) -> Dict[str, float]:
    return {dict(labels)[label]: value for (sample, labels), value in samples.items() if sample == name}


class ListenAddressTest(unittest.TestCase):
    def test_forms(self) -> None:
        self.assertEqual(parse_listen_address("9108"), ("127.0.0.1", 9108))
        self.assertEqual(parse_listen_address("0.0.0.0:9108"), ("0.0.0.0", 9108))
        self.assertEqual(parse_listen_address(":9108"), ("0.0.0.0", 9108))
        self.assertEqual(parse_listen_address("[::1]:9108"), ("::1", 9108))
        self.assertEqual(parse_listen_address("localhost:0"), ("localhost", 0))
        for bad in ("", "host", "host:", "9108x", "70000", "::1:9108", "127.0.0.1:-1"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                parse_listen_address(bad)


class MissingExtraTest(unittest.TestCase):
    def test_without_prometheus_client_the_option_is_a_one_line_error(self) -> None:
        assert_missing_extra_refused(self, "prometheus_client", "prometheus", "--prometheus", "0")


@unittest.skipIf(text_string_to_metric_families is None, NO_CLIENT)
class ExporterTest(unittest.TestCase):
    def exporter(self, **options: int) -> PrometheusSink:
        sink = PrometheusSink("127.0.0.1", 0, **options)
        self.addCleanup(sink.close)
        return sink

    def test_metrics_after_a_replay_like_feed(self) -> None:
        # Period 1 ([T0, T0+10)): 25 sections, section i with 30 - i hits (so the 20 busiest get a
        # label) and a 404 on every fifth hit of /s0; 3 unparsable lines. Period 2: 60 hits of
        # a new section, which arrives when every label is taken.
        exporter = self.exporter()
        recorder = Recorder()
        monitor = Monitor(5, 10, 10, sinks=[recorder, exporter])
        hits = {f"/s{i}": 30 - i for i in range(25)}
        lines = [line(T0 + timedelta(seconds=n % 10), f"{section}/x", status=404 if section == "/s0" and n % 5 == 0
                      else 200, size=100) for section, count in hits.items() for n in range(count)]
        lines.sort(key=lambda text: text.split("[")[1])
        lines += ["garbage\n", "more garbage\n", "\n"]
        lines += [line(T0 + timedelta(seconds=10 + n % 10), "/late/x", size=100) for n in range(60)]
        lines.sort(key=lambda text: text.split("[")[1] if "[" in text else "")
        monitor.feed("access.log", lines)
        summary = monitor.finish()

        samples = scrape(exporter.address[1])
        requests = by_label(samples, "monilog_requests_total", "section")
        kept = {section: count for section, count in hits.items() if int(section[2:]) < MAX_SECTIONS}
        other = sum(hits.values()) - sum(kept.values()) + 60
        self.assertEqual(requests, {**kept, OTHER_SECTION: other})
        self.assertEqual(by_label(samples, "monilog_request_errors_total", "section"), {"/s0": 6})
        self.assertEqual(by_label(samples, "monilog_responses_total", "status_class"),
                         {"1xx": 0, "2xx": sum(hits.values()) + 60 - 6, "3xx": 0, "4xx": 6, "5xx": 0})
        self.assertEqual(samples[("monilog_response_bytes_total", ())], 100 * (sum(hits.values()) + 60))
        skipped = by_label(samples, "monilog_skipped_lines_total", "reason")
        self.assertEqual(sum(skipped.values()), summary.stats.skipped_total)
        self.assertEqual(skipped, dict(summary.stats.skipped))
        self.assertGreater(sum(skipped.values()), 0)

        alerts = [event for event in recorder.events if event.kind == "alert"]
        self.assertEqual(samples[("monilog_alerts_total", ())], len(alerts))
        self.assertGreaterEqual(len(alerts), 1)
        state = monitor.alert_state()
        self.assertEqual(samples[("monilog_alerting", ())], 1.0 if state.alerting else 0.0)
        self.assertEqual(samples[("monilog_window_average_requests_per_second", ())], state.average)
        self.assertEqual(samples[("monilog_alert_threshold_requests_per_second", ())], 5.0)
        self.assertEqual(samples[("monilog_alert_window_seconds", ())], 10.0)

    def test_gauges_follow_alert_events_between_reports(self) -> None:
        exporter = self.exporter()
        recorder = Recorder()
        monitor = Monitor(2, 10, 3600, sinks=[recorder, exporter])  # no report for an hour
        monitor.feed("access.log", [line(T0 + timedelta(seconds=n // 3)) for n in range(30)])
        self.assertEqual([event.kind for event in recorder.events], ["alert"])
        samples = scrape(exporter.address[1])
        self.assertEqual(samples[("monilog_alerting", ())], 1.0)
        self.assertEqual(samples[("monilog_alerts_total", ())], 1.0)
        self.assertEqual(samples[("monilog_window_average_requests_per_second", ())], recorder.events[0].average)

    def test_undecodable_section_is_still_a_valid_label(self) -> None:
        exporter = self.exporter()
        monitor = Monitor(100, 10, 10, sinks=[exporter])
        raw = line(T0, "/caf\xe9\udcff/x").encode("utf-8", "surrogateescape")
        monitor.feed("access.log", [raw, line(T0 + timedelta(seconds=20)).encode()])
        requests = by_label(scrape(exporter.address[1]), "monilog_requests_total", "section")
        self.assertEqual(sum(requests.values()), 1)  # the second line's period is not over yet

    @staticmethod
    def period(durations: Sequence[float], upstream: Sequence[float] = ()) -> StatsSnapshot:
        """A period's figures: one request per duration, the first ones with an upstream time."""
        stats = Statistics()
        for index, duration in enumerate(durations):
            stats.add(record(f"/s{index % 30}/x")._replace(
                duration=duration, upstream=upstream[index] if index < len(upstream) else None))
        return stats.snapshot()

    @staticmethod
    def durations(rng: random.Random, count: int) -> List[float]:
        """ms-rounded durations, none within 1% of a bucket bound: each counts on its own side of every bound."""
        values = (round(rng.lognormvariate(-3.0, 1.5), 3) for _ in range(count * 2))
        return [value for value in values if all(abs(value - bound) > 2 * ALPHA * bound for bound in DURATION_BUCKETS)
                ][:count]

    def assert_histogram(self, samples: Samples, name: str, values: Sequence[float]) -> None:
        buckets = by_label(samples, f"{name}_bucket", "le")
        self.assertEqual(buckets, {**{str(bound): sum(value <= bound for value in values) for bound in DURATION_BUCKETS},
                                   "+Inf": len(values)})
        self.assertEqual(samples[(f"{name}_count", ())], len(values))
        self.assertEqual(samples[(f"{name}_sum", ())], float(sum(map(Fraction, values))))  # the exact sum, rounded once

    def test_duration_histograms_from_the_reports_sketches(self) -> None:
        exporter = self.exporter()
        rng = random.Random(3)
        periods = [self.durations(rng, count) for count in (4000, 2500, 1)]
        upstream = [self.durations(rng, min(1000, len(durations))) for durations in periods]
        for durations, times in zip(periods, upstream):
            exporter.report(report(self.period(durations, times)))
        requests = [value for durations in periods for value in durations]
        period_totals = sum(float(sum(map(Fraction, durations))) for durations in periods)
        self.assertNotEqual(period_totals, float(sum(map(Fraction, requests))))  # adding the periods' sums is not enough
        samples = scrape(exporter.address[1])
        self.assert_histogram(samples, "monilog_request_duration_seconds", requests)
        self.assertGreater(len(set(by_label(samples, "monilog_request_duration_seconds_bucket", "le").values())), 8)
        upstream_times = [value for times in upstream for value in times]
        self.assert_histogram(samples, "monilog_upstream_duration_seconds", upstream_times)
        types = {family.name: family.type for family in text_string_to_metric_families(exposition(exporter.address[1]))}
        self.assertEqual(types["monilog_request_duration_seconds"], "histogram")
        self.assertEqual(types["monilog_upstream_duration_seconds"], "histogram")

    def test_no_duration_histogram_without_durations(self) -> None:
        exporter = self.exporter()
        exporter.report(report(self.period([])))
        stats = Statistics()
        stats.add(record("/a/b"))
        exporter.report(report(stats.snapshot()))
        text = exposition(exporter.address[1])
        self.assertIn("monilog_requests_total", text)
        self.assertNotIn("duration", text)
        exporter.report(report(self.period([0.2])))  # durations, but no upstream times
        text = exposition(exporter.address[1])
        self.assertIn("monilog_request_duration_seconds_count 1.0", text)
        self.assertNotIn("upstream", text)

    def test_port_in_use_is_an_error_at_start(self) -> None:
        exporter = self.exporter()
        with self.assertRaises(OSError):
            PrometheusSink("127.0.0.1", exporter.address[1])

    def test_close_stops_listening(self) -> None:
        exporter = PrometheusSink("127.0.0.1", 0)
        port = exporter.address[1]
        exporter.close()
        with self.assertRaises(OSError):
            scrape(port)


def prometheus_binary() -> Optional[str]:
    return shutil.which("prometheus")


@unittest.skipIf(text_string_to_metric_families is None, NO_CLIENT)
@unittest.skipIf(prometheus_binary() is None,
                 "the prometheus server is not installed (Debian package: prometheus)")
class PrometheusServerTest(unittest.TestCase):
    """A real Prometheus scrapes a running ``monitoring`` and fires the shipped alert rule."""

    THRESHOLD = 5
    RATE = 40
    """Lines per second the writer appends: well above the threshold."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="monilog-prometheus-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def start(self, args: List[str], name: str) -> Tuple[subprocess.Popen, str]:
        output = os.path.join(self.dir, f"{name}.out")
        with open(output, "wb") as handle:
            process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=self.dir)
        self.addCleanup(self.stop, process)
        return process, output

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def templated_rules(self) -> str:
        with open(RULES, encoding="utf-8") as handle:
            rules = handle.read()
        # the shipped rule is written for the defaults: a 2 minute window, 10 req/s
        self.assertIn("rate(monilog_requests_total[2m])", rules)
        self.assertIn("job:monilog_requests:rate2m > 10\n", rules)
        rules = rules.replace("[2m]", "[10s]").replace("rate2m > 10\n", f"rate2m > {self.THRESHOLD}\n")
        path = os.path.join(self.dir, "monilog.rules.yml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(rules)
        return path

    def write_traffic(self, path: str, stop: threading.Event) -> None:
        """Append :attr:`RATE` lines per second stamped with the current time, until ``stop``."""
        written = 0
        started = time.monotonic()
        with open(path, "a", encoding="utf-8") as handle:
            while not stop.wait(0.05):
                due = int((time.monotonic() - started) * self.RATE)
                now = datetime.now(timezone.utc).replace(microsecond=0)
                handle.writelines(line(now, f"/s{n % 3}/page") for n in range(written, due))
                handle.flush()
                written = due

    def test_rule_fires_on_generated_traffic(self) -> None:
        log = os.path.join(self.dir, "access.log")
        open(log, "w").close()
        monitoring, monitoring_output = self.start(
            [script("monitoring"), "--file", log, "--plain", "--no-log-file", "--threshold", str(self.THRESHOLD),
             "--window", "10", "--period", "1", "--prometheus", "127.0.0.1:0"], "monitoring")

        def metrics_url() -> Optional[str]:
            with open(monitoring_output, encoding="utf-8", errors="replace") as handle:
                for text in handle:
                    if "Prometheus metrics on http://" in text:
                        return text.split("http://", 1)[1].split("/metrics")[0]
            self.assertIsNone(monitoring.poll(), "monitoring exited early")
            return None

        target = wait_for(metrics_url, "monitoring to serve its metrics")

        stop_writer = threading.Event()
        writer = threading.Thread(target=self.write_traffic, args=(log, stop_writer), daemon=True)
        writer.start()
        self.addCleanup(writer.join, DEADLINE)
        self.addCleanup(stop_writer.set)

        port = closed_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                f"rule_files:\n  - {json.dumps(self.templated_rules())}\n"
                f"scrape_configs:\n  - job_name: monilog\n    static_configs:\n"
                f"      - targets: [{json.dumps(target)}]\n"
            )
        prometheus, prometheus_output = self.start(
            [prometheus_binary(), f"--config.file={config}", f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{port}"], "prometheus")

        def firing() -> Optional[dict]:
            self.assertIsNone(prometheus.poll(), "prometheus exited: " + open(prometheus_output).read()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5) as response:
                    alerts = json.load(response)["data"]["alerts"]
            except OSError:  # not listening yet
                return None
            return next((alert for alert in alerts if alert["labels"].get("alertname") == "MonilogHighTraffic"
                         and alert["state"] == "firing"), None)

        alert = wait_for(firing, "the MonilogHighTraffic rule to fire", deadline=90, step=0.5)
        self.assertEqual(alert["labels"]["job"], "monilog")
        self.assertGreater(float(alert["value"]), self.THRESHOLD)
        query = urllib.parse.urlencode({"query": "sum(monilog_alerting) == 1"})

        def monilog_alerting() -> list:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query?{query}", timeout=5) as response:
                return json.load(response)["data"]["result"]

        wait_for(monilog_alerting, "monilog's own alert, as scraped", deadline=30, step=0.5)

        stop_writer.set()
        monitoring.send_signal(signal.SIGINT)
        self.assertEqual(monitoring.wait(DEADLINE), 0)
        with open(monitoring_output, encoding="utf-8") as handle:
            self.assertIn("High traffic generated an alert", handle.read())


if __name__ == "__main__":
    unittest.main()
