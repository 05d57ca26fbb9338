"""Access-log lines to :class:`LogRecord`: Common, Combined and W3C Extended formats.

Names are imported from their modules on first use (PEP 562), so that reading
:data:`~monilog.parsing.formats.FORMATS` does not load the parser and its patterns.
"""

from __future__ import annotations

from monilog.lazy import lazy_names

_HOMES: Dict[str, str] = {
    "FORMATS": "monilog.parsing.formats",
    "MAX_LINE_LENGTH": "monilog.parsing.parser",
    "LogParser": "monilog.parsing.parser",
    "parse_line": "monilog.parsing.parser",
    "SKIP_REASONS": "monilog.parsing.record",
    "LogRecord": "monilog.parsing.record",
    "ParseError": "monilog.parsing.record",
    "section_of": "monilog.parsing.section",
}

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

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Dict

    from monilog.parsing.formats import FORMATS
    from monilog.parsing.parser import MAX_LINE_LENGTH, LogParser, parse_line
    from monilog.parsing.record import SKIP_REASONS, LogRecord, ParseError
    from monilog.parsing.section import section_of

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__, globals())
