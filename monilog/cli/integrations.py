"""The ops-integration options of ``monitoring``: webhooks, exec hooks, apprise, Prometheus, alert file.

:func:`add_arguments` declares them (one argument group); :func:`build` turns parsed arguments
into outputs, checking everything before starting anything that listens or runs in the
background. A problem (a bad URL, a missing optional package, a port in use, an unreadable
alert file) is a :class:`ValueError` with a one-line message, which ``monitoring`` turns into
exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, List, NamedTuple, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.outputs.sink import Sink


class Integrations(NamedTuple):
    """What :func:`build` made from the command line."""

    sinks: Tuple[Sink, ...]
    history: Tuple[AlertEvent, ...]
    """Alert events of earlier runs, read from the alert file."""
    notices: Tuple[Tuple[str, str], ...]
    """``(message, kind)`` pairs for the monitor to pass on once it runs."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the integration options on ``parser``."""
    group = parser.add_argument_group("integrations", "send alerts elsewhere and export metrics")
    group.add_argument("--webhook", action="append", default=[], metavar="URL",
                       help="POST every alert and recovery as JSON to this URL (repeatable)")
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


def build(args: argparse.Namespace) -> Integrations:
    """The outputs the integration options ask for.

    :raises ValueError: an option that cannot work, with a one-line reason.
    """
    from monilog.outputs.alertfile import AlertFileSink, describe_history, read_alert_file
    from monilog.outputs.execute import ExecSink
    from monilog.outputs.webhook import check_url

    # check first, so nothing starts when an option cannot work
    for url in args.webhook:
        _check("--webhook", check_url, url)
    address = None
    if args.prometheus is not None:
        from monilog.outputs.prometheus import load_prometheus_client, parse_listen_address

        _check("--prometheus", load_prometheus_client)
        address = _check("--prometheus", parse_listen_address, args.prometheus)
    if args.notify:
        from monilog.outputs.notify import load_apprise

        _check("--notify", load_apprise)

    history: Tuple[AlertEvent, ...] = ()
    notices: List[Tuple[str, str]] = []
    if args.alert_file is not None:
        found = _check(f"--alert-file {args.alert_file}", read_alert_file, args.alert_file)
        history = found.events
        message = describe_history(args.alert_file, found)
        if message:
            notices.append((message, "alert-file"))

    sinks: List[Sink] = []
    try:
        if args.alert_file is not None:
            sinks.append(_check(f"--alert-file {args.alert_file}", AlertFileSink, args.alert_file))
        for command in args.exec_commands:
            sinks.append(_check("--exec", ExecSink, command))
        if args.webhook:
            from monilog.outputs.webhook import WebhookSink

            sinks.append(WebhookSink(args.webhook))
        if args.notify:
            from monilog.outputs.notify import NotifySink

            sinks.append(_check("--notify", NotifySink, args.notify))
        if address is not None:
            from monilog.outputs.prometheus import PrometheusSink

            host, port = address
            exporter = _check(f"--prometheus {args.prometheus}", PrometheusSink, host, port)
            sinks.append(exporter)
            bound_host, bound_port = exporter.address
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            notices.append((f"Prometheus metrics on http://{shown}:{bound_port}/metrics", "prometheus"))
    except ValueError:
        for sink in sinks:
            sink.close()
        raise
    return Integrations(tuple(sinks), history, tuple(notices))


def _check(option: str, function: Callable[..., Any], *arguments: Any) -> Any:
    """``function(*arguments)``, its failure turned into a one-line :class:`ValueError` naming ``option``."""
    try:
        return function(*arguments)
    except (ValueError, ImportError) as error:
        raise ValueError(f"{option}: {error}") from None
    except OSError as error:
        raise ValueError(f"{option}: {error.strerror or error}") from None

