"""``monitoring``: follow access logs, report traffic every period, alert on high traffic.

Exit status (see :mod:`monilog.cli.command`): 0 after a normal end (end of replay, Ctrl-C,
SIGTERM, ``--max-idle``), 2 for bad arguments or an input that cannot be read at start.
Every output is closed at the end, whatever another one raises when closed (a run log on a
full disk): such a failure is one line on standard error, not an error exit.

The monitor, the replayer, the watcher, the outputs, the format compiler and the filters are
imported by the functions that use them, after the arguments are parsed: ``--help``,
``--version`` and a bad argument load none of them and start fast (the help names the formats
from :mod:`monilog.parsing.formats`, plain constants).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from contextlib import contextmanager

try:
    from monilog import accelerator
except ImportError as missing:  # MONILOG_REQUIRE_SPEEDUPS=1 and no build: one line, not a traceback
    sys.exit(f"monitoring: {missing}")
from monilog.cli import demo, integrations
from monilog.cli.command import DEFAULT_FILE, ArgumentParser, UsageError, count, number, run_command
from monilog.parsing.formats import ALIASES, FORMATS, NAMES
from monilog.version import __version__

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    import threading
    from typing import Callable, Iterator, List, Optional, Sequence, Tuple, TypeVar

    from monilog.accumulation.rules import RuleSpec
    from monilog.monitor import Monitor
    from monilog.outputs.sink import Sink
    from monilog.watcher.kafka import KafkaSettings

    T = TypeVar("T")

DASHBOARD_SECONDS = 1.0
"""How often the dashboard gets a new view: once a second, as its figures are per second (and as
GoAccess's terminal dashboard refreshes). Each view is drawn once, and again at the next tick of the
clock (a quarter of a second) when the terminal was resized."""

MAX_WINDOW = 7 * 24 * 3600
"""The longest alert window accepted (a week): the alerter keeps one counter per second."""

MAX_LATENESS = 3600
"""The longest lateness accepted (an hour): the alerter keeps one counter per second of it too."""

PROG = "monitoring"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``monitoring``."""
    parser = ArgumentParser(
        prog=PROG,
        description="Follow HTTP access logs (Common, Combined, W3C Extended), report traffic every "
        "period and alert when the average traffic over the window exceeds the threshold.",
        epilog="Examples: monitoring --file /var/log/nginx/access.log --threshold 10 | "
        "monitoring --replay --json access.log.1 access.log | tail -F access.log | monitoring -",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="log files or glob patterns to follow; - for standard input; "
                        "kafka://HOST:PORT[,HOST:PORT...]/TOPIC for a Kafka topic (needs monilog[kafka])")
    parser.add_argument("-f", "--file", action="append", default=[], metavar="PATH", help=f"a log file to follow (repeatable; default {DEFAULT_FILE})")
    parser.add_argument("-t", "--threshold", type=number("threshold", lambda v: v > 0, "positive"), default=10.0, help="alert when the average requests/s over the window exceeds this (default 10)")
    parser.add_argument("-w", "--window", type=count("window", most=MAX_WINDOW), default=120, help="alert window in seconds (default 120)")
    parser.add_argument("-p", "--period", type=count("period"), default=10, help="report interval in seconds (default 10)")
    parser.add_argument("--lateness", type=count("lateness", least=0, most=MAX_LATENESS), default=0, metavar="SECONDS", help="lines may arrive up to this many seconds behind the newest time seen and still count in their own second and period; alerts and reports come that much later (default 0)")
    parser.add_argument("--top", type=count("top"), default=5, help="sections, clients and codes shown per report (default 5)")
    parser.add_argument("--log-format", "--format", dest="format", type=log_format, default="auto", metavar="FORMAT",
                        help=f"log format: a preset ({', '.join(NAMES)}) or a format string "
                             "copied from nginx's log_format or Apache's LogFormat (default auto: Common, Combined, "
                             "vhost_combined or W3C, detected per file)")
    parser.add_argument("--json-keys", metavar="FIELD=KEY,...", help="for JSON logs: the keys holding fields monilog does not "
                        "recognise by itself (fields: time, host, user, request, method, path, status, size, duration, "
                        "duration_ms, duration_us, duration_ns, upstream, vhost; a.b for nested keys); implies --log-format json")
    rules = parser.add_argument_group("alert rules (beside the traffic rule set by --threshold and --window)")
    rules.add_argument("--alert", action="append", default=[], metavar="RULE",
                       help="an alert rule, repeatable: METRIC [on SECTION] [by client|section] > VALUE [over DURATION] "
                            "[recover below VALUE] [for DURATION] [min N hits], e.g. 'server_errors > 5%% over 5m min 100 hits' "
                            "(grammar in the README)")
    rules.add_argument("--rules", metavar="FILE", help="alert rules from a TOML file of [[rule]] tables with name and alert")
    rules.add_argument("--recover-below", type=number("recover-below", lambda v: v > 0, "positive"), metavar="REQ_PER_S",
                       help="the traffic rule recovers at or below this average (hysteresis; default the threshold)")
    chosen = parser.add_argument_group("filters (applied before counting and alerting; what they leave out is counted as filtered)")
    chosen.add_argument("--since", type=moment, metavar="TIME", help="leave out lines logged before TIME (any date python-dateutil reads, "
                        "a time without zone being the host's; or relative: '2h ago', --since=-30m)")
    chosen.add_argument("--until", type=moment, metavar="TIME", help="leave out lines logged at or after TIME")
    chosen.add_argument("--exclude-client", type=checked(networks), default=(), metavar="CIDR,...", help="leave out requests from these addresses or networks")
    chosen.add_argument("--include-path", metavar="REGEX", help="count only requests whose target this regular expression finds")
    chosen.add_argument("--exclude-path", metavar="REGEX", help="leave out requests whose target this regular expression finds")
    chosen.add_argument("--ignore-status", type=checked(statuses), default=(), metavar="CODES", help="leave out responses with these codes or classes (404,3xx)")
    chosen.add_argument("--exclude-bots", action="store_true", help="leave out well-known crawlers and monitors (by user agent; the list is monilog/parsing/bots.py)")
    vhosts = parser.add_argument_group("clients and virtual hosts")
    vhosts.add_argument("--real-client", choices=("x-forwarded-for",), help="take the client from X-Forwarded-For, skipping "
                        "trusted proxies (needs a format that logs it: $http_x_forwarded_for, %%{X-Forwarded-For}i, JSON)")
    vhosts.add_argument("--trusted-proxies", type=checked(networks), metavar="CIDR,...",
                        help="the proxies --real-client skips (default: loopback and private networks)")
    vhosts.add_argument("--timezone", metavar="ZONE", help="the zone of W3C date-local/time-local fields (Europe/Paris, UTC; default the host's)")
    vhosts.add_argument("--by-vhost", action="store_true", help="count sections per virtual host (shop.example/api)")
    vhosts.add_argument("--vhost-from-filename", action="store_true",
                        help="a file whose format logs no virtual host is named after its file (shop.example.access.log: shop.example)")
    parser.add_argument("--from-start", action="store_true", help="read existing content first instead of only new lines")
    kafka = parser.add_argument_group("Kafka topics (kafka:// inputs)")
    kafka.add_argument("--kafka-group", metavar="ID", help="join this consumer group, sharing the partitions with its other members (default: no group, read every partition)")
    kafka.add_argument("--kafka-option", action="append", default=[], type=checked(kafka_option), metavar="KEY=VALUE", help="a librdkafka setting for every Kafka client, e.g. security.protocol=SASL_SSL (repeatable)")
    parser.add_argument("--max-idle", type=number("max-idle", lambda v: v > 0, "positive"), metavar="SECONDS", help="stop after this long with no new line (default: never)")
    parser.add_argument("--replay", action="store_true", help="read the files (gzip, bzip2 and xz ones too) from the start as fast as possible, log time as the only clock, then print a summary and exit")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--plain", action="store_true", help="plain text even on a terminal")
    output.add_argument("--json", action="store_true", help="JSON lines on standard output (schema in the README)")
    parser.add_argument("--log-dir", default=".", metavar="DIR", help="directory of the timestamped run log (default: current directory)")
    parser.add_argument("--no-log-file", action="store_true", help="do not write a run log")
    parser.add_argument("--bell", action="store_true", help="ring the terminal bell on every alert")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar while --replay reads (shown only when stderr is a terminal)")
    integrations.add_arguments(parser)
    demo.add_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({accelerator.description()})")
    return parser


def _has_magic(path: str) -> bool:
    import glob

    return glob.has_magic(path)


def check_inputs(paths: Sequence[str], replay_mode: bool) -> None:
    """Refuse, before starting, inputs that cannot work: unreadable files, directories, and
    (in a replay) missing files or standard input."""
    from monilog.watcher import glob_matches
    from monilog.watcher.kafka import is_kafka, load_client, parse_url

    for path in paths:
        if is_kafka(path):
            try:
                parse_url(path)
            except ValueError as error:
                raise UsageError(str(error)) from None
            try:
                load_client()
            except ImportError as error:
                raise UsageError(f"{path}: {error}") from None
            continue
        if path == "-":
            if replay_mode:
                raise UsageError("--replay reads files, not standard input")
            continue
        if _has_magic(path):
            if replay_mode and not glob_matches(path, compressed=True):
                raise UsageError(f"no file matches {path}")
            continue
        if os.path.isdir(path):
            raise UsageError(f"{path} is a directory, not a log file")
        if not os.path.exists(path):
            if replay_mode:
                raise UsageError(f"cannot read {path}: no such file")
            continue
        if not stat.S_ISREG(os.stat(path).st_mode):
            # a named pipe: opening it here would block, or break a writer when closed again
            if not os.access(path, os.R_OK):
                raise UsageError(f"cannot read {path}: Permission denied")
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


def replay_files(paths: Sequence[str]) -> List[str]:
    """The files a replay reads: globs expanded (compressed rotations included), each file once
    even when named twice or through a link."""
    from monilog.watcher import glob_matches
    from monilog.watcher.kafka import is_kafka

    files: List[str] = []
    seen = set()
    for path in paths:
        if is_kafka(path):
            files.append(path)
            continue
        for name in glob_matches(path, compressed=True) if _has_magic(path) else [path]:
            status = os.stat(name)
            if (status.st_dev, status.st_ino) not in seen:
                seen.add((status.st_dev, status.st_ino))
                files.append(name)
    return files


def checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argument type from a parser that raises ValueError with a message for people."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def networks(text: str) -> Tuple[str, ...]:
    """An ``--exclude-client`` or ``--trusted-proxies`` value: addresses and networks (the filters
    are imported when the option is given, not to read the command line)."""
    from monilog.parsing.filters import parse_networks

    return parse_networks(text)


def statuses(text: str) -> Tuple[str, ...]:
    """An ``--ignore-status`` value: codes and classes."""
    from monilog.parsing.filters import parse_statuses

    return parse_statuses(text)


_RELATIVE = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def moment(text: str) -> float:
    """A ``--since``/``--until`` time as epoch seconds: a date python-dateutil reads (without a
    zone: the host's), ``now``, or relative to now (``-2h``, ``-30m``, ``-1d``, ``-90s``)."""
    stripped = text.strip().lower()
    if stripped == "now":
        return time.time()
    if stripped.endswith(" ago"):  # "2h ago": the form that needs no "=" on the command line
        stripped = "-" + stripped[:-4].strip()
    if stripped.startswith("-") and stripped[1:-1].isdigit() and stripped[-1] in _RELATIVE:
        return time.time() - int(stripped[1:-1]) * _RELATIVE[stripped[-1]]
    from dateutil import parser as dates
    from dateutil import tz

    try:
        parsed = dates.parse(text)
    except (ValueError, OverflowError) as error:
        raise argparse.ArgumentTypeError(f"cannot read the time {text!r}: {error}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz.tzlocal())
    return parsed.timestamp()


def load_rules(texts: Sequence[str], path: Optional[str], fmt: str) -> Tuple[List["RuleSpec"], List[Tuple[str, str, str]]]:
    """The rules of ``--alert`` and ``--rules FILE``, checked against the format, and the outputs of
    their own (``(rule text, "webhook" or "exec", URL or command)``); UsageError if one is wrong."""
    from monilog.accumulation.rules import RuleError, parse_rule

    named = [("", text) for text in texts]
    outputs: List[Tuple[int, str, str]] = []  # (index in named, kind, value)
    if path is not None:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - the backport has the same interface
            import tomli as tomllib
        try:
            with open(path, "rb") as stream:
                table = tomllib.load(stream)
        except OSError as error:
            raise UsageError(f"cannot read --rules {path}: {error.strerror or error}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise UsageError(f"--rules {path} is not TOML: {error}") from None
        unknown_tables = sorted(set(table) - {"rule"})
        if unknown_tables:
            raise UsageError(f"--rules {path}: unknown key {unknown_tables[0]!r} (rules are [[rule]] tables)")
        entries = table.get("rule", [])
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise UsageError(f"--rules {path}: rules are [[rule]] tables")
        for number, entry in enumerate(entries, 1):
            unknown = set(entry) - {"name", "alert", "webhook", "exec"}
            if unknown or not isinstance(entry.get("alert"), str):
                raise UsageError(f"--rules {path}: rule {number} needs an 'alert' string and takes only 'name', "
                                 f"'alert', 'webhook' and 'exec'{' (not ' + ', '.join(sorted(unknown)) + ')' if unknown else ''}")
            for kind in ("webhook", "exec"):
                values = entry.get(kind, [])
                values = [values] if isinstance(values, str) else values
                if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                    raise UsageError(f"--rules {path}: rule {number}: '{kind}' is a string or a list of strings")
                outputs += [(len(named), kind, value) for value in values]
            name = str(entry.get("name", ""))
            if name and name in (known for known, _ in named):
                raise UsageError(f"--rules {path}: two rules are named {name!r}")
            named.append((name, entry["alert"]))
    specs = []
    for name, text in named:
        try:
            spec = parse_rule(text, name)
        except RuleError as error:
            raise UsageError(str(error)) from None
        if spec.needs_durations and logs_durations(fmt) is False:
            raise UsageError(f"{spec.text}: --log-format {fmt} logs no request durations")
        specs.append(spec)
    return specs, [(specs[index].text, kind, value) for index, kind, value in outputs]


def logs_durations(fmt: str) -> Optional[bool]:
    """Whether lines of ``fmt`` carry request durations; None when only the lines can tell (auto,
    W3C, JSON)."""
    if fmt in ("common", "combined"):
        return False
    if fmt in FORMATS:
        return None
    from monilog.parsing.logformat import compile_format

    kinds = getattr(compile_format(fmt), "kinds", None)
    return None if kinds is None else "duration" in kinds


def kafka_option(text: str) -> Tuple[str, str]:
    """A ``--kafka-option`` value: ``key=value``."""
    from monilog.watcher.kafka import parse_option

    return parse_option(text)


def log_format(text: str) -> str:
    """A ``--log-format`` value, checked: a built-in format, a preset, or a format string that compiles."""
    if text not in FORMATS:
        from monilog.parsing.logformat import FormatError, compile_format

        try:
            compile_format(text)
        except FormatError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``monitoring``; return its exit status."""
    return run_command(PROG, lambda: _main(argv))


def _main(argv: Optional[Sequence[str]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.demo:
        args = demo.arguments(parser, argv)
        with demo.generated_log(args) as log:
            return _monitor(parser, args, log)
    return _monitor(parser, args, None)


def _monitor(parser: argparse.ArgumentParser, args: argparse.Namespace, demo_log: Optional[str]) -> int:
    import threading

    from monilog.parsing.logformat import compile_format

    if args.real_client and (args.format in ("common", "combined", "w3c") or (
            args.format not in FORMATS and "forwarded" not in getattr(compile_format(args.format), "kinds", ["forwarded"]))):
        parser.error(f"--real-client needs a format that logs X-Forwarded-For, not --log-format {args.format}")
    if args.json_keys is not None:
        if ALIASES.get(args.format, args.format) not in ("auto", "json"):
            parser.error(f"--json-keys is for JSON logs, not --log-format {args.format}")
        try:
            args.format = log_format("json:" + args.json_keys) if args.json_keys.strip() else "json"
        except argparse.ArgumentTypeError as error:
            parser.error(str(error))
    from monilog.accumulation.alerter import Alerter
    from monilog.monitor import Monitor
    from monilog.outputs.console import BellSink, JsonSink, TextSink
    from monilog.outputs.runlog import RunLogSink
    from monilog.outputs.sink import close_all
    from monilog.parsing.filters import Filters
    from monilog.parsing.reading import Reading

    paths: List[str] = [demo_log] if demo_log else list(args.file) + list(args.paths) or [DEFAULT_FILE]
    check_inputs(paths, args.replay)
    if args.replay:
        paths = replay_files(paths)
    from monilog.watcher.kafka import KafkaSettings, is_kafka

    if args.kafka_group is not None and not any(is_kafka(path) for path in paths):
        raise UsageError("--kafka-group needs a kafka:// input")
    if args.kafka_option and not (any(is_kafka(path) for path in paths) or args.kafka_events):
        raise UsageError("--kafka-option needs a kafka:// input or --kafka-events")
    kafka = KafkaSettings(args.kafka_group, dict(args.kafka_option))

    try:
        filters = Filters(args.since, args.until, args.exclude_client, args.include_path, args.exclude_path,
                          args.ignore_status, args.exclude_bots)
        reading = Reading(filters, args.real_client is not None, args.trusted_proxies, args.by_vhost, args.vhost_from_filename,
                          args.timezone)
    except ValueError as error:
        raise UsageError(str(error)) from None
    specs, rule_outputs = load_rules(args.alert, args.rules, args.format)
    if args.recover_below is not None and args.recover_below > args.threshold:
        raise UsageError(f"--recover-below {args.recover_below:g} is above the threshold {args.threshold:g}")
    try:
        extra = integrations.build(args, rule_outputs)
    except ValueError as error:
        raise UsageError(str(error)) from None

    use_dashboard = not (args.replay or args.plain or args.json) and sys.stdout.isatty()
    sinks: List[Sink] = []
    if args.json:
        sinks.append(JsonSink(sys.stdout, top=args.top))
    elif not use_dashboard:
        sinks.append(TextSink(sys.stdout, top=args.top))
    if args.bell:
        sinks.append(BellSink(sys.stderr))
    if not args.no_log_file:
        try:
            sinks.append(RunLogSink(args.log_dir, top=args.top))
        except OSError as error:
            close_all(extra.sinks)
            raise UsageError(f"cannot write the run log in {args.log_dir}: {error.strerror or error}") from None
    sinks.extend(extra.sinks)
    bar = None
    if args.replay and not args.quiet and sys.stderr.isatty():
        from monilog.outputs.progress import ProgressBar

        bar = ProgressBar(sys.stderr, shares_screen=sys.stdout.isatty())
        sinks.insert(0, bar)  # off the screen before anything else prints

    if demo_log:
        print(demo.banner(args, demo_log), file=sys.stderr if args.json else sys.stdout, flush=True)
    monitor = Monitor(
        args.threshold, args.window, args.period, fmt=args.format, top=args.top, sinks=sinks,
        files=[demo.label(demo_log)] if demo_log else paths,
        history=extra.history, lateness=args.lateness, reading=reading, rules=specs,
        alerter=Alerter(args.threshold, args.window, lateness=args.lateness, recover_below=args.recover_below),
    )
    extra.start(monitor)
    stop = threading.Event()
    with _signals_set(stop):  # until every sink is closed: a second Ctrl-C cannot leave one open
        try:
            if args.replay:
                from monilog.replayer import replay  # (its worker pool, multiprocessing, only when replaying)

                replay(monitor, paths, stop=stop, progress=bar.update if bar else None, kafka=kafka)
            else:
                _run_follow(monitor, paths, args, use_dashboard, stop, kafka)
        finally:
            close_all(sinks)
    return 0


def _run_follow(monitor: Monitor, paths: Sequence[str], args: argparse.Namespace, use_dashboard: bool,
                stop: threading.Event, kafka: KafkaSettings) -> None:
    from monilog.outputs.console import TextSink
    from monilog.run import follow

    if use_dashboard:
        from monilog.presentation.dashboard import Dashboard

        dashboard = Dashboard()
        shown = [0.0]

        def refresh() -> None:  # a new view each DASHBOARD_SECONDS, not each tick; a resize at once
            now = time.monotonic()
            if now - shown[0] >= DASHBOARD_SECONDS:
                shown[0] = now
                dashboard.update(monitor.view())
            else:
                dashboard.redraw_if_resized()

        dashboard.start()
        try:
            summary = follow(
                monitor, paths, from_start=args.from_start, max_idle=args.max_idle, stop=stop, on_tick=refresh,
                kafka=kafka,
            )
        finally:
            dashboard.stop()
        TextSink(sys.stdout, top=args.top).summary(summary)
    else:
        follow(monitor, paths, from_start=args.from_start, max_idle=args.max_idle, stop=stop, kafka=kafka)


@contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """While inside, Ctrl-C, SIGTERM and SIGHUP (a closed terminal) set ``stop``: the run ends
    between two steps, never in the middle of one, and still gives its summary."""
    import signal

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
