"""``log_generator``: write realistic access-log traffic following a timeline of rates.

``log_generator --rates 9 11 8 --durations 150 150 150`` writes 9 requests/s for 150 s, then
11/s, then 8/s, live, to ``/tmp/access.log``. The traffic model and timeline are described in
:mod:`monilog.generator`.

Defaults: ``--rates 9 11 8`` (which crosses ``monitoring``'s default threshold of 10 req/s on
a 2-minute average, then falls back), 150 s per step when ``--durations`` is omitted, Combined
format, append to the file, a random seed (printed, so a run can be repeated), start now.
``--start`` takes anything dateutil understands (a naive time is local time) or epoch
seconds; without ``--no-sleep`` it offsets the log clock from the wall clock (a server with a
skewed clock) while lines are still written in real time.

Messages go to standard error (``--quiet`` silences them), so ``--file -`` can stream the log
on standard output. Exit status: 0 when the timeline is written or on Ctrl-C / SIGTERM (no
traceback), 2 for bad arguments or a file that cannot be opened (one line on stderr), 1 for a
write error during the run.

The generator, dateutil and the alert rule's duration formatting are imported where they are
used, so ``--help``, ``--version`` and a bad argument start fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager

from monilog.cli.command import DEFAULT_FILE, ArgumentParser, UsageError, count, number, run_command
from monilog.generator.choices import DEFAULT_KEEP, WRITTEN_FORMATS
from monilog.version import __version__

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Callable, Iterator, Optional, Sequence

PROG = "log_generator"
DEFAULT_RATES = (9.0, 11.0, 8.0)
DEFAULT_STEP_SECONDS = 150.0


def parse_time(text: str) -> float:
    """Epoch seconds of ``text``: epoch seconds themselves, or a time dateutil understands
    (a time without UTC offset is local time)."""
    from dateutil import parser as dateparser  # here: only --start needs it, and it is slow to import

    from monilog.generator.generator import epoch_of

    try:
        return float(text) if text.replace(".", "", 1).isdigit() else epoch_of(dateparser.parse(text))  # type: ignore[return-value]
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"cannot understand the time {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``log_generator``."""
    parser = ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write realistic HTTP access-log traffic: step i runs at RATES[i] requests/s for\n"
        "DURATIONS[i] seconds, live or (--no-sleep) all at once. Arrivals are random (Poisson)\n"
        "with exactly round(rate x duration) lines per step; times carry the local UTC offset.",
        epilog="examples:\n"
        "  log_generator --rates 9 11 8 --durations 150 150 150\n"
        "  log_generator --no-sleep --start '2024-05-01 12:00' --rates 1000 --durations 1000 \\\n"
        "      --seed 1 --file big.log\n"
        "  log_generator --file - --rates 5 --durations 60 | monitoring -",
    )
    parser.add_argument("--rates", nargs="+", type=number("rates", lambda v: v >= 0, ">= 0"),
                        default=list(DEFAULT_RATES), metavar="RATE",
                        help="requests per second of each step, 0 for silence (default 9 11 8)")
    parser.add_argument("--durations", nargs="+", type=number("durations", lambda v: v > 0, "> 0"),
                        metavar="SECONDS", help="seconds of each step, one per rate "
                        f"(default {DEFAULT_STEP_SECONDS:g} each)")
    parser.add_argument("-f", "--file", default=DEFAULT_FILE, metavar="PATH",
                        help=f"log file to write, - for standard output (default {DEFAULT_FILE})")
    parser.add_argument("--kafka", metavar="kafka://HOST:PORT/TOPIC",
                        help="send the lines to this Kafka topic instead of a file, one message per line (needs monilog[kafka])")
    parser.add_argument("--format", choices=WRITTEN_FORMATS, default="combined",
                        help="log format (default combined; w3c files start with their #Fields header)")
    parser.add_argument("--seed", type=int, help="random seed: same seed and arguments, same output (default: random)")
    parser.add_argument("--no-sleep", action="store_true",
                        help="write the whole timeline at once instead of in real time")
    parser.add_argument("--start", type=parse_time, metavar="TIME",
                        help="log time at which the timeline starts, e.g. '2024-05-01 12:00:00+02:00' "
                        "or epoch seconds; naive times are local (default: now); without "
                        "--no-sleep, lines still come in real time with a shifted clock")
    parser.add_argument("--rotate-every", type=count("--rotate-every"), metavar="N",
                        help="rotate like logrotate (FILE -> FILE.1 -> FILE.2 ...) after every N lines")
    parser.add_argument("--keep", type=count("--keep"), default=DEFAULT_KEEP, metavar="N",
                        help=f"rotated files kept (default {DEFAULT_KEEP})")
    parser.add_argument("--sections", type=count("--sections"), default=10, metavar="N",
                        help="distinct sections such as /api or /blog (default 10)")
    parser.add_argument("--paths", type=count("--paths"), default=20, metavar="N",
                        help="distinct paths per section (default 20)")
    parser.add_argument("--clients", type=count("--clients"), default=300, metavar="N",
                        help="distinct client addresses (default 300)")
    parser.add_argument("--error-rate", type=number("--error-rate", lambda v: 0 <= v <= 1, "between 0 and 1"),
                        default=0.05, metavar="F", help="fraction of responses with status >= 400 (default 0.05)")
    parser.add_argument("--torn", action="store_true",
                        help="write each line in two writes 50 ms apart, to test log followers")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--append", dest="append", action="store_true", default=True,
                      help="add to an existing file (default)")
    mode.add_argument("--truncate", dest="append", action="store_false", help="empty the file first")
    parser.add_argument("-q", "--quiet", action="store_true", help="no messages on standard error")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``log_generator``; return its exit status."""
    return run_command(PROG, lambda: _main(argv))


def _main(argv: Optional[Sequence[str]]) -> int:
    args = build_parser().parse_args(argv)
    from monilog.accumulation.alerter import format_duration
    from monilog.generator.generator import LogGenerator

    durations = args.durations or [DEFAULT_STEP_SECONDS] * len(args.rates)
    if len(durations) != len(args.rates):
        raise UsageError(f"--rates and --durations need as many values each "
                         f"({len(args.rates)} rates, {len(durations)} durations)")
    if args.rotate_every and args.file == "-":
        raise UsageError("--rotate-every needs a file, not standard output")
    target = args.file
    if args.kafka is not None:
        from monilog.watcher.kafka import load_client, parse_url

        if args.rotate_every or args.format == "w3c":
            raise UsageError("--kafka sends one message per line: no --rotate-every, no w3c (its header is per file)")
        try:
            parse_url(args.kafka)
            load_client()
        except (ValueError, ImportError) as error:
            raise UsageError(f"--kafka: {error}") from None
        target = args.kafka
    try:
        generator = LogGenerator(args.rates, durations, fmt=args.format, seed=args.seed, start=args.start,
                                 sections=args.sections, paths=args.paths, clients=args.clients,
                                 error_rate=args.error_rate)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if target == args.file and args.file != "-":
        _check_writable(args.file)

    say: Callable[[str], None] = (lambda _: None) if args.quiet else (lambda text: print(f"{PROG}: {text}", file=sys.stderr, flush=True))
    steps = ", ".join(f"{rate:g}/s for {format_duration(duration)}" for rate, duration in zip(generator.rates, generator.durations))
    say(f"writing {generator.fmt} lines to {'standard output' if target == '-' else target}"
        f"{'' if args.no_sleep else ' in real time'}: {steps} "
        f"({generator.total_lines} lines over {format_duration(generator.total_duration)}, seed {generator.seed})")
    began = time.perf_counter()
    with _sigterm_as_interrupt():
        written = generator.write(target, realtime=not args.no_sleep, append=args.append,
                                  rotate_every=args.rotate_every, keep=args.keep, torn=args.torn)
    elapsed = time.perf_counter() - began
    speed = f" in {elapsed:.2f} s ({written / elapsed:,.0f} lines/s)" if args.no_sleep and elapsed > 0 else ""
    say(f"wrote {written} lines{speed}")
    return 0


def _check_writable(path: str) -> None:
    """Create ``path`` if needed (so followers can open it at once), or raise :class:`UsageError`."""
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a log file")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
    except OSError as error:
        raise UsageError(f"cannot open {path}: {error.strerror or error}") from None


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM stops the run like Ctrl-C (when running in the main thread)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
