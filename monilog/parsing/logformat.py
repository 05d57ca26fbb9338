"""The format compiler: a server's log format, as its configuration writes it, to one anchored regex.

``--log-format`` takes a preset name (:data:`~monilog.parsing.formats.PRESETS`) or a format string copied from the
server's configuration, in either syntax:

* nginx ``log_format``: ``$remote_addr - $remote_user [$time_local] "$request" $status ...``
  (``${name}`` too; the quotes of the configuration file may be kept, several quoted pieces are
  joined as nginx joins them);
* Apache ``LogFormat``: ``%h %l %u %t \\"%r\\" %>s %b ...`` (``\\"`` as the configuration writes
  it, status-code conditions like ``%400,501{User-agent}i`` and ``<``/``>`` modifiers accepted).

:func:`compile_format` turns it into a :class:`LogFormat`: one regex, anchored at both ends of a
line, whose groups capture just the fields monilog counts (:attr:`LogFormat.kinds`); every other
variable is skipped over. The same regex reads a block of lines at once (``findall``, as the
built-in Common/Combined block parser does) and a single line (:meth:`LogFormat.record`), so
replaying and following a custom format cost about what the built-in formats cost, and the
line-by-line and block results are the same by construction. With the C accelerator, the
pattern servers' lines match (:attr:`LogFormat.single_pattern`) also runs as a program of the
C's scan, which gives the regex's columns or leaves the block to it (:mod:`monilog.parsing.pieces`).

Why in-house: no library compiles both syntaxes to a matcher that yields columns (GoAccess and
lnav have their own, in C and C++); the grammar is small and it is the product's core.

Field rules
-----------
* A field between two ``"`` of the format is a quoted string: backslash escapes (``\\"``) are
  honoured, the value is kept as logged.
* The user (``$remote_user``, ``%u``) may contain spaces: it runs up to the literal text that
  follows it in the format (``john doe`` before `` [``).
* Numbers are digits (status: three, from 100); ``-`` is accepted where servers write it
  (sizes, durations). The first field of a kind is used, later ones are skipped (``%b`` and
  ``%O`` together: the first counts).
* A field followed by a tab runs to the next tab, spaces included (tab-separated logs, such as
  CloudFront's, have no other separator); any other field stops at a space too.
* A client address followed by ``:`` (an ``ip:port`` field: ``$remote_addr:$remote_port``) runs
  to the field's last ``:``, so an IPv6 address keeps its colons.
* Durations are kept in seconds: ``$request_time`` and ``%T`` (seconds; ``%{ms}T``, ``%{us}T``),
  ``%D`` (microseconds); ``-`` and ``-1`` are "not logged". ``$upstream_response_time`` may be a
  list (``0.001, 0.002`` for tries, ``0.001 : 0.002`` across groups) or ``-``; its values are
  added.
* Times: ``$time_local``/``%t`` (CLF), ``$time_iso8601``, ``$msec``, Apache ``%{sec}t``,
  ``%{msec}t``, ``%{usec}t`` and ``%{strftime format}t`` (a time without a UTC offset is UTC).
* A format ending in a separator and ``...`` (``"$http_user_agent" ...``) also reads lines with
  more fields after its last one: vendors append fields to their logs over the years (AWS says to
  ignore the ones you do not expect).
* A line that does not match the format is skipped as ``malformed``, counted like any skip.

monilog's own variables
-----------------------
For the presets of load balancers, written in nginx syntax with AWS's field names:

* ``$request_processing_time $target_processing_time $response_processing_time`` (seconds;
  ``$backend_processing_time`` is the Classic ELB's name for the target's): consecutive, they are
  one duration, their sum (the time from the request reaching the load balancer to the response
  leaving it; "not logged" when any is ``-1``), and the target's time is the upstream time.
* ``$absolute_request``: a request line whose target is an absolute URL (``GET
  https://shop.example:443/cart HTTP/1.1``, as load balancers and proxies log it); the URL's host,
  without its port, is the virtual host (none when the target is not absolute).

A format string that cannot compile (no time, no status, no request; an unknown ``%`` directive;
an unclosed ``{``) raises :class:`FormatError` with one line saying why.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from functools import lru_cache
from itertools import repeat
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from monilog.accelerator import speedups
from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES, split_request
from monilog.parsing.columns import LineFormat, ParsedBlock, count_lines, has_hash_line, has_long_line, rows_of
from monilog.parsing.formats import ALIASES as ALIASES
from monilog.parsing.formats import NAMES
from monilog.parsing.formats import PRESETS as PRESETS
from monilog.parsing.jsonlog import json_format
from monilog.parsing.pieces import (
    END,
    EPOCH,
    NUMBER,
    PART,
    QUOTED,
    SECONDS,
    SKIP_QUOTED,
    STAMPS,
    STATUS,
    UPSTREAM,
    Columns,
    Outputs,
    joined,
    scan_program,
    scan_single,
    uncaptured,
)
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import Moment, clf_timestamp, epoch_timestamp, iso_timestamp, strftime_parser


class FormatError(ValueError):
    """A format string that cannot be compiled; the message says why in one line."""


_NGINX_FIELDS: Dict[str, Tuple[str, str]] = {
    # variable: (kind, detail)
    "remote_addr": ("host", ""), "realip_remote_addr": ("host", ""), "binary_remote_addr": ("skip", ""),
    "remote_user": ("user", ""),
    "time_local": ("stamp", "clf"), "time_iso8601": ("stamp", "iso8601"), "msec": ("stamp", "epoch:1"),
    "request": ("request", ""), "request_method": ("method", ""),
    "request_uri": ("target", ""), "uri": ("target", ""), "document_uri": ("target", ""),
    "status": ("status", ""), "body_bytes_sent": ("size", ""), "bytes_sent": ("size", ""),
    "request_time": ("duration", "1"), "upstream_response_time": ("upstream", "1"),
    "host": ("vhost", ""), "server_name": ("vhost", ""), "http_host": ("vhost", ""),
    "http_user_agent": ("agent", ""), "http_x_forwarded_for": ("forwarded", ""),
    # monilog's own, for the presets
    "request_processing_time": ("duration_part", ""), "response_processing_time": ("duration_part", ""),
    "target_processing_time": ("duration_part", "upstream"), "backend_processing_time": ("duration_part", "upstream"),
    "absolute_request": ("request", "absolute"),
}

_APACHE_FIELDS: Dict[str, Tuple[str, str]] = {
    "h": ("host", ""), "a": ("host", ""), "u": ("user", ""), "t": ("stamp", "clf-brackets"),
    "r": ("request", ""), "m": ("method", ""), "U": ("target", ""), "s": ("status", ""),
    "b": ("size", ""), "B": ("size", ""), "O": ("size", ""),
    "D": ("duration", "0.000001"), "T": ("duration", "1"), "v": ("vhost", ""), "V": ("vhost", ""),
}
_APACHE_SKIPPED = set("AefHiIklLnopPqRSXCoxy") | {"^ti", "^to"}
_APACHE_HEADERS = {"host": ("vhost", ""), "user-agent": ("agent", ""), "x-forwarded-for": ("forwarded", "")}
_T_UNITS = {"": "1", "s": "1", "ms": "0.001", "us": "0.000001"}
_TIME_KINDS = {"sec": "epoch:1", "msec": "epoch:1000", "usec": "epoch:1000000"}

_TYPED = ("stamp", "status", "size", "duration", "upstream", "duration_part")
"""Kinds whose regex admits only what their decoder reads, quoted or not."""
_URL_HOST = rb'(?=(?:[^ "\\\n]* +[A-Za-z][A-Za-z0-9+.-]*://(\[[^\]/"\\\s]*\]|[^/:?#"\\\s]*))?)'
"""Before a quoted request line, the host of its absolute URL (no group match if it is not one)."""
_MORE_FIELDS = re.compile(r"([ \t])\.\.\.$")


class _Token(NamedTuple):
    literal: str
    kind: str = ""  # "" for a literal
    detail: str = ""


_NGINX_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}
_DIRECTIVE = re.compile(r"^\s*log_format\s+\S+\s+(?:escape=\S+\s+)?", re.ASCII)


def _nginx_tokens(text: str) -> List[_Token]:
    text = _DIRECTIVE.sub("", text).rstrip().rstrip(";")  # a whole ``log_format name '...';`` pasted
    stripped = text.strip()
    if stripped.startswith("'") or stripped.startswith('"'):  # pieces as written in nginx.conf
        pieces = re.findall(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", stripped)
        text = "".join(single or double for single, double in pieces)
    text = re.sub(r"\\(.)", lambda match: _NGINX_ESCAPES.get(match.group(1), match.group(1)), text)  # as nginx reads them
    tokens: List[_Token] = []
    position = 0
    for match in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", text):
        tokens.append(_Token(text[position:match.start()]))
        name = match.group(1) or match.group(2)
        kind, detail = _NGINX_FIELDS.get(name, ("skip", ""))
        tokens.append(_Token("", kind, detail))
        position = match.end()
    tokens.append(_Token(text[position:]))
    return tokens


def _apache_tokens(text: str) -> List[_Token]:
    text = text.replace('\\"', '"').replace("\\t", "\t").replace("\\\\", "\\")
    if len(text) > 1 and text[0] == text[-1] == '"':
        text = text[1:-1]
    tokens: List[_Token] = []
    literal: List[str] = []
    position = 0
    directive = re.compile(r"%[<>!\d,]*(?:\{([^}]*)\})?(\^t[io]|[a-zA-Z%])")
    while position < len(text):
        char = text[position]
        if char != "%":
            literal.append(char)
            position += 1
            continue
        match = directive.match(text, position)
        if match is None:
            raise FormatError(f"cannot read the Apache directive at {text[position:position + 12]!r}")
        argument, letter = match.group(1), match.group(2)
        position = match.end()
        if letter == "%":
            literal.append("%")
            continue
        tokens.append(_Token("".join(literal)))
        literal = []
        tokens.append(_apache_field(letter, argument))
    tokens.append(_Token("".join(literal)))
    return tokens


def _apache_field(letter: str, argument: Optional[str]) -> _Token:
    if letter == "t" and argument:
        if argument.startswith(("begin:", "end:")):
            argument = argument.split(":", 1)[1]
        if argument in _TIME_KINDS:
            return _Token("", "stamp", _TIME_KINDS[argument])
        return _Token("", "stamp", "strftime:" + argument)
    if letter == "T" and argument is not None:
        unit = _T_UNITS.get(argument)
        if unit is None:
            raise FormatError(f"unknown unit {argument!r} in %{{{argument}}}T (use s, ms or us)")
        return _Token("", "duration", unit)
    if letter == "i" and argument is not None:
        kind, detail = _APACHE_HEADERS.get(argument.lower(), ("skip", ""))
        return _Token("", kind, detail)
    if letter in _APACHE_FIELDS and not (letter == "a" and argument not in (None, "c")):
        kind, detail = _APACHE_FIELDS[letter]
        return _Token("", kind, detail)
    if letter in _APACHE_SKIPPED or letter in _APACHE_FIELDS:
        return _Token("", "skip")
    raise FormatError(f"unknown Apache directive %{letter}")


_STRFTIME = {
    "Y": rb"\d{4}", "m": rb"\d\d", "d": rb"\d\d", "e": rb" ?\d{1,2}", "H": rb"\d\d", "M": rb"\d\d",
    "S": rb"\d\d", "y": rb"\d\d", "j": rb"\d{3}", "b": rb"[A-Za-z]{3}", "h": rb"[A-Za-z]{3}",
    "B": rb"[A-Za-z]+", "a": rb"[A-Za-z]{3}", "A": rb"[A-Za-z]+", "z": rb"[+-]\d{4}", "Z": rb"[A-Za-z]+",
    "f": rb"\d{1,6}", "T": rb"\d\d:\d\d:\d\d", "F": rb"\d{4}-\d\d-\d\d", "p": rb"[AP]M", "I": rb"\d\d",
    "%": rb"%",
}


def _strftime_regex(spec: str) -> bytes:
    out: List[bytes] = []
    position = 0
    while position < len(spec):
        char = spec[position]
        if char == "%":
            code = spec[position + 1:position + 2]
            piece = _STRFTIME.get(code)
            if piece is None:
                raise FormatError(f"unsupported time directive %{code} in %{{{spec}}}t")
            out.append(piece)
            position += 2
        else:
            out.append(re.escape(char.encode()))
            position += 1
    return b"(" + b"".join(out) + b")"


def _field_regex(token: _Token, quoted: bool, following: str, single: bool = False) -> bytes:
    """The regex of one field, capturing unless it is skipped; ``single``: for the single-space
    pattern, where a field between spaces is never empty (see :attr:`LogFormat.single_pattern`)."""
    kind, detail = token.kind, token.detail
    if quoted and kind not in _TYPED:  # a number or time keeps its own form between quotes
        return SKIP_QUOTED if kind == "skip" else QUOTED
    if kind == "stamp":
        if detail.startswith("strftime:"):
            return _strftime_regex(detail[len("strftime:"):])
        return STAMPS.get(detail, EPOCH)  # epoch times
    if kind == "status":
        return STATUS
    if kind == "size":
        return NUMBER
    if kind == "duration":
        return SECONDS
    if kind == "upstream":
        return UPSTREAM
    if kind == "user" and following.strip(" "):
        # anything up to the literal text that follows (a user may contain spaces): a tempered token
        stop = (b" " if single else b" +").join(
            re.escape(piece.encode()) for piece in re.split(" +", following[:following.find(following.strip(" ")[0]) + 1]))
        if single:  # no space at either end, as the run-of-spaces pattern's user never has
            return b"((?! )(?:(?!" + stop + rb")[^\n])+)(?<! )"
        return b"((?:(?!" + stop + rb")[^\n])+)"
    stop_char = following[:1]
    if kind == "host" and stop_char == ":":
        return rb"([^ \n]+)"  # ip:port: backtracks to the last ':'
    if stop_char == "\t":
        free = rb"[^\t\n]*"
    else:
        free = b"[^" + (re.escape(stop_char.encode()) if stop_char not in ("", " ") else b"") + rb" \n]" + (b"+" if single else b"*")
    if kind == "skip":
        return b"(?:" + free + b")"
    return b"(" + free + b")"


def _once_each(keys: Sequence[bytes], decode: Callable[[bytes], Optional[float]]) -> List[Optional[float]]:
    """``decode`` of each key, calling it once per distinct key (logs repeat their times)."""
    decoded: Dict[bytes, Optional[float]] = {}
    return [decoded[key] if key in decoded else decoded.setdefault(key, decode(key)) for key in keys]


_DISTINCT = ("size", "duration", "upstream")
"""Kinds whose keys seldom repeat: the scan makes each anew instead of sharing equal ones."""

SINGLE_RETRY = 32
"""Blocks read with the run-of-spaces pattern after one where the single-space pattern failed."""


class LogFormat(LineFormat):
    """A compiled format: its line pattern, which fields its groups hold, and how their keys decode."""

    def __init__(self, name: str, text: str, agents: bool = True) -> None:
        """Compile ``text`` (FormatError if it cannot be); ``agents=False`` matches the user agent
        but does not capture it (see :meth:`without_agents`)."""
        super().__init__()
        self.name = name
        """The preset name, or the format string itself."""
        self.text = text
        tokens = _nginx_tokens(text) if re.search(r"\$\{?\w", text) else _apache_tokens(text)
        parts: List[bytes] = [b"^"]
        single: List[bytes] = [b"^"]  # the same with single spaces: see single_pattern

        def add(regex: bytes, single_form: Optional[bytes] = None) -> None:
            """Add a piece to both patterns (its own single-space form to that one, when it has one)."""
            parts.append(regex)
            single.append(regex if single_form is None else single_form)
        self.kinds: List[str] = []
        """The kind of each group, in order."""
        self.details: Dict[str, str] = {}
        more = _MORE_FIELDS.search(tokens[-1].literal)
        if more:  # the separator stays, for the last field to stop at; it is matched with the fields after
            tokens[-1] = _Token(tokens[-1].literal[:more.end(1)])
        summing = False
        for index, token in enumerate(tokens):
            if not token.kind:
                literal = token.literal[:-1] if more and index == len(tokens) - 1 else token.literal
                # a space of the format matches a run of spaces (padded fields, doubled separators)
                pieces = [re.escape(piece.encode()) for piece in re.split(" +", literal)]
                add(b" +".join(pieces), b" ".join(pieces))
                continue
            if token.kind == "duration_part":  # tokens alternate literal, field: fields are two apart
                if index < 2 or tokens[index - 2].kind != "duration_part":
                    summing = "duration" not in self.kinds
                    if summing:
                        add(b"(")
                        self.kinds.append("duration")
                        self.details["duration"] = "1"
                upstream = summing and token.detail == "upstream" and "upstream" not in self.kinds
                add(b"(" + PART + b")" if upstream else PART)
                if upstream:
                    self.kinds.append("upstream")
                    self.details["upstream"] = "1"
                if summing and (index + 2 >= len(tokens) or tokens[index + 2].kind != "duration_part"):
                    add(b")")
                continue
            before = tokens[index - 1].literal if index else ""
            after = tokens[index + 1].literal if index + 1 < len(tokens) else ""
            if index + 2 < len(tokens) and tokens[index + 2].detail == "clf-brackets":
                after += "["  # Apache's %t writes its own brackets
            # the first field of a kind counts; later ones (and an agent no one reads) are matched only
            duplicate = token.kind in self.kinds or (token.kind == "agent" and not agents)
            if token.kind == "request" and not (before.endswith('"') and after.startswith('"')):
                raise FormatError("the request field must be quoted in the format (\"%r\", \"$request\")")
            if token.kind == "request" and token.detail == "absolute" and "vhost" not in self.kinds:
                add(_URL_HOST)
                self.kinds.append("vhost")
                self.details["vhost"] = "url"
            quoted = before.endswith('"') and after.startswith('"')
            regex, regex_single = _field_regex(token, quoted, after), _field_regex(token, quoted, after, single=True)
            add(*((uncaptured(regex), uncaptured(regex_single)) if duplicate else (regex, regex_single)))
            if token.kind != "skip" and not duplicate:
                self.kinds.append(token.kind)
                self.details[token.kind] = token.detail
        if more:
            tab = more.group(1) == "\t"
            add(b"(?:" + (b"\t" if tab else b" +") + rb"[^\n]*)?", b"(?:" + (b"\t" if tab else b" ") + rb"[^\n]*)?")
        add(END)
        kinds = set(self.kinds)
        if "stamp" not in kinds:
            raise FormatError("the format has no time field ($time_local, $time_iso8601, $msec, %t)")
        if "status" not in kinds:
            raise FormatError("the format has no status field ($status, %s, %>s)")
        if not kinds & {"request", "target"}:
            raise FormatError("the format has no request field ($request, $request_uri, %r, %U)")
        self.pattern = re.compile(b"".join(parts), re.MULTILINE)
        """The line pattern: ``findall`` over a block gives one row of groups per line."""
        self.plain_pattern = re.compile(b"".join(parts).replace(SKIP_QUOTED, rb'[^"]*'), re.MULTILINE)
        """The line pattern for blocks without a backslash: quoted fields need no escapes, and may
        cross newlines, the fastest form for the regex engine (a block where one does has fewer
        matches than lines, and is read line by line)."""
        self.single_pattern = re.compile(b"".join(single).replace(SKIP_QUOTED, rb'[^"]*'), re.MULTILINE)
        """:attr:`plain_pattern` for lines whose fields are one space apart, as servers write them:
        a single space for each space of the format, no empty field between spaces, and no user
        starting or ending with a space. Matching a run of spaces costs the regex engine more than
        a space (~0.1 µs a line). On a line it matches, :attr:`plain_pattern` finds the same
        fields: each separator is then one space between two fields that cannot end or start with
        one, so a run of spaces has only one way to match (tests compare the two on lines spaced
        and altered at random). A block where it does not match every line is read with
        :attr:`plain_pattern`, and so are the next :data:`SINGLE_RETRY` blocks."""
        self._single_retry = 0
        self.program = scan_program([piece.replace(SKIP_QUOTED, rb'[^"]*') for piece in single], self.single_pattern.groups)
        """:attr:`single_pattern` as the C accelerator's scan runs it (None without the accelerator,
        or for a pattern it does not know): see :mod:`monilog.parsing.pieces`."""
        self._index = {kind: self.kinds.index(kind) for kind in self.kinds}
        named = [("who", tuple(self._index.get(kind, -1) for kind in ("host", "user")), True)]
        named += [(kind, (group,), kind not in _DISTINCT) for group, kind in enumerate(self.kinds) if kind not in ("host", "user")]
        self.outputs: Outputs = tuple((groups, shared) for _, groups, shared in named)
        """The columns a block's groups are made into: ``who`` keys are ``host\\nuser`` (either part
        empty when the format has none), the other kinds' keys are their groups."""
        self._column = {name: position for position, (name, _, _) in enumerate(named)}
        self._stamp = _stamp_decoder(self.details["stamp"])
        self._scale = float(self.details.get("duration", "1"))
        self._upstream_scale = float(self.details.get("upstream", "1"))
        self._lean: Optional[LogFormat] = None

    def without_agents(self) -> LogFormat:
        """This format, reading no user agent: the same lines match with the same fields, and one
        capture less is made per line (worth ~0.08 µs a line) when no filter reads agents."""
        if self._lean is None:
            self._lean = LogFormat(self.name, self.text, agents=False) if "agent" in self.kinds else self
        return self._lean

    # -- decoding keys ------------------------------------------------------------------------

    def who(self, key: Any) -> Tuple[str, str]:
        """``(host, user)`` of a ``host\\nuser`` key (see :attr:`outputs`)."""
        host, _, user = key.partition(b"\n")
        user = user.strip(b" ")
        return ("" if host in (b"-", b"") else host.decode("utf-8", "replace"),
                "" if user in (b"-", b"") else user.decode("utf-8", "replace"))

    def with_client(self, key: Any, client: str) -> Any:
        """The ``host\\nuser`` key with ``client`` for its host."""
        return client.encode() + key[key.index(b"\n"):]

    def method_target(self, key: Any) -> Tuple[str, str]:
        """``(method, target)`` of a request line, or of a ``(method, target)`` key."""
        if type(key) is bytes:
            method, target, _ = split_request(key.decode("utf-8", "replace"))
        else:
            method, target = (part.decode("utf-8", "replace") for part in key)
            method = "" if method == "-" else method
        return method, target

    def stamp(self, key: Any) -> Tuple[int, tzinfo]:
        """``(epoch second, zone)`` of a time as logged."""
        moment, epoch = self._stamp(key.decode("ascii"))
        zone = moment.tzinfo
        assert zone is not None
        return epoch, zone

    def durations(self, keys: Sequence[bytes]) -> List[Optional[float]]:
        """Seconds of duration keys, or None where nothing was logged."""
        return _once_each(keys, self.duration)

    def duration(self, key: bytes) -> Optional[float]:
        """Seconds of a duration as logged: the sum of its parts, None if any is ``-`` or ``-1``."""
        values = key.split()
        if b"-" in values or b"-1" in values:
            return None
        return sum(map(float, values)) * self._scale

    def upstreams(self, keys: Sequence[bytes]) -> List[Optional[float]]:
        """Seconds of upstream times as logged (each the sum of its tries)."""
        return _once_each(keys, self.upstream)

    def upstream(self, key: bytes) -> Optional[float]:
        """Seconds of an upstream time: the sum of a list of tries, None if none was logged (``-``, ``-1``)."""
        values = [float(value) for value in re.split(rb", | : ", key) if value not in (b"-", b"-1", b"")]
        return sum(values) * self._upstream_scale if values else None

    # -- parsing ------------------------------------------------------------------------------

    def scan(self, block: bytes) -> Optional[Columns]:
        """The :attr:`outputs` columns of :attr:`single_pattern` on a block without backslashes, or
        None when a line does not match it: by the C accelerator's scan of :attr:`program` when
        there is one (the same columns as :func:`~monilog.parsing.pieces.scan_single`'s, or None),
        else by the regex."""
        if self.program is not None and speedups is not None:
            return speedups.scan_format(block, self.program, self.outputs)  # type: ignore[no-any-return]
        return scan_single(self.single_pattern, block, self.outputs)

    def parse_block(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines; lines that do not match are skipped."""
        columns: Optional[Columns] = None
        plain = b"\\" not in block
        if plain and self._single_retry <= 0:
            columns = self.scan(block)  # one row a line, or None
            if columns is None:
                self._single_retry = SINGLE_RETRY  # a padded log: the next blocks are read as it is
        elif plain:
            self._single_retry -= 1
        if columns is None:
            lines = count_lines(block)
            rows = (self.plain_pattern if plain else self.pattern).findall(block)
            columns = self._outputs_of(rows) if len(rows) == lines else None
        else:
            lines = len(columns[0])
        skipped: List[Tuple[int, str]] = []
        if columns is None or has_hash_line(block) or not self._stamps_valid(columns) or \
                has_long_line(block, max_line_length):
            rows, skipped = rows_of(block, lambda line: self.row(line, max_line_length))  # as line by line
            columns = self._outputs_of(rows)
        return self._columns(columns, skipped, lines)

    def _outputs_of(self, rows: Sequence[Tuple[bytes, ...]]) -> Columns:
        return joined(tuple(zip(*rows)) if rows else ((),) * len(self.kinds), self.outputs, len(rows))

    def _stamps_valid(self, columns: Columns) -> bool:
        try:
            for stamp in set(columns[self._column["stamp"]]):
                self.stamp(stamp)
        except ValueError:
            return False
        return True

    def row(self, line: bytes, max_line_length: int) -> Optional[Tuple[bytes, ...]]:
        """The groups of one line; None for a blank or ``#`` line; ParseError for a bad one."""
        line = line.rstrip(b"\r\n")
        if len(line) > max_line_length:
            raise ParseError("line too long", line[:200].decode("utf-8", "replace"))
        if not line.strip() or line.startswith(b"#"):
            return None
        match = self.pattern.match(line)
        if match is None:
            raise ParseError("malformed", line.decode("utf-8", "replace"))
        row: Tuple[bytes, ...] = match.groups(b"")  # b"" for a group that took no part, as findall gives
        try:
            self.stamp(row[self._index["stamp"]])
        except ValueError:
            raise ParseError("bad timestamp", line.decode("utf-8", "replace")) from None
        return row

    def _columns(self, columns: Columns, skipped: List[Tuple[int, str]], lines: int) -> ParsedBlock:
        """The parsed block of a block's :attr:`outputs` columns."""
        count = len(columns[0])
        index = self._column

        def column(kind: str) -> Optional[Sequence[bytes]]:
            return columns[index[kind]] if kind in index else None

        requests: Sequence[Any]
        if "request" in index:
            requests = columns[index["request"]]
        else:
            methods, targets = column("method"), column("target")
            requests = list(zip(methods if methods is not None else repeat(b"-", count), targets or ()))
        sizes = column("size")
        return ParsedBlock(
            lines, columns[index["who"]], columns[index["stamp"]], requests, columns[index["status"]],
            sizes if sizes is not None else [b"0"] * count, skipped, self,
            column("duration"), column("upstream"), column("vhost"), column("agent"), column("forwarded"),
        )

    def record(self, line: bytes, max_line_length: int) -> Optional[LogRecord]:
        """One line as a :class:`LogRecord` (None for a blank or ``#`` line); ParseError if bad."""
        row = self.row(line, max_line_length)
        if row is None:
            return None
        block = self._columns(self._outputs_of([row]), [], 1)
        host, user = self.who(block.who[0])
        request = block.requests[0]
        if type(request) is bytes:
            method, target, protocol = split_request(request.decode("utf-8", "replace"))
        else:
            method, target = (part.decode("utf-8", "replace") for part in request)
            method, protocol = ("" if method == "-" else method), ""
        moment, epoch = self._stamp(block.stamps[0].decode("ascii"))
        status = STATUS_CODES[block.statuses[0].decode()]
        duration = self.durations(block.durations)[0] if block.durations is not None else None
        upstream = self.upstream(block.upstreams[0]) if block.upstreams is not None else None
        vhost = self.vhost(block.vhosts[0]) if block.vhosts is not None else ""
        agent = self.agent(block.agents[0]) if block.agents is not None else ""
        return LogRecord(host, "", user, moment, method, target, protocol, status, self.sizes(block.sizes)[0],
                         "", agent, section.section_of(target), epoch, vhost, duration, upstream)


def _stamp_decoder(detail: str) -> Callable[[str], Moment]:
    if detail in ("clf", "clf-brackets"):
        return clf_timestamp
    if detail == "iso8601":
        return iso_timestamp
    if detail.startswith("strftime:"):
        return strftime_parser(detail[len("strftime:"):])
    per_second = float(detail.split(":", 1)[1])  # "epoch:1000": milliseconds since the epoch
    return lambda text: epoch_timestamp(float(text) / per_second)


@lru_cache(maxsize=32)
def compile_format(spec: str) -> LineFormat:
    """The format of a preset name, ``json[:field=key,...]`` or a format string; FormatError if it
    cannot compile."""
    name = ALIASES.get(spec, spec)
    if name == "json" or name.startswith("json:"):
        try:
            return json_format(name)
        except ValueError as error:
            raise FormatError(str(error)) from None
    if name in PRESETS:
        return LogFormat(name, PRESETS[name])
    if "$" not in spec and "%" not in spec:
        raise FormatError(f"unknown log format {spec!r}: give one of {', '.join(NAMES)}, or a format string")
    return LogFormat(spec, spec)


VHOST_SIGN = re.compile(rb"^[^\s:\[\]\"]+:\d{1,5} [^\s\"]+ \S+ .*\[", re.ASCII)
"""A ``vhost_combined`` line (``name:port host ident user [``): how ``auto`` tells it from CLF,
whose first field, a client address, never ends in ``:port`` with a single colon."""
