"""Access-log timestamps to aware datetimes, without ``strptime`` on the hot path.

A log file holds few distinct seconds compared with its lines (a busy server writes
hundreds of lines per second), so each distinct timestamp string is parsed once and
the result is kept in a bounded LRU cache keyed by the raw text; a cache hit costs a
dictionary lookup. A miss is parsed with one strict ASCII regex, a month table and
the :class:`~datetime.datetime` constructor, which rejects impossible dates.

Decisions:

- CLF timestamps must be exactly ``dd/Mon/yyyy:HH:MM:SS +hhmm``. Month names are the
  English abbreviations, matched without regard to case (``Oct``, ``OCT``).
- The UTC offset is honoured: the datetime carries the line's own offset, so lines
  from servers in different zones compare and count correctly. ``-0000`` is UTC.
  An offset is valid up to ``±23:59`` (what :class:`~datetime.timezone` can hold) with
  minutes below 60.
- Invalid dates and times (31/Feb, hour 25, a leap second ``:60``, month ``Foo``, a
  missing or bad offset) raise :class:`ValueError`; the parsers report them as
  ``bad timestamp``.
- W3C ``date``/``time`` fields are UTC (``yyyy-mm-dd`` and ``HH:MM[:SS[.fraction]]``);
  a fraction is kept to the microsecond. ``date-local``/``time-local`` (same forms) are
  wall-clock times in a zone given by the caller (:func:`w3c_local_parser`); the datetime
  carries the fixed UTC offset the zone had then, like a CLF time. An hour repeated when
  clocks go back reads as its first occurrence; a time in the hour skipped when they go
  forward takes the offset the zone's rules give it.
- The epoch second is ``floor`` of the POSIX timestamp, the key for per-second counts.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Callable, Tuple

CACHE_SIZE = 4096
"""Distinct timestamps kept per format: far more than the seconds a live log mixes."""

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
"""Lower-case English month abbreviation → month number."""

_CLF_TIMESTAMP = re.compile(
    r"(\d\d)/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", re.ASCII
)
_W3C_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)", re.ASCII)
_W3C_TIME = re.compile(r"(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?", re.ASCII)

Moment = Tuple[datetime, int]
"""An aware datetime and its whole epoch second."""


@lru_cache(maxsize=64)
def utc_offset(text: str) -> timezone:
    """The zone for an offset written ``+hhmm`` or ``-hhmm``; ValueError if it is not one."""
    if len(text) != 5 or text[0] not in "+-" or not (text[1:].isdigit() and text.isascii()):
        raise ValueError(f"not a UTC offset: {text!r}")
    hours, minutes = int(text[1:3]), int(text[3:5])
    if hours > 23 or minutes > 59:
        raise ValueError(f"UTC offset out of range: {text!r}")
    if hours == minutes == 0:
        return timezone.utc
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


EARLIEST_YEAR = 1900
LATEST_YEAR = 9998
"""Years outside this range are refused as bad timestamps: far enough from the epoch for any
real log, close enough that every time computed from them (offsets, periods) stays valid."""


def _moment(moment: datetime) -> Moment:
    if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        raise ValueError(f"year {moment.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return moment, int(moment.timestamp() // 1)


@lru_cache(maxsize=CACHE_SIZE)
def clf_timestamp(text: str) -> Moment:
    """Parse ``10/Oct/2000:13:55:36 -0700`` (the text between the brackets of a CLF line).

    Returns the aware datetime in the line's own offset and its epoch second.
    Raises ValueError for anything that is not a real moment in that format.
    """
    match = _CLF_TIMESTAMP.fullmatch(text)
    if match is None:
        raise ValueError(f"not a CLF timestamp: {text!r}")
    day, month_name, year, hour, minute, second, sign, offset_hours, offset_minutes = match.groups()
    month = MONTHS.get(month_name.lower())
    if month is None:
        raise ValueError(f"unknown month in {text!r}")
    zone = utc_offset(sign + offset_hours + offset_minutes)
    return _moment(
        datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone)
    )


def _w3c_wall_clock(date: str, time: str) -> datetime:
    """The naive datetime of a W3C date and time pair; ValueError if it is not one."""
    date_match = _W3C_DATE.fullmatch(date)
    time_match = _W3C_TIME.fullmatch(time)
    if date_match is None or time_match is None:
        raise ValueError(f"not a W3C date and time: {date!r} {time!r}")
    year, month, day = date_match.groups()
    hour, minute, second, fraction = time_match.groups()
    microsecond = int((fraction + "00000")[:6]) if fraction else 0
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), microsecond)


@lru_cache(maxsize=CACHE_SIZE)
def w3c_timestamp(date: str, time: str) -> Moment:
    """Parse a W3C ``date`` (``2024-03-01``) and ``time`` (``13:55:36``) pair, which are UTC.

    Returns the aware UTC datetime and its epoch second; ValueError if invalid.
    """
    return _moment(_w3c_wall_clock(date, time).replace(tzinfo=timezone.utc))


@lru_cache(maxsize=256)
def _fixed_zone(offset: timedelta) -> timezone:
    return timezone.utc if not offset else timezone(offset)


def w3c_local_parser(zone: tzinfo) -> Callable[[str, str], Moment]:
    """A parser of W3C ``date-local`` and ``time-local`` pairs, wall-clock times in ``zone``.

    Its datetimes carry the fixed UTC offset ``zone`` had at that time (so they compare and
    count like any other); ValueError for a pair that is not a real date and time. Each parser
    has a cache of its own (a zone such as ``dateutil.tz.tzlocal()`` cannot be a cache key).
    """

    @lru_cache(maxsize=CACHE_SIZE)
    def parse(date: str, time: str) -> Moment:
        wall_clock = _w3c_wall_clock(date, time)
        offset = wall_clock.replace(tzinfo=zone).utcoffset()
        if offset is None:
            raise ValueError(f"the zone {zone!r} gives no UTC offset for {date} {time}")
        return _moment(wall_clock.replace(tzinfo=_fixed_zone(offset)))

    return parse


_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?", re.ASCII)


@lru_cache(maxsize=CACHE_SIZE)
def iso_timestamp(text: str) -> Moment:
    """Parse an ISO 8601 time (nginx ``$time_iso8601``: ``2026-12-01T18:46:36+00:00``; ``Z`` and
    fractions too). A time without a UTC offset is UTC. ValueError if it is not a real moment."""
    match = _ISO.fullmatch(text)
    if match is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    zone = timezone.utc if offset in (None, "Z") else utc_offset(offset.replace(":", ""))
    microsecond = int((fraction + "00000")[:6]) if fraction else 0
    return _moment(datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, tzinfo=zone))


def epoch_timestamp(seconds: float) -> Moment:
    """The UTC moment of a time logged as seconds since the epoch (nginx ``$msec``)."""
    if seconds != seconds or not 0 <= seconds < 253402300800:  # NaN, or beyond year 9999
        raise ValueError(f"not a time since the epoch: {seconds!r}")
    return _moment(datetime.fromtimestamp(seconds, timezone.utc))


def strftime_parser(spec: str) -> Callable[[str], Moment]:
    """A parser of times written with the ``strftime`` format ``spec`` (Apache ``%{...}t``);
    a time without ``%z`` is UTC."""
    zoned = "%z" in spec

    @lru_cache(maxsize=CACHE_SIZE)
    def parse(text: str) -> Moment:
        moment = datetime.strptime(text, spec)
        return _moment(moment if zoned else moment.replace(tzinfo=timezone.utc))

    return parse
