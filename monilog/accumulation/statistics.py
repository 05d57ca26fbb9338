"""Traffic statistics: a fast mutable accumulator and the immutable snapshots it yields.

A :class:`Statistics` accumulates the records of one period (or any span); a
:class:`StatsSnapshot` is what a report is made from: data, not preformatted text. Snapshots
merge, so a run's cumulative figures are the merge of its period snapshots. Like the rest of the
core, this module knows nothing about files, threads or clocks: the caller says which span a
snapshot covers.

Definitions
-----------
* ``hits`` counts every record added, late ones included (a late record is one whose period was
  already reported; it counts in the current period and also in ``late``).
* ``errors`` are responses with a 4xx or 5xx status (400–599: the error rule, whose home is
  :mod:`monilog.accumulation.status`, like the status classes). Status classes are ``"1xx"`` to
  ``"5xx"``, always present in that order, plus ``"other"`` when a status fell outside
  100–599 (``0``, ``999``...); such odd codes are not errors. An odd code inside the range
  (``299``) belongs to its class.
* ``users`` counts authenticated users only: records with an empty user are not counted there.
  ``methods`` counts every record, an empty method (no request line) under ``""``.
* ``rps`` is ``hits / duration``; ``None`` while the duration is unknown (no start or end
  given) or zero with hits. With no hits it is ``0.0``, and so are ``bytes_mean`` and
  ``error_rate``: an empty period never divides by zero.

Bounded memory
--------------
Hostile input (a million distinct paths or clients in one period) must not grow memory without
bound. Each keyed dimension (:data:`DIMENSIONS`) tracks at most ``max_keys`` keys. Within an
accumulator the first ``max_keys`` keys seen are kept (no per-record bookkeeping beyond a dict
update); hits of any further key are *folded*: counted in ``StatsSnapshot.folded`` for that
dimension (and, for sections, in ``folded_sections`` with their errors and bytes) instead of
under a key of their own. Folded hits are kept out of the mappings on purpose: a log line can
carry any string, so no "(other)" key could be told apart from a real client of that name, and
status codes stay ``int`` keys. Every total stays exact: for each dimension the mapping's hits
plus the folded hits equal ``hits`` (``users``: the hits of records with a user).
``StatsSnapshot.overflowed`` names the dimensions that folded anything. Keys longer than
:data:`~monilog.accumulation.counts.MAX_KEY_LENGTH` characters are cut to that length (ending in ``…``), so ``max_keys`` also
bounds the bytes held. Skip reasons are program labels, not log content, and are not capped.

``unique_clients`` is exact while no client was folded. Once clients overflowed
(``unique_clients_exact`` is False) it is an estimate from a
:class:`~monilog.accumulation.distinct.DistinctSketch` fed with every client of the span from then
on and with those tracked before (a relative standard error of about 0.8 %), never less than the
tracked clients plus one.

Merging
-------
:meth:`StatsSnapshot.merge` adds every count. Merged mappings are capped again at the larger
``max_keys`` of the two, keeping the keys with the most hits (ties: smallest key) and folding the
rest, so a cumulative snapshot stays bounded and shows the true heavy hitters of the run.
:func:`merged` merges many snapshots at once and caps once, at the end: a key is then dropped only
if it is not among the heaviest of all of them together (the monitor merges reported periods into
the run's total eight at a time, ``monitor.TOTAL_EVERY``: capping is a sort of the keys, which a
log of random paths would otherwise pay every period). The merged span runs from the earliest start
to the latest end; its duration is the covered time: the two durations add, minus the overlap of
the two spans, never less than the longer of the two. So consecutive or disjoint periods simply add
and a gap between periods is not counted as traffic time. This is exact for merges of periods in
any order as long as a span holding a gap is not merged with one overlapping that gap (its inner
gaps are not recorded; the result then undercounts). An unknown duration on either side makes the
merged one unknown. :meth:`StatsSnapshot.followed_by` merges a span that came later in time
although its log times may overlap (a log whose clock stepped back): the durations simply add.

Input
-----
:meth:`Statistics.add_counts` takes the :class:`~monilog.accumulation.counts.Counts` of many
records at once (the engine's batches, :mod:`monilog.accumulation.aggregate`; their cut is in
:mod:`monilog.accumulation.counts`); :meth:`Statistics.add` is the same for one
record. Counters keep keys in first-seen order, so the keys kept after an overflow are the first
seen, however the records were grouped.

Threads
-------
An accumulator is owned by one thread, which adds records and takes snapshots. Snapshots are
immutable and may be handed to any thread; they pickle, so worker processes can return them.
"""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import partial
from itertools import compress, islice, repeat
from operator import add, gt, itemgetter, not_
from types import MappingProxyType
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    Union,
)

from monilog.accelerator import speedups
from monilog.accumulation.counts import MAX_KEY_LENGTH, Counts, cut_key, cut_keys, pair_columns
from monilog.accumulation.distinct import DistinctSketch
from monilog.accumulation.overflow import Columns, Overflow, PackedKeys, UnsentKeys
from monilog.accumulation.sketch import LatencySketch
from monilog.accumulation.status import ERROR_CODES, STATUS_CLASSES, error_hits, is_error, status_class
from monilog.accumulation.summing import K, add_into, summed
from monilog.parsing.filters import FILTERED, is_filtered
from monilog.parsing.record import LogRecord

SECTIONS = "sections"
STATUS_CODES = "status_codes"
METHODS = "methods"
CLIENTS = "clients"
USERS = "users"
DIMENSIONS: Tuple[str, ...] = (SECTIONS, STATUS_CODES, METHODS, CLIENTS, USERS)
"""The keyed dimensions whose number of keys is capped."""
VHOSTS = "vhosts"
"""Capped too, and folded under this name, but only records of formats with a vhost count there."""

DEFAULT_MAX_KEYS = 1_000
"""Keys tracked per dimension and per period unless told otherwise: far more than a report shows,
few enough that a log of random paths costs the main process little (see :meth:`Counts.cut`)."""

T = TypeVar("T")


class SectionStats(NamedTuple):
    """Traffic of one section: requests, error responses (4xx/5xx) and bytes sent."""

    hits: int
    errors: int
    bytes: int


NO_SECTION_STATS = SectionStats(0, 0, 0)

_section_stats: Callable[[List[int]], SectionStats] = partial(tuple.__new__, SectionStats)
"""``SectionStats._make`` without a Python call per section (snapshots make ten thousand)."""


class VhostStats(NamedTuple):
    """Traffic of one virtual host: requests and error responses (4xx/5xx)."""

    hits: int
    errors: int


SECTION_SKETCHES = 100
"""Sections whose latency is kept per section (the first seen in a period; in merged snapshots,
those with the most hits); every duration is in the overall figures. A sketch holds up to
~150 kB, so this bounds latency memory at ~15 MB per snapshot whatever the log holds."""


_BULK_KEYS = 32
"""Keys of a dimension from which :meth:`Statistics.add_counts` counts into a full dimension at
once rather than key by key (below, the loop is cheaper than building the sets)."""


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _none_tracked(tracked: Mapping[str, Any], keys: Collection[str]) -> bool:
    """Whether none of ``keys`` is counted under a key of ``tracked``: none is one of them, and
    none is long (cut, a long key may be one)."""
    return tracked.keys().isdisjoint(keys) and (not keys or max(map(len, keys)) <= MAX_KEY_LENGTH)


def _beyond(tracked: Mapping[str, Any], keys: Sequence[str]) -> bool:
    """Whether ``keys``, beyond a cut whose first keys filled ``tracked`` from empty, may be folded
    unread: they are packed (:class:`PackedKeys`), as the cut packs them, so none is one of its
    first ones, and no tracked key has the length of a cut one. Other keys (counters cut by hand,
    or keys one of which holds a newline) take the way that reads them."""
    return isinstance(keys, PackedKeys) and _short_keys(tracked)


def fills_empty(counts: Counts, max_keys: int) -> bool:
    """Whether the keys before ``counts``'s cut fill statistics of ``max_keys`` keys that track
    none yet, in each of sections and clients that has keys beyond the cut: ``max_keys`` keys
    with hits, none as long as a key cut to :data:`~monilog.accumulation.counts.MAX_KEY_LENGTH`
    (a longer key beyond the cut could be counted under it). Such statistics track none of the
    keys beyond the cut and fold them unread (:meth:`Statistics.folds_unread`); a replay's
    worker asks this before it folds them."""
    overflow = counts.overflow
    if overflow is None:
        return True
    section_status, clients = counts.section_status, counts.clients
    if len(overflow.sections):
        if len(section_status) < max_keys or min(section_status.values()) < 1:
            return False
        names = dict.fromkeys(map(itemgetter(0), section_status))
        if len(names) < max_keys or not _short_keys(names):
            return False  # fewer sections than pairs, or a long one: they may leave room
    if len(overflow.clients.keys):
        return len(clients) >= max_keys and min(clients.values()) >= 1 and _short_keys(clients)
    return True


def _keys_from(keys: Sequence[str], start: int) -> List[str]:
    """The keys from ``start`` on, as a list (one copy)."""
    return keys[start:] if isinstance(keys, (list, PackedKeys)) else list(keys[start:])


def _plain(counts: Mapping[Any, int], keys: Iterable[str]) -> bool:
    """Whether every count of ``counts`` is positive and none of ``keys`` (its keys, or their
    first items) is longer than :data:`~monilog.accumulation.counts.MAX_KEY_LENGTH`: each key then joins a dimension with room
    as it is."""
    return min(counts.values()) > 0 and max(map(len, keys)) <= MAX_KEY_LENGTH


def _short_keys(tracked: Mapping[str, Any]) -> bool:
    """Whether no key of ``tracked`` has :data:`~monilog.accumulation.counts.MAX_KEY_LENGTH` characters, as one cut to that
    length has: no other key is then counted under one of them once it is not one of them."""
    return not tracked or max(map(len, tracked)) < MAX_KEY_LENGTH


def _ranked(counts: Mapping[K, int], n: Optional[int]) -> List[Tuple[K, int]]:
    """``(key, hits)`` pairs, most hits first, ties by key; the first ``n`` (all when None)."""
    if n is not None and 0 < n and 8 * n < len(counts):
        counts = {key: counts[key] for key in _heaviest(counts, n)}
    return _first(counts.items(), n, lambda item: (-item[1], item[0]))


def _first(items: Collection[T], n: Optional[int], key: Callable[[T], Any]) -> List[T]:
    """``items`` sorted by ``key``, or only the first ``n`` of them (from a heap when they are few:
    a report asks for five of maybe ten thousand keys)."""
    if n is None or 8 * n >= len(items):
        ranked = sorted(items, key=key)
        return ranked if n is None else ranked[: max(n, 0)]
    return heapq.nsmallest(max(n, 0), items, key=key)


def _plus_stats(a: Tuple[int, ...], b: Tuple[int, ...]) -> Any:
    """Two :class:`SectionStats` (or :class:`VhostStats`) added column by column."""
    return type(a)(*map(add, a, b))


def _heaviest(hits: Mapping[K, int], n: int) -> Set[K]:
    """The ``n`` keys with the most hits (ties: the smallest keys), in no order: what
    ``_ranked(hits, n)`` keeps.

    Nothing is ranked but the keys tied at the bar (the ``n``-th highest hits), and only when
    they do not all fit: hostile logs make 20,000 keys of one hit each at every merge of a
    period into a run's total.
    """
    if len(hits) <= n:
        return set(hits)
    histogram = sorted(Counter(hits.values()).items(), reverse=True)  # (hits, keys): few distinct counts
    above = position = 0  # keys with more hits than the bar
    while above + histogram[position][1] < n:
        above += histogram[position][1]
        position += 1
    bar = histogram[position][0]
    if len(histogram) == 1:  # every key has the bar's hits (one each, from a hostile log)
        kept: Set[K] = set()
        tied: List[Any] = list(hits)
    else:
        kept = set(compress(hits, map(bar.__lt__, hits.values())))
        tied = list(compress(hits, map(bar.__eq__, hits.values())))
    room = n - len(kept)
    if len(tied) > room:
        if 8 * room < len(tied):
            tied = heapq.nsmallest(room, tied)
        else:
            tied.sort()
    kept.update(tied[:room])
    return kept


def _cap_counts(counts: Dict[K, int], max_keys: int) -> Tuple[Dict[K, int], int]:
    """Keep the ``max_keys`` heaviest keys of ``counts`` (removing the others from it, in place);
    return it and the hits of the others."""
    if len(counts) <= max_keys:
        return counts, 0
    return counts, sum(map(counts.pop, counts.keys() - _heaviest(counts, max_keys)))


@dataclass(frozen=True)
class StatsSnapshot:
    """Immutable statistics of one span of traffic.

    Normally made by :meth:`Statistics.snapshot` and :meth:`merge`. The mappings are read-only
    copies; iterate them in any order, or use the ``top_*`` methods for rankings. Folded hits
    (keys beyond the cap, see the module documentation) are in ``folded`` and
    ``folded_sections``, never in the mappings, and never in the ``top_*`` lists.
    """

    start: Optional[datetime]
    """Start of the span, or None when not given."""
    end: Optional[datetime]
    """End of the span, or None when not given."""
    duration: Optional[float]
    """Seconds of traffic covered, or None when unknown."""
    hits: int
    """Records counted, late ones included."""
    bytes_total: int
    """Bytes sent in all responses."""
    errors: int
    """Responses with a 4xx or 5xx status."""
    sections: Mapping[str, SectionStats]
    """Section → hits, errors, bytes (tracked sections only)."""
    folded_sections: SectionStats
    """Hits, errors and bytes of sections beyond the cap."""
    status_codes: Mapping[int, int]
    """Status code → hits (tracked codes only)."""
    status_classes: Mapping[str, int]
    """``"1xx"``…``"5xx"`` → hits, always present, then ``"other"`` when any; exact."""
    methods: Mapping[str, int]
    """HTTP method → hits (tracked methods only)."""
    clients: Mapping[str, int]
    """Client host → hits (tracked clients only)."""
    users: Mapping[str, int]
    """Authenticated user → hits (tracked users only; records without a user are not counted)."""
    unique_clients: int
    """Distinct clients: exact, or an estimate when ``unique_clients_exact`` is False."""
    skipped: Mapping[str, int]
    """Reason → lines skipped as unparsable."""
    late: int
    """Records that arrived after their own period had been reported."""
    folded: Mapping[str, int]
    """Dimension (one of :data:`DIMENSIONS`) → hits folded beyond the cap (0 when none)."""
    max_keys: int
    """The cap on keys per dimension these figures were collected with."""
    vhosts: Mapping[str, VhostStats] = field(default_factory=dict)
    """Virtual host → hits and errors (tracked vhosts only; empty when the format has none)."""
    latency: Optional[LatencySketch] = None
    """Durations of every request that logged one (seconds), None when none did."""
    section_latency: Mapping[str, LatencySketch] = field(default_factory=dict)
    """Section → its durations, for at most :data:`SECTION_SKETCHES` sections."""
    upstream_latency: Optional[LatencySketch] = None
    """Upstream response times (seconds), None when none were logged."""
    filtered: Mapping[str, int] = field(default_factory=dict)
    """Filter (``time``, ``client``, ``path``, ``status``, ``bot``) → lines it left out (:mod:`monilog.parsing.filters`)."""
    distinct_clients: Optional[DistinctSketch] = None
    """Every client of the span, sketched, once clients were folded (None while they are exact)."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, Mapping):
                object.__setattr__(self, spec.name, MappingProxyType(dict(value)))

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        # Read-only mapping proxies do not pickle: rebuild from plain dicts.
        values = tuple(getattr(self, spec.name) for spec in fields(self))
        return type(self), tuple(dict(v) if isinstance(v, Mapping) else v for v in values)

    # -- derived figures ---------------------------------------------------------------------

    @property
    def rps(self) -> Optional[float]:
        """Requests per second over the duration; None when it is unknown (or zero with hits)."""
        if not self.hits:
            return None if self.duration is None else 0.0
        if not self.duration:
            return None
        return self.hits / self.duration

    @property
    def bytes_mean(self) -> float:
        """Mean response size in bytes (0.0 without hits)."""
        return _share(self.bytes_total, self.hits)

    @property
    def error_rate(self) -> float:
        """Share of hits that were errors, 0.0 to 1.0 (0.0 without hits)."""
        return _share(self.errors, self.hits)

    @property
    def skipped_total(self) -> int:
        """Lines skipped for any reason."""
        return sum(self.skipped.values())

    @property
    def overflowed(self) -> FrozenSet[str]:
        """The dimensions that reached the cap and folded hits."""
        return frozenset(name for name, hits in self.folded.items() if hits)

    @property
    def unique_clients_exact(self) -> bool:
        """Whether ``unique_clients`` is exact (no client was folded) rather than an estimate."""
        return not self.folded.get(CLIENTS, 0)

    # -- rankings ----------------------------------------------------------------------------

    def top_sections(self, n: Optional[int] = None) -> List[Tuple[str, SectionStats, float]]:
        """``(section, stats, share of all hits)``, most hits first, ties by name."""
        sections = self.sections
        if n is not None and 0 < n and 8 * n < len(sections):
            sections = {name: sections[name] for name in _heaviest({name: s.hits for name, s in sections.items()}, n)}
        ranked = _first(sections.items(), n, lambda item: (-item[1].hits, item[0]))
        return [(section, stats, _share(stats.hits, self.hits)) for section, stats in ranked]

    def top_status_codes(self, n: Optional[int] = None) -> List[Tuple[int, int, float]]:
        """``(code, hits, share)``, most hits first, ties by code."""
        return self._top(self.status_codes, n)

    def top_methods(self, n: Optional[int] = None) -> List[Tuple[str, int, float]]:
        """``(method, hits, share)``, most hits first, ties by name."""
        return self._top(self.methods, n)

    def top_clients(self, n: Optional[int] = None) -> List[Tuple[str, int, float]]:
        """``(host, hits, share)``, most hits first, ties by name."""
        return self._top(self.clients, n)

    def top_users(self, n: Optional[int] = None) -> List[Tuple[str, int, float]]:
        """``(user, hits, share of all hits)``, most hits first, ties by name."""
        return self._top(self.users, n)

    def top_vhosts(self, n: Optional[int] = None) -> List[Tuple[str, VhostStats]]:
        """``(vhost, stats)``, most hits first, ties by name."""
        return _first(self.vhosts.items(), n, lambda item: (-item[1].hits, item[0]))

    def _top(self, counts: Mapping[K, int], n: Optional[int]) -> List[Tuple[K, int, float]]:
        return [(key, hits, _share(hits, self.hits)) for key, hits in _ranked(counts, n)]

    # -- merging -----------------------------------------------------------------------------

    def followed_by(self, later: StatsSnapshot) -> StatsSnapshot:
        """As :meth:`merge`, for a span that came after this one in time even though its log
        times may overlap this one's (a log whose clock stepped back): the durations add."""
        merged = self.merge(later)
        if self.duration is None or later.duration is None:
            return merged
        return replace(merged, duration=self.duration + later.duration)

    def merge(self, other: StatsSnapshot) -> StatsSnapshot:
        """The statistics of both spans together (see the module documentation)."""
        return merged([self, other])


def merged(snapshots: Sequence[StatsSnapshot]) -> StatsSnapshot:
    """The statistics of all these spans together, capped once: ``merged([a, b])`` is ``a.merge(b)``.

    Every count adds up as in merges one by one; the keys are capped once, at the end, so a key
    is dropped only if it is not among the heaviest of all the spans together (merging one by
    one may drop a key that the later spans would have kept). The spans' times combine in order,
    as ``a.merge(b).merge(c)...`` does.
    """
    if not snapshots:
        raise ValueError("merged() needs at least one snapshot")
    first = snapshots[0]
    if len(snapshots) == 1:
        return first
    max_keys = max(snapshot.max_keys for snapshot in snapshots)
    sections = dict(first.sections)
    folded_sections = list(first.folded_sections)
    vhosts = {vhost: VhostStats(*stats) for vhost, stats in first.vhosts.items()}
    section_latency = {section: sketch.copy() for section, sketch in first.section_latency.items()}
    summed = {name: dict(getattr(first, name)) for name in _SUMMED}
    start, end, duration = first.start, first.end, first.duration
    latency, upstream = first.latency, first.upstream_latency
    for other in snapshots[1:]:
        add_into(sections, other.sections, _plus_stats)
        folded_sections = [a + b for a, b in zip(folded_sections, other.folded_sections)]
        for name, total in summed.items():
            add_into(total, getattr(other, name))
        add_into(vhosts, other.vhosts, _plus_stats)
        for section, sketch in other.section_latency.items():
            if section in section_latency:
                section_latency[section].merge(sketch)
            else:
                section_latency[section] = sketch.copy()
        duration = _merged_duration(start, end, duration, other)
        start, end = _earliest(start, other.start), _latest(end, other.end)
        latency, upstream = _merged_sketch(latency, other.latency), _merged_sketch(upstream, other.upstream_latency)

    folded = summed.pop("folded")
    if len(sections) > max_keys:
        heaviest = _heaviest(dict(zip(sections, map(itemgetter(0), sections.values()))), max_keys)
        dropped = list(map(sections.pop, sections.keys() - heaviest))  # the others go, in place
        folded_sections = [total + sum(map(itemgetter(column), dropped)) for column, total in enumerate(folded_sections)]
    folded[SECTIONS] = folded_sections[0]
    for name in (STATUS_CODES, METHODS, CLIENTS, USERS):
        summed[name], extra = _cap_counts(summed[name], max_keys)
        folded[name] = folded.get(name, 0) + extra
    clients = summed[CLIENTS]
    distinct = None
    if folded[CLIENTS]:
        distinct = _sketch_of_clients(snapshots)
        unique_clients = max(len(clients) + 1, distinct.estimate())
    else:
        unique_clients = len(clients)
    if len(vhosts) > max_keys:
        heaviest = _heaviest({vhost: entry.hits for vhost, entry in vhosts.items()}, max_keys)
        folded[VHOSTS] = folded.get(VHOSTS, 0) + sum(entry.hits for vhost, entry in vhosts.items()
                                                     if vhost not in heaviest)
        vhosts = {vhost: entry for vhost, entry in vhosts.items() if vhost in heaviest}
    if len(section_latency) > SECTION_SKETCHES:
        kept = _first(section_latency, SECTION_SKETCHES,
                      lambda name: (-sections.get(name, NO_SECTION_STATS).hits, name))
        section_latency = {name: section_latency[name] for name in kept}

    return StatsSnapshot(
        start=start,
        end=end,
        duration=duration,
        hits=sum(snapshot.hits for snapshot in snapshots),
        bytes_total=sum(snapshot.bytes_total for snapshot in snapshots),
        errors=sum(snapshot.errors for snapshot in snapshots),
        sections=sections,
        folded_sections=SectionStats(*folded_sections),
        status_codes=summed[STATUS_CODES],
        status_classes=summed["status_classes"],
        methods=summed[METHODS],
        clients=clients,
        users=summed[USERS],
        unique_clients=unique_clients,
        skipped=summed["skipped"],
        late=sum(snapshot.late for snapshot in snapshots),
        folded=folded,
        max_keys=max_keys,
        vhosts=vhosts,
        latency=latency,
        section_latency=section_latency,
        upstream_latency=upstream,
        filtered=summed["filtered"],
        distinct_clients=distinct,
    )


def _sketch_of_clients(snapshots: Sequence[StatsSnapshot]) -> DistinctSketch:
    """Every client of the snapshots, sketched: their sketches, and the clients of those without
    one (all tracked)."""
    sketch = DistinctSketch()
    for snapshot in snapshots:
        if snapshot.distinct_clients is not None:
            sketch.merge(snapshot.distinct_clients)
        else:
            sketch.add(list(snapshot.clients))
    return sketch


_SUMMED = ("folded", STATUS_CODES, "status_classes", METHODS, CLIENTS, USERS, "skipped", "filtered")
"""The mappings :func:`merged` adds key by key."""


def _merged_sketch(a: Optional[LatencySketch], b: Optional[LatencySketch]) -> Optional[LatencySketch]:
    if a is None or b is None:
        return a if b is None else b
    merged = a.copy()
    merged.merge(b)
    return merged


def _earliest(a: Optional[datetime], b: Optional[datetime]) -> Optional[datetime]:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: Optional[datetime], b: Optional[datetime]) -> Optional[datetime]:
    return b if a is None else a if b is None else max(a, b)


def _merged_duration(start: Optional[datetime], end: Optional[datetime], duration: Optional[float],
                     other: StatsSnapshot) -> Optional[float]:
    """The covered time of a span (``start``, ``end``, ``duration``) and ``other`` together."""
    if duration is None or other.duration is None:
        return None
    overlap = 0.0
    if start is not None and end is not None and other.start is not None and other.end is not None:
        overlap = max(0.0, (min(end, other.end) - max(start, other.start)).total_seconds())
    return max(duration + other.duration - overlap, duration, other.duration)


def _check_time(name: str, value: Optional[datetime]) -> None:
    if value is None:
        return
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime or None, not {value!r}")


def _check_counts(name: str, counts: Mapping[Any, int]) -> int:
    values = counts.values()
    if not values or (set(map(type, values)) == _INT and min(values) >= 0):
        return sum(values)  # the usual case, checked without a loop in Python
    total = 0
    for key, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name}[{key!r}] must be a non-negative int, not {count!r}")
        total += count
    return total


_INT = {int}


class _LeftOut(NamedTuple):
    """The hits of an :class:`Overflow`, checked: all of them (and their errors and bytes), and per
    dimension (users: with a user)."""

    hits: int
    errors: int
    bytes: int
    methods: int
    clients: int
    users: int


_LEFT_NONE = _LeftOut(0, 0, 0, 0, 0, 0)


def _check_overflow(overflow: Overflow) -> _LeftOut:
    """The hits of ``overflow``, checked as :func:`_check_counts` checks a mapping.

    :raises ValueError: for a count that is negative or not an int, columns of different
        lengths, errors above the hits, bytes for a section without hits, or statuses that do
        not add up to the sections' hits.
    """
    sections, hits, errors, size = overflow.sections, overflow.section_hits, overflow.section_errors, overflow.section_bytes
    if not len(sections) == len(hits) == len(errors) == len(size):
        raise ValueError("the overflow's section columns differ in length")
    totals = None if speedups is None else speedups.column_totals(hits, errors, size)
    total, errors_total, bytes_total = totals or column_totals_python(hits, errors, size)
    statuses = overflow.statuses
    if _check_counts("overflow.statuses", statuses) != total or not set(map(type, statuses)) <= _INT:
        raise ValueError("the overflow's statuses are not codes adding up to its sections' hits")
    if sum(count for status, count in statuses.items() if is_error(status)) != errors_total:
        raise ValueError("the overflow's error statuses do not add up to its sections' errors")
    if not _all_text(sections):
        raise ValueError("the overflow's sections must be str")
    if overflow.client_sketch is not None and not isinstance(overflow.client_sketch, DistinctSketch):
        raise ValueError("the overflow's client_sketch must be a DistinctSketch or None")
    parts = []
    for name in ("methods", "clients", "users"):
        keys, counts = getattr(overflow, name)
        if len(keys) != len(counts):
            raise ValueError(f"the overflow's {name} columns differ in length")
        if not _all_text(keys):
            raise ValueError(f"the overflow's {name} must be str")
        parts.append(_check_column(f"overflow.{name}", counts))
    keys, counts = overflow.users
    if "" in keys:  # the empty user counts nowhere
        parts[2] -= sum(compress(counts, map(not_, keys)))
    return _LeftOut(total, errors_total, bytes_total, *parts)


def column_totals_python(hits: Sequence[int], errors: Sequence[int], sizes: Sequence[int]) -> Tuple[int, int, int]:
    """The sums of an overflow's section columns, checked: the reference of the C accelerator's
    ``column_totals`` (one pass over columns of unsigned 64-bit ints, a log of random paths
    giving thousands of sections to every period).

    :raises ValueError: for a count that is negative or not an int, errors above the hits, or
        bytes for a section without hits.
    """
    total, errors_total = _check_column("overflow.section_hits", hits), _check_column("overflow.section_errors", errors)
    bytes_total = _check_column("overflow.section_bytes", sizes)
    # each test in one pass only when it may fail: cut counters have errors on few sections, and hits on all
    if (errors_total and any(map(gt, errors, hits))) or (0 in hits and any(map(bool, compress(sizes, map(not_, hits))))):
        raise ValueError("the overflow gives a section more errors than hits, or bytes without hits")
    return total, errors_total, bytes_total


def _check_column(name: str, counts: Sequence[int]) -> int:
    """The sum of a column of counts, checked as :func:`_check_counts` checks a mapping's."""
    if type(counts) is array and counts.typecode == "Q":  # counts by construction: the sum is the check
        return sum(counts)
    if not counts or (set(map(type, counts)) == _INT and min(counts) >= 0):
        return sum(counts)
    return _check_counts(name, dict(enumerate(counts)))


def _all_text(keys: Sequence[str]) -> bool:
    """Whether every key is a ``str`` (joining them checks it four times faster than their types;
    packed keys are text by construction)."""
    if isinstance(keys, PackedKeys):
        return True
    try:
        "".join(keys)
    except TypeError:
        return False
    return True


class Statistics:
    """Accumulates the records of one span of traffic; see the module documentation.

    :param max_keys: most keys tracked per dimension (sections, status codes, methods, clients,
        users); hits of further keys are folded and reported as such.
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive int, not {max_keys!r}")
        self.max_keys = max_keys
        self.reset()

    def reset(self) -> None:
        """Forget everything: start a new span."""
        self._sections: Dict[str, List[int]] = {}  # section -> [hits, errors, bytes]
        self._folded_section: List[int] = [0, 0, 0]
        self._status_codes: Dict[int, int] = {}
        self._methods: Dict[str, int] = {}
        self._clients: Dict[str, int] = {}
        self._users: Dict[str, int] = {}
        self._folded: Dict[str, int] = dict.fromkeys((*DIMENSIONS, VHOSTS), 0)
        self._folded_status_classes: Dict[str, int] = {}
        self._skipped: Dict[str, int] = {}
        self._filtered: Dict[str, int] = {}
        self._late = 0
        self._vhosts: Dict[str, List[int]] = {}  # vhost -> [hits, errors]
        self._latency: Optional[LatencySketch] = None
        self._section_latency: Dict[str, LatencySketch] = {}
        self._upstream: Optional[LatencySketch] = None
        self._distinct: Optional[DistinctSketch] = None  # every client, once clients were folded

    # -- input -------------------------------------------------------------------------------

    def add(self, record: LogRecord, late: bool = False) -> None:
        """Count one request; ``late`` marks a record whose own period was already reported."""
        self.add_counts(Counts.of_record(record), late=1 if late else 0)

    def add_counts(self, counts: Counts, late: int = 0, fold_unsent: bool = False) -> None:
        """Count many requests at once from their counters (what the engine's batches carry).

        :param counts: the requests' counters (see :class:`Counts`).
        :param late: how many of these hits arrived after their period was reported.
        :param fold_unsent: for counters whose overflow was :meth:`folded
            <monilog.accumulation.overflow.Overflow.folded>` where :meth:`folds_unread` is false:
            count the keys not sent in the folded figures anyway (every total stays exact; those
            keys' own counts are lost), rather than refuse them. What the engine does when the
            lines of such counters cannot be read again (a file that changed).
        :raises ValueError: when a count is negative or not an int, the counters disagree on
            the number of hits, bytes are given for a section without hits, or keys that were
            not sent would be read (see ``fold_unsent``). Nothing is counted then.
        """
        section_status, section_bytes, methods, clients, users, vhosts, latency, upstream, overflow = counts
        hits = _check_counts("section_status", section_status)
        left = _LEFT_NONE if overflow is None else _check_overflow(overflow)
        hits += left.hits
        totals = {METHODS: _check_counts("methods", methods), CLIENTS: _check_counts("clients", clients),
                  USERS: _check_counts("users", users)}
        for name, more in ((METHODS, left.methods), (CLIENTS, left.clients)):
            if totals[name] + more != hits:
                raise ValueError(f"{name} add up to {totals[name] + more} hits, section_status to {hits}")
        if totals[USERS] - users.get("", 0) + left.users > hits:
            raise ValueError("users add up to more hits than section_status")
        _check_counts("section_bytes", section_bytes)
        if overflow is not None and not overflow.sent and not fold_unsent and not self.folds_unread(counts):
            raise ValueError("the keys beyond this cut were not sent, and these statistics would read them: "
                             "count the records again")
        if isinstance(late, bool) or not isinstance(late, int) or not 0 <= late <= hits:
            raise ValueError(f"late must be an int between 0 and the hits ({hits}), not {late!r}")
        with_hits = set(compress(map(itemgetter(0), section_status), section_status.values()))
        stray = [section for section in section_bytes.keys() - with_hits if section_bytes[section]]
        if stray:
            raise ValueError(f"bytes given for sections without hits: {stray[:3]!r}")

        # the loops below run once per distinct key, millions of times on hostile logs: the
        # common cases (a tracked key; a new key when the dimension is full) are written inline,
        # and a batch of many keys into a full dimension is counted at once (_add_to_full...)
        sections, max_keys, folded_section = self._sections, self.max_keys, self._folded_section
        # dimensions the cut's first keys are about to fill from empty: its other keys are none of them
        fresh = frozenset() if overflow is None else \
            frozenset(name for name, target in ((SECTIONS, sections), (CLIENTS, self._clients)) if not target)
        get = sections.get
        status_codes = self._status_codes
        if len(sections) >= max_keys and len(section_status) > _BULK_KEYS:
            self._add_pairs_to_full_sections(section_status, section_bytes)
        elif not sections and len(section_status) > _BULK_KEYS and _plain(section_status, map(itemgetter(0), section_status)):
            self._add_pairs_to_empty_sections(section_status, section_bytes)
        else:
            for (section, status), count in section_status.items():
                if not count:
                    continue
                entry = get(section)
                if entry is None:
                    if len(section) > MAX_KEY_LENGTH:
                        entry = self._section_entry(section)
                    elif len(sections) >= max_keys:
                        entry = folded_section
                    else:
                        entry = sections[section] = [0, 0, 0]
                entry[0] += count
                if status in ERROR_CODES:
                    entry[1] += count
                if status in status_codes:
                    status_codes[status] += count
                else:
                    self._count_new(STATUS_CODES, status_codes, status, count)
            for section, size in section_bytes.items():
                if size:
                    entry = get(section)
                    if entry is None:
                        if len(sections) >= max_keys and len(section) <= MAX_KEY_LENGTH:
                            entry = folded_section
                        else:
                            entry = self._section_entry(section)
                    entry[2] += size
        for name, source, target in ((METHODS, methods, self._methods), (CLIENTS, clients, self._clients),
                                     (USERS, users, self._users)):
            if len(target) >= max_keys and len(source) > _BULK_KEYS:
                self._add_to_full(name, target, source, totals[name])
                continue
            if not target and len(source) > _BULK_KEYS and _plain(source, source) and (name != USERS or "" not in source):
                # the first max_keys keys join, in their order, and the others fold, as the loop below would count them
                target.update(islice(source.items(), max_keys))
                self._folded[name] += totals[name] - sum(target.values())
                continue
            folded = 0
            for key, count in source.items():
                if key in target:
                    target[key] += count
                elif not count or (name == USERS and not key):
                    continue
                elif len(key) > MAX_KEY_LENGTH:
                    self._count_new(name, target, key, count)
                elif len(target) >= max_keys:
                    folded += count
                else:
                    target[key] = count
            self._folded[name] += folded
        if overflow is not None:
            self._add_overflow(overflow, fresh, left)
        if self._folded[CLIENTS]:
            self._sketch_clients(compress(clients, clients.values()))
            if overflow is not None and overflow.client_sketch is not None and isinstance(overflow.clients.keys, PackedKeys):
                self._distinct.merge(overflow.client_sketch)  # type: ignore[union-attr]  # made just above
            elif overflow is not None:  # clients not packed by a cut (by hand?): its sketch may not be theirs
                self._sketch_clients(compress(*overflow.clients))
        self._late += late
        if vhosts:
            self._add_vhosts(vhosts)
        if latency:
            self._add_latency(latency)
        if upstream:
            if self._upstream is None:
                self._upstream = LatencySketch()
            self._upstream.merge(upstream)

    def folds_unread(self, counts: Counts) -> bool:
        """Whether :meth:`add_counts` folds the sections and clients beyond ``counts``'s cut
        without reading them: of each of those dimensions the cut has keys beyond, these
        statistics track none yet, and the keys before the cut fill it (:func:`fills_empty`).
        Counters whose overflow was :meth:`folded <monilog.accumulation.overflow.Overflow.folded>`
        are applied exactly then, and refused otherwise (unless folded on purpose, see
        :meth:`add_counts`)."""
        overflow = counts.overflow
        if overflow is None:
            return True
        if (len(overflow.sections) and self._sections) or (len(overflow.clients.keys) and self._clients):
            return False
        return fills_empty(counts, self.max_keys)

    def _add_overflow(self, overflow: Overflow, fresh: FrozenSet[str], left: _LeftOut) -> None:
        """Apply the keys beyond a cut (:meth:`Counts.cut`) as the loops of :meth:`add_counts` would
        have, after the keys before it: one by one while a dimension has room, then, once it is
        full, the tracked keys among them found by a set intersection and the others folded at
        once. A dimension in ``fresh`` was empty before the cut's first keys: once they fill it,
        it tracks none of the other keys (none is one of the cut's first keys; only one cut to
        :data:`~monilog.accumulation.counts.MAX_KEY_LENGTH` could be one of them), which are folded by the totals ``left``
        that checking them summed, without reading them when they are packed as the cut packs
        them (see :func:`_beyond`)."""
        sections, section_keys, max_keys = self._sections, overflow.sections, self.max_keys
        columns = (overflow.section_hits, overflow.section_errors, overflow.section_bytes)
        taken = 0
        unsent = isinstance(section_keys, UnsentKeys)  # folded unread (add_counts checked that it may)
        while not unsent and taken < len(section_keys) and len(sections) < max_keys:
            self._add_section_row(section_keys[taken], *(column[taken] for column in columns))
            taken += 1
        if taken < len(section_keys):  # the sections are full: each key is tracked already, or folded
            if unsent or (not taken and SECTIONS in fresh and _beyond(sections, section_keys)):
                for column, total in enumerate((left.hits, left.errors, left.bytes)):
                    self._folded_section[column] += total
            else:
                self._add_to_full_sections(_keys_from(section_keys, taken), *(list(islice(column, taken, None)) for column in columns))
        self._add_statuses(overflow.statuses)
        for name, target, (keys, hits) in ((METHODS, self._methods, overflow.methods),
                                           (CLIENTS, self._clients, overflow.clients), (USERS, self._users, overflow.users)):
            if isinstance(keys, UnsentKeys):  # folded unread (add_counts checked that it may)
                self._folded[name] += sum(hits)
                continue
            taken = 0
            while taken < len(keys) and len(target) < max_keys:
                self._add_key(name, target, keys[taken], hits[taken])
                taken += 1
            if taken < len(keys):  # the dimension is full: each key is tracked already, or folded
                if not taken and name == CLIENTS and CLIENTS in fresh and _beyond(target, keys):
                    self._folded[CLIENTS] += left.clients
                    continue
                rest_hits = list(islice(hits, taken, None))
                self._add_to_full(name, target, Columns(_keys_from(keys, taken), rest_hits), sum(rest_hits))

    def _add_to_full(self, name: str, target: Dict[str, int], counts: Union[Mapping[str, int], Columns],
                     total: int) -> None:
        """Count ``counts`` (``total`` hits in all; columns, in which a key may repeat, are summed
        only when needed) into a dimension that holds ``max_keys`` keys, as the loops of
        :meth:`add_counts` would, without a Python step per key: the keys it tracks are found by
        a set intersection, the others folded at once. No key joins a full dimension, so the
        order of the keys does not matter; a long key is counted on its own, as it is cut first
        and may then be a tracked key."""
        folded = total
        keys = counts.keys if isinstance(counts, Columns) else counts
        if _none_tracked(target, keys) and (name != USERS or "" not in keys):  # the empty user counts nowhere
            self._folded[name] += folded  # a log of random clients: no set built
            return
        if isinstance(counts, Columns):
            counts = summed(list(counts.keys), list(counts.hits))
        if max(map(len, counts)) > MAX_KEY_LENGTH:
            for key in [key for key in counts if len(key) > MAX_KEY_LENGTH]:
                self._add_key(name, target, key, counts[key])
                folded -= counts[key]
        for key in target.keys() & counts.keys():
            count = counts[key]
            target[key] += count
            folded -= count
        if name == USERS:
            folded -= counts.get("", 0)  # the empty user counts nowhere
        self._folded[name] += folded

    def _add_to_full_sections(self, names: List[str], hits: List[int], errors: List[int], sizes: List[int]) -> None:
        """Count rows of sections (a name may repeat) when the sections are full, as the loops of
        :meth:`add_counts` would, without a Python step per row (see :meth:`_add_to_full`): the
        rows of tracked sections, and of long names (cut, they may be tracked), one by one; the
        others' hits, errors and bytes folded at once."""
        sections = self._sections
        if _none_tracked(sections, names):  # a log of random paths: all folded at once
            for column, values in enumerate((hits, errors, sizes)):
                self._folded_section[column] += sum(values)
            return
        if names and max(map(len, names)) > MAX_KEY_LENGTH:
            wanted: Callable[[str], bool] = lambda name: name in sections or len(name) > MAX_KEY_LENGTH  # noqa: E731
        else:
            wanted = sections.__contains__
        beyond = [sum(hits), sum(errors), sum(sizes)]
        for name, *row in compress(zip(names, hits, errors, sizes), map(wanted, names)):
            if any(row):
                entry = sections.get(name) or self._section_entry(name)  # the folded entry for a long name not tracked
                for column, value in enumerate(row):
                    entry[column] += value
                    beyond[column] -= value
        for column, amount in enumerate(beyond):
            self._folded_section[column] += amount

    def _add_pairs_to_full_sections(self, section_status: Mapping[Tuple[str, int], int],
                                    section_bytes: Mapping[str, int]) -> None:
        """:meth:`add_counts`'s loops over ``section_status`` and ``section_bytes`` when the
        sections are full: their rows through :meth:`_add_to_full_sections`, each status code
        counted once."""
        names, statuses, counts = pair_columns(section_status)
        nothing = [0] * len(names)
        self._add_to_full_sections(names, counts, error_hits(counts, statuses), nothing)
        sized = list(section_bytes)
        nothing = [0] * len(sized)
        self._add_to_full_sections(sized, nothing, nothing, list(section_bytes.values()))
        # zero counts left out before summing: a status first seen without hits must not take its place early
        self._add_statuses(summed(list(compress(statuses, counts)), list(compress(counts, counts))))

    def _add_pairs_to_empty_sections(self, section_status: Mapping[Tuple[str, int], int],
                                     section_bytes: Mapping[str, int]) -> None:
        """:meth:`add_counts`'s loops over ``section_status`` and ``section_bytes`` when the sections
        are empty and no key is to be cut (see :func:`_plain`): the entries of the first
        ``max_keys`` sections made at once, in first-seen order, and the others folded at once."""
        names, statuses, counts = pair_columns(section_status)
        hits, errors = summed(names, counts), summed(names, error_hits(counts, statuses))
        tracked = list(islice(hits, self.max_keys))
        entries = list(map(list, zip(map(hits.__getitem__, tracked), map(errors.__getitem__, tracked),
                                     map(section_bytes.get, tracked, repeat(0)))))
        self._sections.update(zip(tracked, entries))
        if len(hits) > len(tracked):
            for column, total in enumerate((sum(counts), sum(errors.values()), sum(section_bytes.values()))):
                self._folded_section[column] += total - sum(map(itemgetter(column), entries))
        self._add_statuses(summed(statuses, counts))

    def _add_statuses(self, statuses: Mapping[int, int]) -> None:
        """``status → hits`` counted as :meth:`add_counts`'s loop counts each pair's status (a
        status with no hits adds no key)."""
        status_codes = self._status_codes
        for status, count in statuses.items():
            if status in status_codes:
                status_codes[status] += count
            elif count:
                self._count_new(STATUS_CODES, status_codes, status, count)

    def _add_section_row(self, section: str, hits: int, errors: int, size: int) -> None:
        """One section's hits, errors and bytes, as :meth:`add_counts` counts them."""
        if hits:
            entry = self._sections.get(section) or self._section_entry(section)
            entry[0] += hits
            entry[1] += errors
            entry[2] += size

    def _add_key(self, name: str, target: Dict[str, int], key: str, hits: int) -> None:
        """One key's hits, as :meth:`add_counts` counts them."""
        if key in target:
            target[key] += hits
        elif hits and (name != USERS or key):
            self._count_new(name, target, key, hits)

    def _sketch_clients(self, clients: Iterable[str]) -> None:
        """Sketch these clients (those with hits), and the tracked ones when clients have just
        overflowed; each as it is counted (cut when long), so that a long client is one whether
        it was tracked or not."""
        if self._distinct is None:
            self._distinct = DistinctSketch()
            self._distinct.add(list(self._clients))
        self._distinct.add(cut_keys(clients))

    def _add_vhosts(self, vhosts: Dict[str, List[int]]) -> None:
        mine = self._vhosts
        for vhost, (hits, errors) in vhosts.items():
            entry = mine.get(vhost)
            if entry is None:
                vhost = cut_key(vhost)
                entry = mine.get(vhost)
                if entry is None:
                    if len(mine) >= self.max_keys:
                        self._folded[VHOSTS] += hits
                        continue
                    entry = mine[vhost] = [0, 0]
            entry[0] += hits
            entry[1] += errors

    def _add_latency(self, latency: Dict[str, LatencySketch]) -> None:
        if self._latency is None:
            self._latency = LatencySketch()
        overall, per_section = self._latency, self._section_latency
        for section, sketch in latency.items():
            overall.merge(sketch)
            kept = per_section.get(section)
            if kept is None:
                section = cut_key(section)
                kept = per_section.get(section)
                if kept is None:
                    if len(per_section) >= SECTION_SKETCHES:
                        continue
                    kept = per_section[section] = LatencySketch()
            kept.merge(sketch)

    def add_skipped(self, reason: str, count: int = 1) -> None:
        """Count ``count`` lines skipped as unparsable, under ``reason`` (e.g. ParseError.reason), or
        left out by a filter (a reason starting with :data:`~monilog.parsing.filters.FILTERED`)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative int, not {count!r}")
        if is_filtered(reason):
            name = reason[len(FILTERED):]
            self._filtered[name] = self._filtered.get(name, 0) + count
        else:
            self._skipped[reason] = self._skipped.get(reason, 0) + count

    # -- output ------------------------------------------------------------------------------

    def snapshot(self, start: Optional[datetime] = None, end: Optional[datetime] = None) -> StatsSnapshot:
        """Immutable statistics of what was added so far, covering ``start`` to ``end``.

        :raises ValueError: for naive datetimes or an end before the start.
        """
        _check_time("start", start)
        _check_time("end", end)
        duration = None
        if start is not None and end is not None:
            duration = (end - start).total_seconds()
            if duration < 0:
                raise ValueError(f"end {end} is before start {start}")
        sections = dict(zip(self._sections, map(_section_stats, self._sections.values())))
        folded_sections = SectionStats._make(self._folded_section)
        tracked = list(map(sum, zip(*self._sections.values()))) if sections else [0, 0, 0]  # hits, errors, bytes
        classes = dict.fromkeys(STATUS_CLASSES, 0)
        for code, hits in self._status_codes.items():
            name = status_class(code)
            classes[name] = classes.get(name, 0) + hits
        for name, hits in self._folded_status_classes.items():
            classes[name] = classes.get(name, 0) + hits
        folded = dict(self._folded)
        folded[SECTIONS] = folded_sections.hits
        distinct = self._distinct
        unique_clients = len(self._clients) if distinct is None else max(len(self._clients) + 1, distinct.estimate())
        return StatsSnapshot(
            start=start,
            end=end,
            duration=duration,
            hits=tracked[0] + folded_sections.hits,
            bytes_total=tracked[2] + folded_sections.bytes,
            errors=tracked[1] + folded_sections.errors,
            sections=sections,
            folded_sections=folded_sections,
            status_codes=self._status_codes,
            status_classes=classes,
            methods=self._methods,
            clients=self._clients,
            users=self._users,
            unique_clients=unique_clients,
            skipped=self._skipped,
            late=self._late,
            folded=folded,
            max_keys=self.max_keys,
            vhosts={vhost: VhostStats(*entry) for vhost, entry in self._vhosts.items()},
            latency=None if self._latency is None else self._latency.copy(),
            section_latency={section: sketch.copy() for section, sketch in self._section_latency.items()},
            upstream_latency=None if self._upstream is None else self._upstream.copy(),
            filtered=self._filtered,
            distinct_clients=None if distinct is None else distinct.copy(),
        )

    # -- slow paths: first sight of a key ----------------------------------------------------

    def _section_entry(self, section: str) -> List[int]:
        """The counters of a section seen for the first time (or with an over-long name)."""
        section = cut_key(section)
        entry = self._sections.get(section)
        if entry is None:
            if len(self._sections) >= self.max_keys:
                return self._folded_section
            entry = self._sections[section] = [0, 0, 0]
        return entry

    def _count_new(self, dimension: str, counts: Dict[Any, int], key: Any, hits: int) -> None:
        """Count ``hits`` for a key not (yet) in ``counts``: add it, or fold when full."""
        key = cut_key(key)
        if key in counts:
            counts[key] += hits
        elif len(counts) < self.max_keys:
            counts[key] = hits
        else:
            self._folded[dimension] += hits
            if dimension == STATUS_CODES:
                name = status_class(key)
                self._folded_status_classes[name] = self._folded_status_classes.get(name, 0) + hits
