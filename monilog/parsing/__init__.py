"""Access-log lines to :class:`LogRecord`: Common, Combined and W3C Extended formats."""

from __future__ import annotations

from monilog.parsing.parser import FORMATS, MAX_LINE_LENGTH, LogParser, parse_line
from monilog.parsing.record import SKIP_REASONS, LogRecord, ParseError
from monilog.parsing.section import section_of

__all__ = [
    "FORMATS",
    "MAX_LINE_LENGTH",
    "SKIP_REASONS",
    "LogParser",
    "LogRecord",
    "ParseError",
    "parse_line",
    "section_of",
]
