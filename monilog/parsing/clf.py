"""NCSA Common and Combined log lines.

Common: ``host ident user [dd/Mon/yyyy:HH:MM:SS +hhmm] "METHOD target PROTOCOL" status size``;
Combined appends ``"referer" "user agent"``. One anchored regex per mode splits the
line; every part of it is a character class the next part cannot start with, so a
failing line is rejected in linear time whatever its length or content (50 000 quotes,
a megabyte of spaces).

Tolerated, as real servers and proxies write them:

- runs of spaces between fields, and leading spaces;
- a user with spaces, quoted (``"john doe"``, quotes removed) or not (``john doe``: nginx logs
  whatever a client's ``Authorization`` header says);
- escaped quotes inside quoted fields (Apache's ``\\"``; nginx writes ``\\x22``);
- trailing fields after the size (Common) or after the user agent (Combined), as
  appended by ``%D``, ``$request_time`` or ``$http_x_forwarded_for``: ignored;
- request lines that are not ``METHOD target PROTOCOL``: an HTTP/0.9 request
  (``"GET /index.html"``) has no protocol; a request of a single token — ``"-"`` when
  the client sent nothing, or the escaped bytes of a TLS handshake sent to a plain HTTP
  port — is kept as the target with no method or protocol, so the hit still counts
  (``"-"`` gives method ``""``, target ``"-"``, protocol ``""``, section ``-``);
- a target containing spaces, when a protocol ends the request: ``"GET /a b HTTP/1.1"``.

Field values are kept as the server logged them, escapes included (``\\"``, ``\\x1b``):
the server's escaping is what makes them safe, and un-escaping differs between servers.
Raw control characters a forged log may contain are kept too; presentation sanitises.
``-`` in host, ident, user, referer or user agent becomes ``""``; a size of ``-`` is 0.
The status must be three ASCII digits from 100 (``bad status`` otherwise), the size
ASCII digits or ``-`` (``bad size``).
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from monilog.parsing import section
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import clf_timestamp

STATUS_CODES = {str(code): code for code in range(100, 1000)}
"""Every valid status text → its code: one lookup both checks and converts."""

_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_USER = r'("[^"]*"|[^ ](?:[^ ]| +[^ \[])*)'
"""A quoted user, or anything up to the timestamp's bracket: nginx logs ``$remote_user`` from any
client's ``Authorization`` header, so ``john doe`` is a real user (and a flood must not hide in it)."""
_HEAD = r' *(\S+) +(\S+) +' + _USER + r' +\[([^\]]{0,64})\] +' + _QUOTED + r" +(\S+) +(\S+)"
_TAIL = " +" + _QUOTED + " +" + _QUOTED

COMMON = re.compile(_HEAD + "()()", re.ASCII)
"""Common lines; two empty groups stand for the referer and user agent it does not read."""
COMBINED = re.compile(_HEAD + _TAIL, re.ASCII)
"""Combined lines: the referer and user agent are required."""
CLF_AUTO = re.compile(_HEAD + "(?:" + _TAIL + ")?", re.ASCII)
"""Common lines with an optional Combined tail."""

_new_record = tuple.__new__  # LogRecord(...) without the keyword-argument machinery


def parse_size(text: str) -> Optional[int]:
    """The byte count logged as ``text`` (``-`` is 0), or None if it is not one."""
    if text.isdigit() and text.isascii():
        return int(text)
    return 0 if text == "-" else None


def split_request(request: str) -> Tuple[str, str, str]:
    """``(method, target, protocol)`` of a logged request line (see the module documentation)."""
    method, space, rest = request.partition(" ")
    if not space:
        return "", request, ""
    target, space, protocol = rest.strip(" ").rpartition(" ")
    if not space or not protocol.startswith("HTTP/"):
        return method, rest, ""
    return method, target.rstrip(" "), protocol


def parse_clf(line: str, pattern: re.Pattern[str] = CLF_AUTO) -> LogRecord:
    """Parse one Common/Combined line (no line ending) with ``COMMON``, ``COMBINED`` or ``CLF_AUTO``.

    Raises ParseError: ``malformed`` when the line does not have the fields of the
    format, ``bad timestamp``, ``bad status`` or ``bad size`` for an invalid field.
    """
    match = pattern.match(line)
    if match is None:
        raise ParseError("malformed", line)
    host, ident, user, stamp, request, status, size, referer, agent = match.groups("")
    try:
        moment, epoch = clf_timestamp(stamp)
    except ValueError:
        raise ParseError("bad timestamp", line) from None
    code = STATUS_CODES.get(status)
    if code is None:
        raise ParseError("bad status", line)
    nbytes = parse_size(size)
    if nbytes is None:
        raise ParseError("bad size", line)

    method, target, protocol = split_request(request)
    if host == "-":
        host = ""
    if ident == "-":
        ident = ""
    if user == "-":
        user = ""
    elif user[0] == '"':
        user = "" if user == '"-"' else user[1:-1]
    if referer == "-":
        referer = ""
    if agent == "-":
        agent = ""
    return _new_record(
        LogRecord,
        (host, ident, user, moment, method, target, protocol, code, nbytes, referer, agent,
         section.section_of(target), epoch, "", None, None),
    )
