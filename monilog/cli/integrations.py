"""The ops-integration options of ``monitoring``: webhooks, exec hooks, apprise, Prometheus, alert file.

:func:`add_arguments` declares them (one argument group); :func:`build` turns parsed arguments
into outputs, checking everything before starting anything that listens or runs in the
background. A problem (a bad URL, a missing optional package, a port in use, an unreadable
alert file) is a :class:`ValueError` with a one-line message, which ``monitoring`` turns into
exit status 2.

Failed deliveries (a webhook down, a hook failing...) are reported as monitor notices of kind
``integration`` while the run goes on: they appear in the text or JSON output and the run log,
are counted in the summary, and never disturb the dashboard. Before the monitor runs and after
its summary (what is still undelivered at exit), they go to standard error. A failure reported
while the summary is being written may follow it.
"""

from __future__ import annotations

import argparse
import os

from monilog.cli.command import number
from monilog.outputs.sink import OneRule, Sink, close_all
from monilog.outputs.webhooktimes import MAX_TIMEOUT, TIMEOUT

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Sequence, Tuple

    from monilog.accumulation.alerter import AlertEvent
    from monilog.accumulation.report import RunSummary
    from monilog.monitor import Monitor

PROBLEM_KIND = "integration"
"""The notice kind of failed deliveries."""


class ProblemRouter(Sink):
    """Passes one-line problem reports to a running monitor as notices, else to standard error.

    It is a sink itself, to learn when the monitor's summary is written.
    """

    def __init__(self) -> None:
        self.monitor: Optional[Monitor] = None

    def __call__(self, message: str) -> None:
        monitor = self.monitor
        if monitor is None:
            from monilog.outputs.worker import report_problem

            report_problem(message)
        else:
            monitor.notice(message, kind=PROBLEM_KIND)

    def summary(self, summary: RunSummary) -> None:
        self.monitor = None  # the outputs are about to close: say the rest on standard error


class Integrations:
    """What :func:`build` made from the command line: outputs, earlier alerts, notices to give."""

    def __init__(self, sinks: List[Sink], history: Tuple[AlertEvent, ...], notices: List[Tuple[str, str]],
                 router: ProblemRouter, watching: Sequence[Any] = ()) -> None:
        self.sinks: Tuple[Sink, ...] = (router, *sinks)
        self._watching = watching  # sinks that read the monitor itself (the web page, the HTML report)
        self.history = history
        """Alert events of earlier runs, read from the alert file."""
        self._notices = notices
        self._router = router

    def start(self, monitor: Monitor) -> None:
        """Hand the start-up notices to ``monitor`` and report problems through it from now on."""
        for message, kind in self._notices:
            monitor.notice(message, kind=kind)
        self._router.monitor = monitor
        for sink in self._watching:
            sink.start(monitor)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the integration options on ``parser``."""
    group = parser.add_argument_group("integrations", "send alerts elsewhere and export metrics")
    group.add_argument("--webhook", action="append", default=[], metavar="URL",
                       help="POST every alert and recovery as JSON to this URL (repeatable)")
    group.add_argument("--webhook-timeout", metavar="SECONDS",
                       type=number("webhook-timeout", lambda v: 0 < v <= MAX_TIMEOUT, f"positive and at most {MAX_TIMEOUT:g}"),
                       help=f"seconds to wait for a webhook's answer before trying again (default {TIMEOUT:g}; "
                       "a late answer still counts)")
    group.add_argument("--exec", action="append", default=[], metavar="CMD", dest="exec_commands",
                       help="run CMD (no shell) for every alert and recovery, the event as JSON on stdin "
                       "and in MONILOG_* environment variables (repeatable)")
    group.add_argument("--notify", action="append", default=[], metavar="URL",
                       help="send alerts and recoveries to an apprise URL: mail, chat, SMS... "
                       "(repeatable; needs monilog[notify])")
    group.add_argument("--prometheus", metavar="[HOST:]PORT",
                       help="serve Prometheus metrics on /metrics (default host 127.0.0.1; needs monilog[prometheus])")
    group.add_argument("--alert-file", metavar="PATH",
                       help="append alerts and recoveries to this JSON-lines file and show its history at start")
    web = parser.add_argument_group("web page and HTML report")
    web.add_argument("--web", metavar="[HOST:]PORT",
                     help="serve a live page on http://HOST:PORT/ (default host 127.0.0.1), its data on /api/view "
                     "and /api/events (README: web page)")
    web.add_argument("--web-token", metavar="TOKEN",
                     help="require TOKEN (Authorization: Bearer, or ?token= once) for every request to --web; "
                     "needed to bind to an address other machines reach")
    web.add_argument("--html", metavar="FILE",
                     help="at the end of the run (a replay's end, Ctrl-C...), write a self-contained HTML report to FILE")
    group.add_argument("--kafka-events", metavar="kafka://HOST:PORT/TOPIC",
                       help="publish every alert and recovery as JSON to this Kafka topic (needs monilog[kafka]; "
                       "--kafka-option settings apply)")
    group.add_argument("--kafka-reports", action="store_true", help="with --kafka-events: publish every report too")


def build(args: argparse.Namespace, rule_outputs: Sequence[Tuple[str, str, str]] = ()) -> Integrations:
    """The outputs the integration options ask for, and the webhooks and commands of single rules
    (``(rule text, "webhook" or "exec", URL or command)``, from ``--rules`` files).

    :raises ValueError: an option that cannot work, with a one-line reason.
    """
    # Each output's module is imported only when its option is given (--help, --version, a bad
    # argument and a plain replay load none of them: http.client alone costs a replay 10 ms).
    webhooks = bool(args.webhook) or any(kind == "webhook" for _, kind, _ in rule_outputs)
    commands = bool(args.exec_commands) or any(kind == "exec" for _, kind, _ in rule_outputs)
    if webhooks:
        from monilog.outputs.webhook import WebhookSink, check_url
    if commands:
        from monilog.outputs.execute import ExecSink, parse_command

    # check first, so nothing starts when an option cannot work
    for url in args.webhook:
        _check("--webhook", check_url, url)
    if args.webhook_timeout is not None and not args.webhook:
        raise ValueError("--webhook-timeout: needs --webhook")
    for command in args.exec_commands:
        _check("--exec", parse_command, command)
    for rule, kind, value in rule_outputs:
        _check(f"--rules ({rule}): {kind}", check_url if kind == "webhook" else parse_command, value)
    address = None
    if args.prometheus is not None:
        from monilog.outputs.prometheus import PrometheusSink, load_prometheus_client, parse_listen_address

        _check("--prometheus", load_prometheus_client)
        address = _check("--prometheus", parse_listen_address, args.prometheus)
    if args.notify:
        from monilog.outputs.notify import NotifySink, load_apprise

        _check("--notify", load_apprise)
    if args.kafka_reports and args.kafka_events is None:
        raise ValueError("--kafka-reports: needs --kafka-events")
    if args.kafka_events is not None:
        from monilog.watcher.kafka import load_client, parse_url

        _check("--kafka-events", parse_url, args.kafka_events)
        _check("--kafka-events", load_client)

    web_address = _check_web(args)

    history: Tuple[AlertEvent, ...] = ()
    notices: List[Tuple[str, str]] = []
    if args.alert_file is not None:
        from monilog.outputs.alertfile import AlertFileSink, describe_history, read_alert_file

        found = _check(f"--alert-file {args.alert_file}", read_alert_file, args.alert_file)
        history = found.events
        message = describe_history(args.alert_file, found)
        if message:
            notices.append((message, "alert-file"))

    router = ProblemRouter()
    sinks: List[Sink] = []
    try:
        if args.alert_file is not None:
            sinks.append(_check(f"--alert-file {args.alert_file}", AlertFileSink, args.alert_file, router))
        for command in args.exec_commands:
            sinks.append(_check("--exec", ExecSink, command, on_problem=router))
        if args.webhook:
            sinks.append(WebhookSink(args.webhook, timeout=args.webhook_timeout or TIMEOUT, on_problem=router))
        for rule, kind, value in rule_outputs:  # a rule's own outputs get that rule's events only
            own: Sink = (WebhookSink([value], timeout=args.webhook_timeout or TIMEOUT, on_problem=router) if kind == "webhook"
                         else _check(f"--rules ({rule}): exec", ExecSink, value, on_problem=router))
            sinks.append(OneRule(own, rule))
        if args.notify:
            sinks.append(_check("--notify", NotifySink, args.notify, on_problem=router))
        if args.kafka_events is not None:
            from monilog.outputs.kafka import KafkaSink
            from monilog.watcher.kafka import KafkaSettings

            sinks.append(KafkaSink(args.kafka_events, KafkaSettings(options=dict(args.kafka_option)),
                                   reports=args.kafka_reports, top=args.top, on_problem=router))
        if address is not None:
            host, port = address
            exporter = _check(f"--prometheus {args.prometheus}", PrometheusSink, host, port)
            sinks.append(exporter)
            bound_host, bound_port = exporter.address
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            notices.append((f"Prometheus metrics on http://{shown}:{bound_port}/metrics", "prometheus"))
        watching: List[Any] = []
        if args.html is not None:
            from monilog.web.static import HtmlReportSink

            watching.append(HtmlReportSink(args.html, router))
        if web_address is not None:
            from monilog.web.live import WebSink

            page = _check(f"--web {args.web}", WebSink, *web_address, token=args.web_token, top=args.top)
            watching.append(page)
            bound_host, bound_port = page.address
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            notices.append((f"live page on http://{shown}:{bound_port}/" + (" (with --web-token)" if args.web_token else ""), "web"))
        sinks.extend(watching)
    except ValueError:
        close_all(sinks)
        raise
    return Integrations(sinks, history, notices, router, watching)


def _check_web(args: argparse.Namespace) -> Optional[Tuple[str, int]]:
    """``--web``'s address, once it and ``--web-token`` and ``--html`` are known to work."""
    if args.html is not None:
        folder = os.path.dirname(os.path.abspath(args.html))
        if os.path.isdir(args.html) or not os.access(folder, os.W_OK):
            raise ValueError(f"--html {args.html}: cannot write a file there")
    if args.web is None:
        if args.web_token is not None:
            raise ValueError("--web-token: needs --web")
        return None
    from monilog.outputs.prometheus import parse_listen_address
    from monilog.web.server import check_token, needs_token

    if args.web_token is not None:
        _check("--web-token", check_token, args.web_token)
    address: Tuple[str, int] = _check("--web", parse_listen_address, args.web)
    refusal = needs_token(address[0], args.web_token)
    if refusal:
        raise ValueError(refusal)
    return address


def _check(option: str, function: Callable[..., Any], *arguments: Any, **keywords: Any) -> Any:
    """``function(*arguments, **keywords)``, its failure turned into a one-line :class:`ValueError` naming ``option``."""
    try:
        return function(*arguments, **keywords)
    except (ValueError, ImportError) as error:
        raise ValueError(f"{option}: {error}") from None
    except OSError as error:
        raise ValueError(f"{option}: {error.strerror or error}") from None

