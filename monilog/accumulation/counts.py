"""Counters of a set of records (:class:`Counts`), how a block's tally becomes them
(:class:`CountRows`, :meth:`Counts.of_rows`) and their cut (:meth:`Counts.cut`): what
:meth:`Statistics.add_counts <monilog.accumulation.statistics.Statistics.add_counts>` applies.

A cut keeps the first ``max_keys`` keys of each dimension as mappings and the others as an
:class:`~monilog.accumulation.overflow.Overflow`, whose module holds the data and how it travels;
:mod:`monilog.accumulation.statistics` holds how it is applied. Keys are also cut in length:
:data:`MAX_KEY_LENGTH` and :func:`cut_key` / :func:`cut_keys` are that rule's one home, and
:func:`pair_columns` turns (section, status) counters into the three columns they are applied as.
"""

from __future__ import annotations

from itertools import compress, islice, repeat
from operator import itemgetter, not_
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from monilog.accumulation.distinct import DistinctSketch
from monilog.accumulation.overflow import MIN_CUT_KEYS, Columns, Overflow, columns_after, count_column, first_keys, pack_keys
from monilog.accumulation.sketch import LatencySketch
from monilog.accumulation.status import error_hits, is_error
from monilog.accumulation.summing import K, add_into, summed
from monilog.parsing.record import LogRecord

MAX_KEY_LENGTH = 256
"""Longer keys (paths, user names, hosts...) are cut to this many characters."""


class Counts(NamedTuple):
    """Counters of a set of records: what :meth:`~monilog.accumulation.statistics.Statistics.add_counts` takes.

    Keys are in the order they were first seen (statistics capped at ``max_keys`` keep the first).
    """

    section_status: Dict[Tuple[str, int], int]
    """``(section, status) → hits``: defines the hits."""
    section_bytes: Dict[str, int]
    """``section → bytes`` sent (sections without bytes may be absent)."""
    methods: Dict[str, int]
    """``method → hits``; adds up to the hits."""
    clients: Dict[str, int]
    """``host → hits``; adds up to the hits."""
    users: Dict[str, int]
    """``user → hits``; the empty user (no user logged) may be absent."""
    vhosts: Optional[Dict[str, List[int]]] = None
    """``vhost → [hits, errors]`` when the format logs virtual hosts."""
    latency: Optional[Dict[str, LatencySketch]] = None
    """``section → durations`` (seconds) when the format logs them."""
    upstream: Optional[LatencySketch] = None
    """Upstream response times (seconds) when the format logs them."""

    overflow: Optional[Overflow] = None
    """The keys beyond the first ``max_keys`` of each dimension, when :meth:`cut`."""

    def plus(self, other: Counts) -> Counts:
        """These counters with ``other``'s added (into this one's mappings); keys new here go last.

        :raises ValueError: when either was :meth:`cut` (cut counters are only applied).
        """
        if self.overflow is not None or other.overflow is not None:
            raise ValueError("counters that were cut cannot be added to")
        pairs: Tuple[Tuple[Dict[Any, int], Dict[Any, int]], ...] = (
            (self.section_status, other.section_status), (self.section_bytes, other.section_bytes),
            (self.methods, other.methods), (self.clients, other.clients), (self.users, other.users))
        for mine, theirs in pairs:
            add_into(mine, theirs)
        vhosts, latency, upstream = self.vhosts, self.latency, self.upstream
        if other.vhosts:
            vhosts = {} if vhosts is None else vhosts
            for vhost, (hits, errors) in other.vhosts.items():
                entry = vhosts.setdefault(vhost, [0, 0])
                entry[0] += hits
                entry[1] += errors
        if other.latency:
            latency = {} if latency is None else latency
            for section, sketch in other.latency.items():
                if section in latency:
                    latency[section].merge(sketch)
                else:
                    latency[section] = sketch.copy()
        if other.upstream:
            if upstream is None:
                upstream = other.upstream.copy()
            else:
                upstream.merge(other.upstream)
        return self._replace(vhosts=vhosts, latency=latency, upstream=upstream)

    @property
    def hits(self) -> int:
        """How many records these are."""
        hits = sum(self.section_status.values())
        return hits if self.overflow is None else hits + sum(self.overflow.section_hits)

    def cut(self, max_keys: int) -> Counts:
        """These counters with each keyed dimension (sections, methods, clients, users) cut
        after its first ``max_keys`` keys, the rest kept as an :class:`Overflow`.

        :meth:`~monilog.accumulation.statistics.Statistics.add_counts` gives the same statistics for the cut counters as for these,
        whatever it held before, when its own ``max_keys`` is :data:`MIN_CUT_KEYS` or more (as
        the engine's always is: it cuts at that ``max_keys``): the keys beyond the cut are applied
        in their order, through dict and set operations rather than a Python step per key. That
        is what makes a log of random paths cheap to apply, and to send from a worker process.
        The overflow carries the distinct-clients sketch of its clients, made here (in a replay's
        worker, or where a followed block is counted) so that the statistics merge it rather than
        hash them. Counters with no dimension over ``max_keys`` come back as they are, and so do
        counters with a zero or negative count, negative bytes or bytes for a section without
        hits (which the engine never makes, and ``add_counts`` treats key by key or refuses). Status codes, virtual
        hosts and durations are never cut.

        :raises ValueError: when ``max_keys`` is below :data:`MIN_CUT_KEYS`.
        """
        check_cut(max_keys)
        section_status = self.section_status
        if self.overflow is not None or max(len(section_status), len(self.methods), len(self.clients),
                                            len(self.users)) <= max_keys:
            return self
        sections, statuses, hits = pair_columns(section_status)
        seen = dict.fromkeys(sections)  # in first-seen order
        if max(len(seen), len(self.methods), len(self.clients), len(self.users)) <= max_keys:
            return self
        size = self.section_bytes
        if min(min(counts.values(), default=1) for counts in (section_status, self.methods, self.clients, self.users)) < 1 \
                or min(size.values(), default=0) < 0 or not size.keys() <= seen.keys():
            return self  # a zero or negative count, negative bytes: add_counts takes these key by key, or refuses them
        if len(seen) == len(sections):  # each section has one status (a log of random paths): the cut is a slice
            kept = dict(islice(section_status.items(), max_keys))
            left, left_statuses, left_hits = sections[max_keys:], statuses[max_keys:], hits[max_keys:]
            hits_column = count_column(left_hits)
            errors_column = count_column(error_hits(left_hits, left_statuses))
        else:
            kept_mask = list(map(set(islice(seen, max_keys)).__contains__, sections))
            left_mask = list(map(not_, kept_mask))
            kept = summed(list(zip(compress(sections, kept_mask), compress(statuses, kept_mask))),
                          list(compress(hits, kept_mask)))
            left_sections = list(compress(sections, left_mask))
            left_statuses = list(compress(statuses, left_mask))
            left_hits = list(compress(hits, left_mask))
            section_hits = summed(left_sections, left_hits)
            left = list(section_hits)
            hits_column = count_column(section_hits.values())
            errors_column = count_column(summed(left_sections, error_hits(left_hits, left_statuses)).values())
        if len(size) == len(seen) and list(size) == list(seen):  # every section has bytes, in the same order
            bytes_column = count_column(islice(size.values(), max_keys, None))
        else:
            bytes_column = count_column(map(size.get, left, repeat(0)))
        overflow = _cut_overflow(left, hits_column, errors_column, bytes_column, summed(left_statuses, left_hits),
                                 *(columns_after(counts, max_keys) for counts in (self.methods, self.clients, self.users)))
        return self._replace(
            section_status=kept, section_bytes={section: size[section] for section in islice(seen, max_keys) if section in size},
            methods=first_keys(self.methods, max_keys), clients=first_keys(self.clients, max_keys),
            users=first_keys(self.users, max_keys), overflow=overflow)

    @classmethod
    def of_rows(cls, rows: CountRows, max_keys: Optional[int] = None) -> Counts:
        """The counters of ``rows`` (without virtual hosts or durations); when ``max_keys`` is
        given, cut after that many keys, with the statistics of ``Counts.of_rows(rows).cut(max_keys)``.

        A cut dimension whose first ``max_keys`` rows are distinct keys is cut without summing
        its later rows (a log of random paths and clients, every period): those of a first key
        are added to it, and the others go to the :class:`Overflow` as they are, where a key may
        repeat (:meth:`~monilog.accumulation.statistics.Statistics.add_counts` sums them). Sections are cut so when each of their
        rows also gives its bytes; otherwise their rows are summed first, then cut as :meth:`cut`
        cuts. Unsummed, the overflow has a row per later row: at most one per record.
        """
        sections, statuses, hits, sized, sizes = rows.sections, rows.statuses, rows.hits, rows.sized, rows.sizes
        if max_keys is None or min(min(hits, default=1), min(rows.client_hits, default=1), min(rows.user_hits, default=1)) < 1:
            whole = cls._summed(rows, summed(list(zip(sections, statuses)), hits), summed(sized, sizes))
            return whole if max_keys is None else whole.cut(max_keys)
        check_cut(max_keys)
        split = _split_rows(sections, hits, max_keys) if sized == sections and min(sizes, default=0) >= 0 else None
        if split is None:
            section_status, section_bytes = summed(list(zip(sections, statuses)), hits), summed(sized, sizes)
            if len(section_status) > max_keys and len(dict.fromkeys(map(itemgetter(0), section_status))) > max_keys:
                return cls._summed(rows, section_status, section_bytes).cut(max_keys)  # rows that need summing
            left: List[str] = []
            left_hits: List[int] = []
            left_statuses: List[int] = []
            left_sizes: List[int] = []
        else:
            tracked = split[1]
            section_status = dict(zip(zip(sections[:max_keys], statuses), hits))
            section_bytes = dict(zip(sections[:max_keys], sizes))
            first_rows, (left, left_hits, left_statuses, left_sizes) = _parted(
                tracked, sections[max_keys:], hits[max_keys:], statuses[max_keys:], sizes[max_keys:])
            for section, count, status, size in first_rows:  # rows of a first section: counted under it
                pair = (section, status)
                section_status[pair] = section_status.get(pair, 0) + count
                section_bytes[section] += size
        (methods, left_methods), (clients, left_clients), (users, left_users) = (
            _cut_dimension(keys, counts, max_keys)
            for keys, counts in ((rows.methods, hits), (rows.clients, rows.client_hits), (rows.users, rows.user_hits)))
        if not (len(left) or len(left_methods.keys) or len(left_clients.keys) or len(left_users.keys)):
            return cls(section_status, section_bytes, methods, clients, users)
        overflow = _cut_overflow(left, count_column(left_hits), count_column(error_hits(left_hits, left_statuses)),
                                 count_column(left_sizes), summed(left_statuses, left_hits),
                                 left_methods, left_clients, left_users)
        return cls(section_status, section_bytes, methods, clients, users, overflow=overflow)

    @classmethod
    def _summed(cls, rows: CountRows, section_status: Dict[Tuple[str, int], int], section_bytes: Dict[str, int]) -> Counts:
        """The counters of ``rows`` whose sections were summed into these."""
        return cls(section_status, section_bytes, summed(rows.methods, rows.hits), summed(rows.clients, rows.client_hits),
                   summed(rows.users, rows.user_hits) if rows.users else {})

    @classmethod
    def of_record(cls, record: LogRecord) -> Counts:
        """The counters of one record."""
        latency = upstream = None
        if record.duration is not None:
            sketch = LatencySketch()
            sketch.add(record.duration)
            latency = {record.section: sketch}
        if record.upstream is not None:
            upstream = LatencySketch()
            upstream.add(record.upstream)
        return cls(
            {(record.section, record.status): 1}, {record.section: record.size}, {record.method: 1},
            {record.host: 1}, {record.user: 1} if record.user else {},
            {record.vhost: [1, int(is_error(record.status))]} if record.vhost else None, latency, upstream,
        )


class CountRows(NamedTuple):
    """Records counted by key as logged, as rows in first-seen order: what :meth:`Counts.of_rows`
    sums into counters. A key may be on several rows (keys logged apart that decode to one:
    two paths of one section, a host with two users)."""

    sections: List[str]
    """The section of each distinct (request, status) as logged, ..."""
    statuses: List[int]
    """... its status, ..."""
    hits: List[int]
    """... its hits, ..."""
    methods: List[str]
    """... and its method."""
    sized: List[str]
    """The section of each distinct request as logged, ..."""
    sizes: List[int]
    """... and its bytes."""
    clients: List[str]
    """The host of each distinct client as logged, ..."""
    client_hits: List[int]
    """... and its hits."""
    users: List[str]
    """The user of each distinct client as logged that names one, ..."""
    user_hits: List[int]
    """... and its hits."""


def _cut_overflow(sections: Sequence[str], hits: Sequence[int], errors: Sequence[int], sizes: Sequence[int],
                  statuses: Dict[int, int], methods: Columns, clients: Columns, users: Columns) -> Overflow:
    """The overflow of a cut, as it travels: its keys packed (:func:`pack_keys`, which statistics
    fold without reading them) and the sketch of its clients, each cut as it is counted (which
    statistics merge rather than hash them)."""
    sketch = None
    if clients.keys:
        sketch = DistinctSketch()
        sketch.add(cut_keys(clients.keys))
    methods, clients, users = (columns._replace(keys=pack_keys(columns.keys)) for columns in (methods, clients, users))
    return Overflow(pack_keys(sections), hits, errors, sizes, statuses, methods, clients, users, sketch)


def _split_rows(keys: List[str], hits: List[int], max_keys: int) -> Optional[Tuple[Dict[str, int], Optional[List[bool]]]]:
    """The first ``max_keys`` rows as counters, when they are distinct keys, and which later rows
    are one of them (None when none is: a log of random keys). None when those rows repeat a key,
    or there are no later rows."""
    if len(keys) <= max_keys:
        return None
    kept = dict(zip(keys[:max_keys], hits))
    if len(kept) < max_keys:
        return None
    rest = keys[max_keys:]
    return kept, None if kept.keys().isdisjoint(rest) else list(map(kept.__contains__, rest))


def _parted(tracked: Optional[List[bool]], *columns: List[Any]) -> Tuple[List[Tuple[Any, ...]], Tuple[List[Any], ...]]:
    """The later rows of ``columns`` whose key is one of the first keys (``tracked``, from
    :func:`_split_rows`), as rows, and the others, as columns: all of them when ``tracked`` is None."""
    if tracked is None:
        return [], columns
    left = list(map(not_, tracked))
    return list(compress(zip(*columns), tracked)), tuple(list(compress(column, left)) for column in columns)


def _cut_dimension(keys: List[str], hits: List[int], max_keys: int) -> Tuple[Dict[str, int], Columns]:
    """The rows of one dimension summed and cut after ``max_keys`` keys, as :meth:`Counts.cut`
    cuts it: when :func:`_split_rows` splits them, the later rows of a first key are added to it
    and the others go beyond the cut unsummed."""
    split = _split_rows(keys, hits, max_keys)
    if split is None:
        counts = summed(keys, hits)
        return first_keys(counts, max_keys), columns_after(counts, max_keys)
    kept, tracked = split
    first_rows, (rest, rest_hits) = _parted(tracked, keys[max_keys:], hits[max_keys:])
    for key, count in first_rows:
        kept[key] += count
    return kept, Columns(rest, count_column(rest_hits))


def check_cut(max_keys: int) -> None:
    """Refuse to cut counters after fewer than :data:`MIN_CUT_KEYS` keys (a ValueError)."""
    if max_keys < MIN_CUT_KEYS:
        raise ValueError(f"counters are cut after at least {MIN_CUT_KEYS} keys, not {max_keys}")


def cut_key(key: K) -> K:
    """``key`` as it is counted: a text longer than :data:`MAX_KEY_LENGTH` cut to that length, ending in ``…``."""
    if isinstance(key, str) and len(key) > MAX_KEY_LENGTH:
        return key[: MAX_KEY_LENGTH - 1] + "…"  # type: ignore[return-value]
    return key


def cut_keys(keys: Iterable[str]) -> List[str]:
    """``keys`` as they are counted: each longer than :data:`MAX_KEY_LENGTH` cut (a Python step
    per key only when one is)."""
    keys = list(keys)
    return list(map(cut_key, keys)) if keys and max(map(len, keys)) > MAX_KEY_LENGTH else keys


def pair_columns(section_status: Mapping[Tuple[str, int], int]) -> Tuple[List[str], List[int], List[int]]:
    """The sections, statuses and hits of ``section_status``, as three columns in its order."""
    pairs = list(section_status)
    return list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs)), list(section_status.values())

