"""JSON access logs: one object per line, as nginx (``escape=json``), Caddy and Traefik write them.

The keys of the usual configurations are recognised without configuration (:data:`KNOWN_KEYS`;
dotted names are nested objects: Caddy's ``request.method``); ``--json-keys field=key,...`` maps
others, and comes first. The format name is ``json``, or ``json:field=key,...`` with a mapping
(what ``--json-keys`` makes, so worker processes get the whole format in one string).

Fields (the first key present wins): ``time`` (CLF text, ISO 8601 text, or seconds since the
epoch as a number or numeric text), ``host``, ``user``, ``request`` (``"GET /a HTTP/1.1"``) or
``method`` + ``path``, ``status``, ``size``, ``duration`` (seconds; ``duration_ms``,
``duration_us``, ``duration_ns`` for other units: Traefik's ``Duration`` is in nanoseconds),
``upstream`` and ``vhost``. ``-``, ``""`` and ``null`` are "not logged" (but a request ``-``,
a client that sent nothing, is a hit of section ``-``, as in Common logs).

A line that is not a JSON object is skipped as ``bad json``; one without a time, a status or a
request as ``missing field``; a time or status that is not one as ``bad timestamp`` /
``bad status``. Bytes that are not UTF-8 are replaced (the line still counts).
"""

from __future__ import annotations

import json
from datetime import tzinfo
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES, split_request
from monilog.parsing.columns import LineFormat, ParsedBlock, count_lines
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import Moment, clf_timestamp, epoch_timestamp, iso_timestamp

FIELDS = ("time", "host", "user", "request", "method", "path", "status", "size",
          "duration", "duration_ms", "duration_us", "duration_ns", "upstream", "vhost", "agent")
"""The fields ``--json-keys`` may map."""

KNOWN_KEYS: Dict[str, Tuple[str, ...]] = {
    "time": ("time_iso8601", "time_local", "msec", "ts", "StartUTC", "timestamp", "@timestamp", "time"),
    "host": ("remote_addr", "request.client_ip", "request.remote_ip", "ClientHost", "client_ip", "remote_ip"),
    "user": ("remote_user", "user_id", "ClientUsername"),
    "request": ("request",),
    "method": ("request_method", "request.method", "RequestMethod", "method"),
    "path": ("request_uri", "request.uri", "RequestPath", "uri", "path"),
    "status": ("status", "DownstreamStatus"),
    "size": ("body_bytes_sent", "bytes_sent", "size", "DownstreamContentSize"),
    "duration": ("request_time", "duration"),
    "duration_ns": ("Duration",),
    "upstream": ("upstream_response_time",),
    "vhost": ("host", "request.host", "RequestHost", "server_name", "http_host"),
    "agent": ("http_user_agent", "request.headers.User-Agent", "request_User-Agent", "user_agent"),
}
"""Keys recognised without configuration (nginx, Caddy, Traefik), in the order they are tried."""

_SCALES = {"duration": 1.0, "duration_ms": 1e-3, "duration_us": 1e-6, "duration_ns": 1e-9}
_ABSENT = (None, "", "-")


def parse_mapping(text: str) -> Dict[str, str]:
    """``field=key,...`` as a mapping; ValueError naming a field that is not one of :data:`FIELDS`."""
    mapping: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, equals, key = item.partition("=")
        field, key = field.strip(), key.strip()
        if not equals or not key or field not in FIELDS:
            raise ValueError(f"--json-keys: {item!r} is not FIELD=KEY with FIELD one of {', '.join(FIELDS)}")
        mapping[field] = key
    return mapping


def _lookup(value: Any, path: Tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _time(value: Any) -> Moment:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_timestamp(float(value))
    if not isinstance(value, str):
        raise ValueError("not a time")
    if value[:1].isdigit() and value.replace(".", "", 1).isdigit():
        return epoch_timestamp(float(value))
    if "/" in value:
        return clf_timestamp(value)
    return iso_timestamp(value)


class JsonFormat(LineFormat):
    """The ``json`` format: decodes objects and reads their fields through the key mapping."""

    def __init__(self, name: str, mapping: Dict[str, str]) -> None:
        super().__init__()
        self.name = name
        self.paths: Dict[str, Tuple[Tuple[str, ...], ...]] = {}
        """Per field, the key paths tried in order (the mapping's first)."""
        for field in FIELDS:
            keys = ((mapping[field],) if field in mapping else ()) + KNOWN_KEYS.get(field, ())
            self.paths[field] = tuple(tuple(key.split(".")) if "." in key and key not in ("@timestamp",) else (key,)
                                      for key in keys)

    def _field(self, row: Dict[str, Any], field: str, absent: Tuple[Any, ...] = _ABSENT) -> Any:
        for path in self.paths[field]:
            value = row.get(path[0]) if len(path) == 1 else _lookup(row, path)
            if value not in absent:
                return value
        return None

    def _duration(self, row: Dict[str, Any]) -> Optional[float]:
        for field, scale in _SCALES.items():
            value = self._field(row, field)
            if value is not None:
                try:
                    return float(value) * scale
                except (TypeError, ValueError):
                    return None
        return None

    def _upstream(self, row: Dict[str, Any]) -> Optional[float]:
        value = self._field(row, "upstream")
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return float(value)
        tries = [part for part in str(value).replace(" : ", ", ").split(", ") if part not in _ABSENT]
        try:
            return sum(map(float, tries)) if tries else None
        except ValueError:
            return None

    def fields(self, line: bytes) -> Optional[Tuple[Any, ...]]:
        """``(who, stamp, request, status, size, duration, upstream, vhost, agent)`` of one line;
        None for a blank line; ParseError for a bad one."""
        text = line.decode("utf-8", "replace").strip()
        if not text:
            return None
        try:
            row = json.loads(text)
        except ValueError:
            raise ParseError("bad json", text) from None
        if not isinstance(row, dict):
            raise ParseError("bad json", text)
        stamp = self._field(row, "time")
        status = self._field(row, "status")
        request = self._field(row, "request", (None, ""))  # "-": a client that sent nothing, still a hit
        if not isinstance(request, str):
            method, path = self._field(row, "method"), self._field(row, "path")
            request = None if path is None else (str(method or ""), str(path))
        if stamp is None or status is None or request is None:
            raise ParseError("missing field", text)
        try:
            _time(stamp)
        except ValueError:
            raise ParseError("bad timestamp", text) from None
        code = str(status).encode()
        if code.decode() not in STATUS_CODES:
            raise ParseError("bad status", text)
        size = self._field(row, "size")
        try:
            nbytes = int(size) if size is not None else 0
        except (TypeError, ValueError):
            raise ParseError("bad size", text) from None
        host, user, vhost = self._field(row, "host"), self._field(row, "user"), self._field(row, "vhost")
        agent = self._field(row, "agent")
        if isinstance(agent, list):  # Caddy logs each header as a list of values
            agent = agent[0] if agent else ""
        return ((str(host or ""), str(user or "")), stamp, request, code, max(nbytes, 0),
                self._duration(row), self._upstream(row), str(vhost or ""), str(agent or ""))

    # -- decoding keys ------------------------------------------------------------------------

    def who(self, key: Any) -> Tuple[str, str]:
        """``(host, user)``, decoded already."""
        return key  # type: ignore[no-any-return]

    def request(self, key: Any) -> Tuple[str, str]:
        """``(method, section)`` of a request line or a ``(method, path)`` pair."""
        if isinstance(key, str):
            method, target, _ = split_request(key)
        else:
            method, target = key
        return method, section.section_of(target)

    def stamp(self, key: Any) -> Tuple[int, tzinfo]:
        """``(epoch second, zone)`` of a time value."""
        moment, epoch = _time(key)
        zone = moment.tzinfo
        assert zone is not None
        return epoch, zone

    def target(self, key: Any) -> str:
        """The target of a request line or a ``(method, path)`` pair."""
        return split_request(key)[1] if isinstance(key, str) else str(key[1])

    def vhost(self, key: Any) -> str:
        """The vhost, decoded already."""
        return key  # type: ignore[no-any-return]

    def durations(self, keys: Sequence[Any]) -> List[Optional[float]]:
        """Durations, in seconds already."""
        return list(keys)

    # -- parsing ------------------------------------------------------------------------------

    def parse_block(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines."""
        rows: List[Tuple[Any, ...]] = []
        skipped: List[Tuple[int, str]] = []
        lines = block.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        for line in lines:
            if len(line) > max_line_length:
                skipped.append((len(rows), "line too long"))
                continue
            try:
                row = self.fields(line)
            except ParseError as error:
                skipped.append((len(rows), error.reason))
                continue
            if row is not None:
                rows.append(row)
        columns = list(zip(*rows)) if rows else [()] * 9
        who, stamps, requests, statuses, sizes, durations, upstreams, vhosts, agents = columns
        has = any(value is not None for value in durations)
        return ParsedBlock(count_lines(block), who, stamps, requests, statuses, sizes, skipped, self,
                           durations if has else None, upstreams if any(value is not None for value in upstreams) else None,
                           vhosts if any(vhosts) else None, agents)

    def record(self, line: bytes, max_line_length: int) -> Optional[LogRecord]:
        """One line as a :class:`LogRecord` (None for a blank line); ParseError if bad."""
        if len(line) > max_line_length:
            raise ParseError("line too long", line[:200].decode("utf-8", "replace"))
        row = self.fields(line)
        if row is None:
            return None
        (host, user), stamp, request, status, size, duration, upstream, vhost, agent = row
        if isinstance(request, str):
            method, target, protocol = split_request(request)
        else:
            (method, target), protocol = request, ""
        moment, epoch = _time(stamp)
        return LogRecord(host, "", user, moment, method, target, protocol, STATUS_CODES[status.decode()], size,
                         "", agent, section.section_of(target), epoch, vhost, duration, upstream)


@lru_cache(maxsize=16)
def json_format(spec: str) -> JsonFormat:
    """The JSON format of ``json`` or ``json:field=key,...``; ValueError for a bad mapping."""
    _, _, mapping = spec.partition(":")
    return JsonFormat(spec, parse_mapping(mapping))
