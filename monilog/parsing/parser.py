"""Turn access-log lines into :class:`LogRecord`, one source at a time.

A :class:`LogParser` holds what a source has told it so far: the W3C ``#Fields:``
layout (which may change mid-file), the ``#Date:`` date, and in ``auto`` mode
whether the source turned out to be W3C. Use one parser per file.

Formats (:data:`FORMATS`):

- ``common`` — NCSA Common; anything after the size is ignored.
- ``combined`` — NCSA Combined; referer and user agent are required.
- ``w3c`` — W3C Extended (IIS); data lines before a ``#Fields:`` directive are
  rejected with ``no #Fields directive``.
- ``auto`` (default) — W3C once a ``#Fields:``, ``#Software:`` or ``#Version:``
  directive has been seen before any Common/Combined record (or :attr:`LogParser.fields`
  was set); ``vhost_combined`` when the first line that is not blank or ``#`` starts with
  ``name:port`` (:data:`~monilog.parsing.logformat.VHOST_SIGN`); ``json`` when it is ``{"...}``; else Common with an optional
  Combined tail. Once a Common/Combined record has been parsed, ``#`` lines are comments: a
  stray directive cannot switch a CLF log to W3C.
- a preset name or a format string (:mod:`monilog.parsing.logformat`), compiled once.

Line handling common to all formats: bytes are decoded as UTF-8 with invalid
sequences replaced (the line still parses and counts); the line ending (``\\r``,
``\\n``) is stripped; a line longer than ``max_line_length`` — bytes for bytes input,
characters for text, not counting the line ending — is rejected with
``line too long`` before any other work. Blank lines and lines starting with ``#``
return ``None``; a ``#Fields:`` directive without any field name is rejected with
``bad #Fields directive`` and leaves the parser without a layout, so the lines that
follow are rejected rather than read with the wrong one.

The details of each format are in :mod:`monilog.parsing.clf` and
:mod:`monilog.parsing.w3c`, the section rule in :mod:`monilog.parsing.section`.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Tuple, Union

from monilog.parsing.clf import CLF_AUTO, COMBINED, COMMON, parse_clf
from monilog.parsing.columns import LineFormat
from monilog.parsing.formats import FORMATS as FORMATS
from monilog.parsing.logformat import VHOST_SIGN, compile_format
from monilog.parsing.reading import Reading
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.w3c import W3CLayout, parse_w3c

DEFAULT_READING = Reading()
_JSON_SIGN = re.compile(rb'^\s*\{\s*".*\}\s*$')
"""A JSON object per line (``{"...}``, spaces allowed), how ``auto`` tells JSON logs."""

MAX_LINE_LENGTH = 64 * 1024
"""Default cap on a line's length; longer lines are skipped as ``line too long``."""

_CLF_PATTERNS = {"auto": CLF_AUTO, "common": COMMON, "combined": COMBINED}
_W3C_MARKERS = ("fields", "software", "version")


class LogParser:
    """A stateful parser for the lines of one log source.

    ``fmt`` is one of :data:`FORMATS`; ``max_line_length`` caps the accepted line
    length. Not thread-safe: give each thread or source its own parser.
    """

    def __init__(self, fmt: str = "auto", max_line_length: int = MAX_LINE_LENGTH, reading: Reading = DEFAULT_READING,
                 source: str = "") -> None:
        self.reading = reading
        """How the block parser reads its columns beyond the format (filters, real clients, vhosts:
        :mod:`monilog.parsing.reading`); :meth:`parse` reads single lines and applies none."""
        self.source = source
        """The name of the source (a vhost may be named after its file)."""
        self.compiled: Optional[LineFormat] = None
        """The compiled format lines are read with, if any (a preset, a format string, or the
        ``vhost_combined`` that ``auto`` detected)."""
        if fmt not in FORMATS:
            self.compiled = compile_format(fmt)  # FormatError (a ValueError) says why not
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be positive, got {max_line_length!r}")
        self.fmt = fmt
        self.max_line_length = max_line_length
        self._clf_pattern = _CLF_PATTERNS.get(fmt)
        self._w3c = fmt == "w3c"
        self._layout: Optional[W3CLayout] = None
        self._date = "-"
        self.clf_seen = False
        """Whether a Common/Combined record was read (then ``#`` lines are comments). The block
        parser, which reads most such records without this parser, sets it too."""

    @property
    def fields(self) -> Optional[Tuple[str, ...]]:
        """The W3C field names in force, or None before any ``#Fields:`` directive.

        Settable, e.g. by a caller that starts following a W3C file at its end: to a
        sequence of names, a space-separated string of names, a whole ``#Fields:``
        line, or None. Setting it in ``auto`` mode switches the parser to W3C.
        """
        return None if self._layout is None else self._layout.names

    @fields.setter
    def fields(self, value: Union[str, Iterable[str], None]) -> None:
        if value is None:
            self._layout = None
            return
        if isinstance(value, str):
            text = value.strip()
            directive, colon, rest = text.partition(":")
            if colon and directive.lower() == "#fields":
                text = rest
            names = tuple(text.split())
        else:
            names = tuple(value)
        if not names:
            raise ValueError("a W3C field list needs at least one field name")
        self._layout = W3CLayout(names, self.reading.local_zone)
        if self.fmt == "auto":
            self._w3c = True

    @property
    def detected(self) -> str:
        """The format lines are currently read as: ``common``, ``combined``, ``w3c``, or
        ``clf`` (Common with an optional Combined tail, ``auto`` before any W3C sign)."""
        if self._w3c:
            return "w3c"
        if self.compiled is not None:
            return self.compiled.name
        return "clf" if self.fmt == "auto" else self.fmt

    @property
    def undecided(self) -> bool:
        """Whether ``auto`` mode has yet to tell this source's format (no record, no W3C sign)."""
        return self.fmt == "auto" and not self.clf_seen and not self._w3c and self.compiled is None

    def detect(self, line: bytes) -> None:
        """In ``auto`` mode, before anything decided the format, let a first record line decide it
        (``vhost_combined`` has a sign of its own; W3C is told by its directives)."""
        if self.undecided:
            if VHOST_SIGN.match(line):
                self.compiled = compile_format("vhost_combined")
            elif _JSON_SIGN.match(line):
                self.compiled = compile_format("json")

    def parse(self, line: Union[str, bytes]) -> Optional[LogRecord]:
        """Parse one line; None for a blank line or a ``#`` directive or comment.

        Raises ParseError with a reason from ``SKIP_REASONS`` for a line that is not a
        valid record.
        """
        if self.compiled is not None or self.undecided:
            data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
            self.detect(data)
            if self.compiled is not None:
                return self.compiled.record(data, self.max_line_length)
        if isinstance(line, bytes):
            line = line.rstrip(b"\r\n")
            if len(line) > self.max_line_length:
                raise ParseError("line too long", line[:200].decode("utf-8", "replace"))
            line = line.decode("utf-8", "replace")
        else:
            line = line.rstrip("\r\n")
            if len(line) > self.max_line_length:
                raise ParseError("line too long", line)
        if not line or line.isspace():
            return None
        if line[0] == "#":
            self._directive(line)
            return None
        if self._w3c:
            if self._layout is None:
                raise ParseError("no #Fields directive", line)
            return parse_w3c(line, self._layout, self._date)
        assert self._clf_pattern is not None  # every format but w3c has one
        record = parse_clf(line, self._clf_pattern)
        self.clf_seen = True
        return record

    def _directive(self, line: str) -> None:
        """Take in a ``#`` line: W3C directives update the state, other comments are ignored."""
        if self.clf_seen:
            return  # a Common/Combined log: '#' lines are comments
        name, colon, value = line[1:].partition(":")
        name = name.strip().lower()
        if not colon or name not in _W3C_MARKERS + ("date",):
            return
        if name == "date":
            self._date = (value.split() or ["-"])[0]
            return
        if name == "fields":
            try:
                self.fields = value
            except ValueError:
                self._layout = None
                raise ParseError("bad #Fields directive", line) from None
        if self.fmt == "auto":
            self._w3c = True


def parse_line(line: Union[str, bytes], fmt: str = "auto") -> LogRecord:
    """Parse a single line on its own (a W3C line cannot be: it needs its ``#Fields:``).

    Raises ParseError for a bad line, and also for a line that holds no record
    (reasons ``blank line`` and ``directive``).
    """
    record = LogParser(fmt).parse(line)
    if record is None:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        raise ParseError("blank line" if not text.strip() else "directive", text)
    return record
