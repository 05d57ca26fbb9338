"""The pieces of a compiled format's line pattern, and that pattern as a program for the C scan.

:class:`~monilog.parsing.logformat.LogFormat` writes its patterns from these pieces (and from
literals and character classes of its own). Its single-space pattern (the one servers' lines
match) is also translated, piece by piece, into a program for the C accelerator's
``scan_format`` (:func:`scan_program`). Each op of the program follows the path a backtracking
regex engine tries first: the longest run (backed off to the last byte the next literal starts
with, when the run admits it), the optional part taken, the first alternative that matches. A
match found on that path is the one the regex engine returns, so wherever the scan reads a block
its columns are exactly those of :func:`scan_single`, the regex reference; on a line where that
path fails the scan gives up on the block, and the regex reads it. A piece the translator does
not know (a ``strftime`` time, an absolute URL's host) leaves the whole format to the regex.
The tests compare the two on every preset and on random format strings.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple

from monilog.accelerator import speedups
from monilog.parsing.columns import count_lines

SKIP_QUOTED = rb'[^"\\\n]*(?:\\.[^"\\\n]*)*'
"""A quoted field's text, backslash escapes honoured, not captured."""
QUOTED = b"(" + SKIP_QUOTED + b")"
NUMBER = rb'(\d+|-)'
SECONDS = rb'(\d+(?:\.\d*)?|-1?)'
PART = rb'(?:\d+(?:\.\d*)?|-1?)'
"""One of the durations a load balancer's preset adds up (not captured: the sum is)."""
UPSTREAM = rb'((?:\d+(?:\.\d*)?|-1?)(?:(?:, | : )(?:\d+(?:\.\d*)?|-1?))*)'
STATUS = rb'([1-9]\d\d)'
EPOCH = rb'(\d+(?:\.\d+)?)'
STAMPS = {
    "clf": rb'(\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})',
    "clf-brackets": rb'\[(\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]',
    "iso8601": rb'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)',
}
END = rb"[ \t]*\r?$"
"""The end of every line pattern: trailing blanks and a carriage return are allowed."""


def uncaptured(regex: bytes) -> bytes:
    """``regex`` with its one capturing group made non-capturing (a field matched but not read)."""
    return re.sub(rb"(?<!\\)\((?!\?)", b"(?:", regex, count=1)


Op = Tuple[str, bytes, int]
"""An op of a scan program: its name (one of the C's ``SCAN_OPS``), its text, its group or -1."""

_TYPED: Dict[bytes, Tuple[str, bool]] = {PART: ("seconds", False)}
"""Each typed piece's op, and whether the piece captures."""
for _regex, _name in ((STATUS, "status"), (NUMBER, "number"), (SECONDS, "seconds"), (UPSTREAM, "upstream"),
                      (EPOCH, "epoch"), (STAMPS["clf"], "clf"), (STAMPS["iso8601"], "iso8601")):
    _TYPED[_regex], _TYPED[uncaptured(_regex)] = (_name, True), (_name, False)
_BRACKETS = (rb"\[", rb"\]")
_SPAN = re.compile(rb"(\(\?:|\()?\[\^((?:\\.|[^\]\\])*)\]([*+])\)?")
_USER = re.compile(rb"(\(\?:|\()\(\?! \)\(\?:\(\?!((?:\\.|[^\\()])+)\)\[\^\\n\]\)\+\)\(\?<! \)")
_MORE = re.compile(rb"\(\?:(\\t| )\[\^\\n\]\*\)\?")
_LITERAL = re.compile(rb"(?:\\[^A-Za-z0-9]|[^\\.^$*+?{}\[\]|()])*")
_CLASS_ESCAPES = {b"n": b"\n", b"t": b"\t"}


def _unescaped(text: bytes, in_class: bool) -> Optional[bytes]:
    """The bytes ``re.escape`` (or a character class's ``\\n``, ``\\t``) wrote as ``text``; None
    if it holds anything else (a range, a class)."""
    out = bytearray()
    position = 0
    while position < len(text):
        char = text[position:position + 1]
        if char == b"\\":
            escaped = text[position + 1:position + 2]
            if escaped.isalnum() and not (in_class and escaped in _CLASS_ESCAPES):
                return None
            out += _CLASS_ESCAPES.get(escaped, escaped) if in_class else escaped
            position += 2
            continue
        if in_class and char == b"-" and 0 < position < len(text) - 1:
            return None  # a range
        out += char
        position += 1
    return bytes(out)


def _ops_of(piece: bytes, groups: List[int], opened: List[int]) -> Optional[List[Op]]:
    """The ops of one piece; ``groups`` holds the number of groups opened so far, ``opened`` the
    groups open across pieces. None for a piece the scan does not know."""
    def capture(captures: bool) -> int:
        if not captures:
            return -1
        groups[0] += 1
        return groups[0] - 1

    if piece == b"^":
        return []
    if piece == END:
        return [("end", b"", -1)]
    if piece == b"(":
        group = capture(True)
        opened.append(group)
        return [("open", b"", group)]
    if piece == b")":
        return [("close", b"", opened.pop())] if opened else None
    typed = _TYPED.get(piece)
    if typed is not None:
        return [(typed[0], b"", capture(typed[1]))]
    if piece.startswith(_BRACKETS[0]) and piece.endswith(_BRACKETS[1]) and piece[2:-2] in _TYPED:
        name, captures = _TYPED[piece[2:-2]]
        return [("literal", b"[", -1), (name, b"", capture(captures)), ("literal", b"]", -1)]
    match = _MORE.fullmatch(piece)
    if match:
        return [("more", b"\t" if match.group(1) == rb"\t" else b" ", -1)]
    match = _USER.fullmatch(piece)
    if match:
        stop = _unescaped(match.group(2), in_class=False)
        return [("user", stop, capture(match.group(1) == b"("))] if stop else None
    match = _SPAN.fullmatch(piece)
    if match and (match.group(1) is None) == (piece[-1:] != b")"):
        excluded = _unescaped(match.group(2), in_class=True)
        if excluded is None:
            return None
        return [("span1" if match.group(3) == b"+" else "span", excluded, capture(match.group(1) == b"("))]
    if _LITERAL.fullmatch(piece):
        text = _unescaped(piece, in_class=False)
        return [("literal", text, -1)] if text else []
    return None


def scan_program(pieces: Sequence[bytes], groups: int) -> Optional[object]:
    """The program of the pattern written as ``pieces`` (whose groups number ``groups``), prepared
    for the C's ``scan_format``; None when the accelerator is not built or a piece is not known."""
    if speedups is None:
        return None
    ops: List[Op] = []
    counted, opened = [0], []  # type: List[int], List[int]
    for piece in pieces:
        piece_ops = _ops_of(piece, counted, opened)
        if piece_ops is None:
            return None
        for op in piece_ops:
            if op[0] == "literal" and ops and ops[-1][0] == "literal":
                ops[-1] = ("literal", ops[-1][1] + op[1], -1)  # one comparison for adjacent literals
            else:
                ops.append(op)
    if counted[0] != groups or opened:
        return None
    names = speedups.SCAN_OPS
    prepared: object = speedups.prepare_scan(tuple((names.index(name), text, group) for name, text, group in ops), groups)
    return prepared


Columns = Tuple[Sequence[bytes], ...]
"""A block's columns, one key a line."""
Outputs = Tuple[Tuple[Tuple[int, ...], bool], ...]
"""The columns a scan gives: for each, the groups its keys are made of (joined by ``\n``, which
no line holds; group -1 is an empty part) and whether equal keys are shared (one object; for
kinds that repeat)."""


def joined(groups: Columns, outputs: Outputs, lines: int) -> Columns:
    """The ``outputs`` columns of the ``lines`` rows of a pattern's group columns."""
    columns: List[Sequence[bytes]] = []
    empty = (b"",) * lines
    for parts, _ in outputs:
        if len(parts) == 1 and parts[0] >= 0:
            columns.append(groups[parts[0]])
        elif parts:
            columns.append(tuple(map(b"\n".join, zip(*(groups[part] if part >= 0 else empty for part in parts)))))
        else:
            columns.append(empty)
    return tuple(columns)


def scan_single(pattern: "re.Pattern[bytes]", block: bytes, outputs: Outputs) -> Optional[Columns]:
    """The ``outputs`` columns of ``pattern`` on each line of ``block``, or None when it does not
    match every line: the reference of the C's ``scan_format``."""
    rows = pattern.findall(block)
    if len(rows) != count_lines(block):
        return None
    return joined(tuple(zip(*rows)) if rows else ((),) * pattern.groups, outputs, len(rows))
