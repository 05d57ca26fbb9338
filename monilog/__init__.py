"""monilog: follow HTTP access logs, report traffic every 10 seconds, alert on high traffic.

The data flows through one package per step::

    watcher (input) → parsing → accumulation (Statistics, Alerter) → presentation → outputs

The core, a parser (:class:`LogParser`, :func:`parse_line`) turning lines into
:class:`LogRecord`, a :class:`Statistics` accumulator and an :class:`Alerter`, is driven by plain
calls with timestamps, so it can be used from any Python code. :class:`Monitor` wires the core
to outputs (:class:`Sink`), :func:`follow` follows live files with a :class:`FileWatcher`,
:func:`replay` reads whole files fast, :class:`LogGenerator` makes traffic.

Names are imported on first use (PEP 562): ``from monilog import Alerter`` loads the alert rule
and nothing else (no terminal library, no threads).
"""

from __future__ import annotations

from monilog.lazy import lazy_names
from monilog.version import __version__

_HOMES: Dict[str, str] = {
    "ALERT": "monilog.accumulation.alerter",
    "RECOVER": "monilog.accumulation.alerter",
    "AlertEvent": "monilog.accumulation.alerter",
    "Alerter": "monilog.accumulation.alerter",
    "AlertState": "monilog.accumulation.report",
    "LiveView": "monilog.accumulation.report",
    "PeriodReport": "monilog.accumulation.report",
    "RunSummary": "monilog.accumulation.report",
    "Counts": "monilog.accumulation.counts",
    "SectionStats": "monilog.accumulation.statistics",
    "Statistics": "monilog.accumulation.statistics",
    "StatsSnapshot": "monilog.accumulation.statistics",
    "Decision": "monilog.accumulation.clock",
    "LogClock": "monilog.accumulation.clock",
    "Batch": "monilog.accumulation.aggregate",
    "LatencySketch": "monilog.accumulation.sketch",
    "Rule": "monilog.accumulation.rules",
    "RuleSet": "monilog.accumulation.rules",
    "RuleSpec": "monilog.accumulation.rules",
    "parse_rule": "monilog.accumulation.rules",
    "Filters": "monilog.parsing.filters",
    "Reading": "monilog.parsing.reading",
    "compile_format": "monilog.parsing.logformat",
    "LogGenerator": "monilog.generator",
    "Monitor": "monilog.monitor",
    "Sink": "monilog.outputs.sink",
    # the parsing names come through monilog.parsing, which knows their homes
    "FORMATS": "monilog.parsing",
    "LogParser": "monilog.parsing",
    "parse_line": "monilog.parsing",
    "SKIP_REASONS": "monilog.parsing",
    "LogRecord": "monilog.parsing",
    "ParseError": "monilog.parsing",
    "section_of": "monilog.parsing",
    "ReplayTuning": "monilog.replayer",
    "replay": "monilog.replayer",
    "follow": "monilog.run",
    "FileWatcher": "monilog.watcher",
    "WatchNotice": "monilog.watcher",
}

__all__ = [
    "ALERT",
    "FORMATS",
    "RECOVER",
    "SKIP_REASONS",
    "AlertEvent",
    "AlertState",
    "Alerter",
    "Batch",
    "Counts",
    "Decision",
    "FileWatcher",
    "Filters",
    "LatencySketch",
    "LiveView",
    "LogClock",
    "LogGenerator",
    "LogParser",
    "LogRecord",
    "Monitor",
    "ParseError",
    "PeriodReport",
    "Reading",
    "ReplayTuning",
    "Rule",
    "RuleSet",
    "RuleSpec",
    "RunSummary",
    "SectionStats",
    "Sink",
    "Statistics",
    "StatsSnapshot",
    "WatchNotice",
    "__version__",
    "compile_format",
    "follow",
    "parse_line",
    "parse_rule",
    "replay",
    "section_of",
]

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Dict

    from monilog.accumulation.aggregate import Batch
    from monilog.accumulation.alerter import ALERT, RECOVER, Alerter, AlertEvent
    from monilog.accumulation.clock import Decision, LogClock
    from monilog.accumulation.counts import Counts
    from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
    from monilog.accumulation.rules import Rule, RuleSet, RuleSpec, parse_rule
    from monilog.accumulation.sketch import LatencySketch
    from monilog.accumulation.statistics import SectionStats, Statistics, StatsSnapshot
    from monilog.generator import LogGenerator
    from monilog.monitor import Monitor
    from monilog.outputs.sink import Sink
    from monilog.parsing.filters import Filters
    from monilog.parsing.formats import FORMATS
    from monilog.parsing.logformat import compile_format
    from monilog.parsing.parser import LogParser, parse_line
    from monilog.parsing.reading import Reading
    from monilog.parsing.record import SKIP_REASONS, LogRecord, ParseError
    from monilog.parsing.section import section_of
    from monilog.replayer import ReplayTuning, replay
    from monilog.run import follow
    from monilog.watcher import FileWatcher, WatchNotice

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__, globals())
