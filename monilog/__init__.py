"""monilog: follow HTTP access logs, report traffic every 10 seconds, alert on high traffic.

The data flows through one package per step::

    watcher (input) → parsing → accumulation (Statistics, Alerter) → presentation → outputs

The core, a parser (:class:`LogParser`, :func:`parse_line`) turning lines into
:class:`LogRecord`, a :class:`Statistics` accumulator and an :class:`Alerter`, is driven by plain
calls with timestamps, so it can be used from any Python code. :class:`Monitor` wires the core
to outputs, :class:`FileWatcher` follows live files, :class:`LogGenerator` makes traffic.
"""

__version__ = "0.2.0"

from monilog.accumulation.alerter import AlertEvent, Alerter
from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
from monilog.accumulation.statistics import SectionStats, Statistics, StatsSnapshot
from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.parsing.parser import FORMATS, LogParser, parse_line
from monilog.parsing.record import SKIP_REASONS, LogRecord, ParseError
from monilog.parsing.section import section_of
from monilog.watcher import FileWatcher, WatchNotice

__all__ = [
    "FORMATS",
    "SKIP_REASONS",
    "AlertEvent",
    "AlertState",
    "Alerter",
    "FileWatcher",
    "LiveView",
    "LogGenerator",
    "LogParser",
    "LogRecord",
    "Monitor",
    "ParseError",
    "PeriodReport",
    "RunSummary",
    "SectionStats",
    "Statistics",
    "StatsSnapshot",
    "WatchNotice",
    "__version__",
    "parse_line",
    "section_of",
]
