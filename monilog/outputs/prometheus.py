"""Prometheus exporter (``--prometheus [HOST:]PORT``): serves ``/metrics`` for a Prometheus server to scrape.

prometheus-client is an optional dependency: ``pip install 'monilog[prometheus]'``. The metrics
live in a private registry (not the library's global one), so several monitors in one process
and the host program's own metrics never collide.

Metrics (counters only ever grow; they are updated once per report period, gauges also on
every alert event)::

    monilog_requests_total{section}           requests, by section
    monilog_request_errors_total{section}     4xx and 5xx responses, by section
    monilog_responses_total{status_class}     responses by status class: 1xx ... 5xx, other
    monilog_response_bytes_total              bytes sent in responses
    monilog_skipped_lines_total{reason}       lines skipped as unparsable, by reason
    monilog_window_average_requests_per_second  the alert window's average, as last evaluated
    monilog_alert_threshold_requests_per_second the alert threshold
    monilog_alert_window_seconds              the alert window
    monilog_alerting                          1 while the high-traffic alert is on, else 0
    monilog_alerts_total                      high-traffic alerts raised
    monilog_alert_active{rule,key}            1 while a rule of --alert/--rules is alerting (key: a ``by``
                                              rule's client or section, "" otherwise; bounded like sections)
    monilog_rule_alerts_total{rule}           alerts raised by each such rule
    monilog_request_duration_seconds          histogram of request durations, when the log format has them
    monilog_upstream_duration_seconds         histogram of upstream response times, when the format has them

Decisions:

* Cardinality. A log line can name any section, and every label value is a time series kept by
  Prometheus. The section label takes at most :data:`MAX_SECTIONS` values (20) besides
  ``other``: the first sections seen, taken from each report most hits first (so the busy
  sections of the first periods, normally the site's main sections), keep a label of their own
  for the life of the process; every other section counts under ``section="other"``. A label
  never moves to ``other`` later, which would make its counter go backwards. Sections the
  statistics folded beyond their own cap count as ``other`` too. (A section literally named
  ``other``, from a garbage request target, shares that series.)
* The status class is a label of its own counter: reports carry each section's hits and errors,
  not its status classes, so ``requests{section, status_class}`` cannot be derived exactly.
* ``monilog_requests_total`` summed over hosts and rated over the alert window is the built-in
  alert's figure: ``contrib/prometheus/monilog.rules.yml`` alerts on it for a whole fleet.
* Durations. The histograms appear with the first report holding durations (nothing is
  exposed for a format without them) and have the fixed buckets :data:`DURATION_BUCKETS`
  (prometheus_client's defaults, less 0.075, 0.75 and 7.5), so their size never depends on the log.
  Reports carry latency sketches, not the durations: each period adds its sketch's
  :meth:`~monilog.accumulation.sketch.LatencySketch.count_at_most` of every bound to the bucket
  counters kept here, so a bucket counts exactly the durations at most its bound, except
  durations within 0.5 % of the bound, which may count on either side. ``_count`` and ``_sum``
  are exact: every period's sketch is merged into one kept per histogram, whose count and sum are
  exact (the sum correctly rounded). The bucket counts are not read from that merged sketch: they
  would go backwards when its buckets collapse.
* No section label on the histograms. Each label value costs 14 series (12 buckets, ``_sum``,
  ``_count``): 21 labels would be 294 series a host, 14 times the requests counter. And it could
  not be exact: sketches are kept for at most 100 sections a period, and ``other`` cannot be
  derived (a sketch cannot be subtracted from the overall one), so the section series would not
  add up to the total that ``histogram_quantile`` over ``sum by (le)`` needs. Per-section p95s
  are in the dashboard and the JSON reports.
* The listening address defaults to ``127.0.0.1``; ``:PORT`` or ``0.0.0.0:PORT`` listens on
  every interface, ``[::1]:PORT`` on IPv6. Port 0 picks a free port (see
  :attr:`PrometheusSink.address`).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Dict, List, Optional, Set, Tuple

from monilog.accumulation.alerter import ALERT, AlertEvent
from monilog.accumulation.report import AlertState, PeriodReport
from monilog.accumulation.sketch import LatencySketch
from monilog.accumulation.status import STATUS_CLASSES
from monilog.outputs.optional import optional_module
from monilog.outputs.sink import Sink

MAX_SECTIONS = 20
"""Sections with a label value of their own; the others count as ``other``."""

OTHER_SECTION = "other"

DEFAULT_HOST = "127.0.0.1"

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Upper bounds (seconds) of the duration histograms' buckets, besides ``+Inf``."""

REQUEST_DURATION = ("monilog_request_duration_seconds", "Request durations as the server logged them")
UPSTREAM_DURATION = ("monilog_upstream_duration_seconds",
                     "Upstream response times as the server logged them, summed over a request's tries")


def load_prometheus_client() -> Any:
    """The prometheus_client module; :class:`ImportError` with the install command when it is missing."""
    return optional_module("prometheus_client", "prometheus-client", "prometheus")


def parse_listen_address(text: str) -> Tuple[str, int]:
    """``PORT``, ``HOST:PORT``, ``:PORT`` (every interface) or ``[IPv6]:PORT`` as ``(host, port)``.

    :raises ValueError: no valid port.
    """
    host, colon, port_text = text.strip().rpartition(":")
    if not colon:
        host = DEFAULT_HOST
    elif not host:
        host = "0.0.0.0"
    elif host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets: [{host}]:{port_text}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"not a [HOST:]PORT address: {text!r}")
    return host, int(port_text)


def _label(value: str) -> str:
    """A label value Prometheus can take: UTF-8 (undecodable log bytes become ``\\x..`` escapes)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


class _Histogram:
    """A duration histogram's cumulative figures, fed one report period's sketch at a time."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.buckets = [0] * len(DURATION_BUCKETS)
        """Durations at most each bound, summed over the periods."""
        self.durations = LatencySketch()
        """Every period's sketch merged: the exact count and sum."""

    def add(self, sketch: LatencySketch) -> None:
        for index, bound in enumerate(DURATION_BUCKETS):
            self.buckets[index] += sketch.count_at_most(bound)
        self.durations.merge(sketch)


class _DurationCollector:
    """Serves the duration histograms from counts set here (a custom collector: the
    client's Histogram only takes single observations)."""

    def __init__(self, family: Any) -> None:
        self._family = family  # prometheus_client's HistogramMetricFamily
        self._lock = threading.Lock()  # reports come from the monitor's thread, scrapes from the server's
        self._histograms: Dict[str, _Histogram] = {}  # by name, made with their first durations

    def add(self, metric: Tuple[str, str], sketch: LatencySketch) -> None:
        name, documentation = metric
        with self._lock:
            histogram = self._histograms.get(name)
            if histogram is None:
                histogram = self._histograms[name] = _Histogram(name, documentation)
            histogram.add(sketch)

    def collect(self) -> List[Any]:
        with self._lock:
            return [self._family(
                histogram.name, histogram.documentation,
                buckets=[*zip(map(str, DURATION_BUCKETS), histogram.buckets), ("+Inf", histogram.durations.count)],
                sum_value=histogram.durations.total,
            ) for histogram in self._histograms.values()]


class PrometheusSink(Sink):
    """Keeps Prometheus metrics from reports and alert events, served over HTTP on ``host:port``.

    :param host: address to listen on (:data:`DEFAULT_HOST` for loopback only)
    :param port: TCP port; 0 picks a free one.
    :param max_sections: sections with a label value of their own.
    :raises ImportError: prometheus-client is not installed.
    :raises OSError: the address cannot be listened on (port in use...).
    """

    def __init__(self, host: str, port: int, *, max_sections: int = MAX_SECTIONS) -> None:
        client = load_prometheus_client()
        self.max_sections = max_sections
        self.registry = registry = client.CollectorRegistry(auto_describe=True)
        counter, gauge = client.Counter, client.Gauge
        self.requests = counter("monilog_requests", "Requests, by section", ["section"], registry=registry)
        self.errors = counter("monilog_request_errors", "Responses with a 4xx or 5xx status, by section",
                              ["section"], registry=registry)
        self.responses = counter("monilog_responses", "Responses by status class", ["status_class"], registry=registry)
        self.bytes = counter("monilog_response_bytes", "Bytes sent in responses", registry=registry)
        self.skipped = counter("monilog_skipped_lines", "Lines skipped as unparsable, by reason", ["reason"],
                               registry=registry)
        self.window_average = gauge("monilog_window_average_requests_per_second",
                                    "Average requests per second over the alert window, as last evaluated",
                                    registry=registry)
        self.threshold = gauge("monilog_alert_threshold_requests_per_second", "The alert threshold", registry=registry)
        self.window = gauge("monilog_alert_window_seconds", "The alert window", registry=registry)
        self.alerting = gauge("monilog_alerting", "1 while the high-traffic alert is on, else 0", registry=registry)
        self.alerts = counter("monilog_alerts", "High-traffic alerts raised", registry=registry)
        self.rule_active = gauge("monilog_alert_active", "1 while the rule is alerting (for its key)", ["rule", "key"],
                                 registry=registry)
        self.rule_alerts = counter("monilog_rule_alerts", "Alerts raised by the rule", ["rule"], registry=registry)
        self._rule_keys: Dict[str, Set[str]] = {}  # rule -> keys with a label of their own
        self._other_active: Dict[str, Set[str]] = {}  # rule -> alerting keys counted under "other"
        for status_class in STATUS_CLASSES:
            self.responses.labels(status_class)
        self.durations = _DurationCollector(importlib.import_module("prometheus_client.core").HistogramMetricFamily)
        registry.register(self.durations)
        self._sections: Set[str] = set()
        self._server, self._thread = client.start_http_server(port, addr=host, registry=registry)
        self.address: Tuple[str, int] = (self._server.server_address[0], self._server.server_port)
        """The host and port actually listened on."""

    def _section_label(self, section: str) -> str:
        if section in self._sections:
            return section
        if len(self._sections) < self.max_sections:
            self._sections.add(section)
            return section
        return OTHER_SECTION

    def _set_state(self, alert: AlertState) -> None:
        self.window_average.set(alert.average)
        self.threshold.set(alert.threshold)
        self.window.set(alert.window)
        self.alerting.set(1 if alert.alerting else 0)

    def report(self, report: PeriodReport) -> None:
        stats = report.stats
        for section, figures, _ in stats.top_sections():
            label = _label(self._section_label(section))
            if figures.hits:
                self.requests.labels(label).inc(figures.hits)
            if figures.errors:
                self.errors.labels(label).inc(figures.errors)
        folded = stats.folded_sections
        if folded.hits:
            self.requests.labels(OTHER_SECTION).inc(folded.hits)
        if folded.errors:
            self.errors.labels(OTHER_SECTION).inc(folded.errors)
        for status_class, hits in stats.status_classes.items():
            if hits:
                self.responses.labels(status_class).inc(hits)
        if stats.bytes_total:
            self.bytes.inc(stats.bytes_total)
        for reason, count in stats.skipped.items():
            self.skipped.labels(_label(reason)).inc(count)
        if stats.latency:
            self.durations.add(REQUEST_DURATION, stats.latency)
        if stats.upstream_latency:
            self.durations.add(UPSTREAM_DURATION, stats.upstream_latency)
        self._set_state(report.alert)

    def _rule_event(self, event: AlertEvent) -> None:
        """A rule's alert or recovery: its key keeps a label of its own for the first
        :attr:`max_sections` keys of the rule, the others share ``key="other"`` (1 while any is alerting)."""
        rule, key = _label(event.rule), _label(event.key or "")
        if event.kind == ALERT:
            self.rule_alerts.labels(rule).inc()
        keys = self._rule_keys.setdefault(rule, set())
        if key in keys or len(keys) < self.max_sections:
            keys.add(key)
            self.rule_active.labels(rule, key).set(1 if event.kind == ALERT else 0)
            return
        others = self._other_active.setdefault(rule, set())
        (others.add if event.kind == ALERT else others.discard)(key)
        self.rule_active.labels(rule, OTHER_SECTION).set(1 if others else 0)

    def event(self, event: AlertEvent) -> None:
        if event.rule:
            self._rule_event(event)
            return
        if event.kind == ALERT:
            self.alerts.inc()
        self._set_state(AlertState(event.kind == ALERT, event.hits, event.average, event.threshold, event.window))

    def close(self) -> None:
        server: Optional[Any] = self._server
        if server is not None:
            self._server = None
            server.shutdown()
            server.server_close()
            self._thread.join(5.0)
