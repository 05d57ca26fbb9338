"""Columns of parsed lines to what the monitor applies: per-second runs and per-period counters.

This is the middle of the one engine (:mod:`monilog.monitor` has the whole picture)::

    lines → parse_block (columns) → aggregate (Batch of Segments) → Monitor.apply → Statistics, Alerter

A :class:`Batch` holds the records of a block of lines as :class:`Segment` s: consecutive records
whose seconds fall in one aligned span (a report period; one second when files are merged) and
share a UTC offset. A segment keeps its records' seconds as *runs* (``(second, hits)`` of
consecutive records with the same second, in line order, which is all the clock and alert rules
need) and its counters as :class:`Counts`, ready for :meth:`Statistics.add_counts
<monilog.accumulation.statistics.Statistics.add_counts>`. Lines skipped between records are kept
with the run they come before, so they reach the same report as line by line.

Nothing here depends on the monitor's state: a batch can be made in a worker process and applied
later. When the monitor needs the counters of a part of a segment (a line held back by the clock
rules, a run refused), :meth:`Batch.counts` counts any range of records again from the columns,
which a batch made elsewhere loads again on demand (:attr:`Batch.loader`).

Counters keep the order in which keys were first seen, so statistics capped at ``max_keys`` keep
the same keys whichever way their records were grouped.
"""

from __future__ import annotations

import itertools
import sys
from bisect import bisect_left
from collections import Counter
from datetime import tzinfo
from itertools import compress, islice
from operator import ne, sub
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from monilog.accelerator import speedups
from monilog.accumulation.counts import MAX_KEY_LENGTH, CountRows, Counts, check_cut
from monilog.accumulation.distinct import DistinctSketch
from monilog.accumulation.overflow import Columns, Overflow, PackedKeys, packed_count_column
from monilog.accumulation.sketch import LatencySketch
from monilog.accumulation.status import ERROR_FLAGS, is_error
from monilog.accumulation.summing import K, summed_python
from monilog.parsing import section
from monilog.parsing.block import LINE_KEYS, decode_status, decode_statuses
from monilog.parsing.columns import KeyDecoder, ParsedBlock, split_block, split_pairs

INFINITY = float("inf")


class Segment(NamedTuple):
    """Consecutive records of a batch in one aligned span of time with one UTC offset."""

    epoch: int
    """Second of the first record (the merge key, as a record's ``epoch``)."""
    span: int
    """Start of the aligned span of time the segment's seconds fall in."""
    runs: List[Tuple[int, int]]
    """``(second, hits)`` of consecutive records with the same second, in line order."""
    zone: tzinfo
    counts: Counts
    skips: List[Tuple[int, str]]
    """``(run index, reason)`` of each line skipped before that run (after the run before it began)."""
    first: int
    """Index of the segment's first record in the batch."""


class Batch:
    """The records of a block of lines of one source, aggregated; see the module documentation."""

    __slots__ = ("columns", "lines", "loader", "records", "segments", "skipped_after")

    def __init__(self, segments: List[Segment], skipped_after: List[str], lines: int, records: int,
                 columns: Optional[ParsedBlock]) -> None:
        self.segments = segments
        self.skipped_after = skipped_after
        """Reasons of the lines skipped after the last record's run began."""
        self.lines = lines
        """Lines read, records and blank, directive and skipped lines alike."""
        self.records = records
        """Records in the batch."""
        self.columns = columns
        """The parsed columns, or None for a batch made elsewhere (see :attr:`loader`)."""
        self.loader: Optional[Callable[[], ParsedBlock]] = None
        """Parses the batch's lines again, for a batch whose columns were not kept."""

    def counts(self, start: int, end: int) -> Counts:
        """The counters of records ``start`` to ``end`` (batch indices)."""
        columns = self.columns
        if columns is None:
            if self.loader is None:
                raise ValueError("this batch has neither its columns nor a way to load them")
            columns = self.columns = self.loader()
            if len(columns.stamps) != self.records:
                raise ValueError("the lines read again are not the ones aggregated")
        return count_records(columns, start, end)

    def extend(self, other: Batch) -> None:
        """Append the batch of the lines that follow this one's (a worker joins a chunk's pieces)."""
        segments = [segment._replace(first=segment.first + self.records) for segment in other.segments]
        carried = self.skipped_after  # skipped after our last run began: before the next run
        self.skipped_after = []
        if segments:
            head = segments[0]
            head = segments[0] = head._replace(skips=[(0, reason) for reason in carried] + head.skips)
            carried = []
            if self.segments and self.segments[-1].zone == head.zone and self.segments[-1].span == head.span:
                segments.pop(0)
                last = self.segments[-1]
                runs, before = last.runs, len(last.runs)
                joined = runs[-1][0] == head.epoch  # one run across the two pieces
                if joined:
                    runs[-1] = (head.epoch, runs[-1][1] + head.runs[0][1])
                    runs.extend(head.runs[1:])
                else:
                    runs.extend(head.runs)
                for index, reason in head.skips:
                    # a line skipped before the joined run came after its start: before the next run
                    index = before if joined and index == 0 else index + before - joined
                    if index < len(runs):
                        last.skips.append((index, reason))
                    else:
                        carried.append(reason)
                self.segments[-1] = last._replace(counts=last.counts.plus(head.counts))
        if carried and segments:
            segments[0] = segments[0]._replace(skips=[(0, reason) for reason in carried] + segments[0].skips)
            carried = []
        self.segments.extend(segments)
        self.skipped_after = carried + other.skipped_after
        self.lines += other.lines
        self.records += other.records


class _Plan(NamedTuple):
    """Where a block's segments begin and end, before they are counted."""

    runs: List[Tuple[int, int]]
    zones: List[tzinfo]
    starts: List[int]
    """First record of each run."""
    skips_before: Dict[int, List[str]]
    """Reasons of the lines skipped before each run (after the run before it began)."""
    skipped_after: List[str]
    bounds: List[Tuple[int, int]]
    """``(first run, end run)`` of each segment."""


def _plan(parsed: ParsedBlock, span_seconds: int) -> _Plan:
    """The runs and segments of a parsed block that has records."""
    stamps = parsed.stamps
    run_keys, run_hits = _key_runs(stamps)
    decode_stamp = parsed.keys.stamp
    moments = {key: decode_stamp(key) for key in set(run_keys)}
    runs: List[Tuple[int, int]] = []  # a run of records with one second (and one UTC offset)
    run_zones: List[tzinfo] = []
    previous = None
    for key, hits in zip(run_keys, run_hits):
        moment = moments[key]
        if moment == previous:  # two texts of one second (another offset, the same instant)
            runs[-1] = (moment[0], runs[-1][1] + hits)
        else:
            runs.append((moment[0], hits))
            run_zones.append(moment[1])
            previous = moment

    starts: List[int] = []
    record = 0
    for _, hits in runs:
        starts.append(record)
        record += hits
    skips_before: Dict[int, List[str]] = {}
    skipped_after: List[str] = []
    for next_record, reason in parsed.skipped:
        index = bisect_left(starts, next_record)
        if index == len(runs):
            skipped_after.append(reason)
        else:
            skips_before.setdefault(index, []).append(reason)

    bounds: List[Tuple[int, int]] = []
    begin = 0
    while begin < len(runs):
        second, zone = runs[begin][0], run_zones[begin]
        span = span_of(second, span_seconds)
        end = begin + 1
        while end < len(runs) and run_zones[end] == zone and runs[end][0] - span < span_seconds and runs[end][0] >= span:
            end += 1
        bounds.append((begin, end))
        begin = end
    return _Plan(runs, run_zones, starts, skips_before, skipped_after, bounds)


def aggregate(parsed: ParsedBlock, span_seconds: int, cut_keys: Optional[int] = None,
              open_span: Optional[Tuple[int, tzinfo]] = None, open_end: bool = False) -> Batch:
    """The batch of a parsed block: segments of at most one aligned span of ``span_seconds``.

    With ``cut_keys``, each segment's counters are cut after that many keys per dimension
    (:meth:`Counts.cut`) as they are counted, except the segments that may be joined to others
    (:meth:`Batch.extend`): the first when its ``(span, zone)`` is ``open_span`` (the last of the
    batch before), and the last when ``open_end`` (a batch may follow).
    """
    records = len(parsed.stamps)
    if not records:
        return Batch([], [reason for _, reason in parsed.skipped], parsed.lines, 0, parsed)
    plan = _plan(parsed, span_seconds)
    runs, starts = plan.runs, plan.starts
    segments: List[Segment] = []
    for number, (begin, end) in enumerate(plan.bounds):
        second, zone = runs[begin][0], plan.zones[begin]
        span = span_of(second, span_seconds)
        first, last = starts[begin], starts[end] if end < len(runs) else records
        skips = [(index - begin, reason) for index in range(begin, end) for reason in plan.skips_before.get(index, ())]
        joins = (number == 0 and open_span == (span, zone)) or (open_end and end == len(runs))
        counts = count_records(parsed, first, last, None if joins else cut_keys)
        segments.append(Segment(second, span, runs[begin:end], zone, counts, skips, first))
    return Batch(segments, plan.skipped_after, parsed.lines, records, parsed)


def span_of(second: int, span_seconds: int) -> int:
    """The start of the aligned span of ``span_seconds`` that ``second`` falls in (spans are aligned
    on the Unix epoch, as report periods are)."""
    return second - second % span_seconds


def split_last_span(parsed: ParsedBlock, span_seconds: int) -> Tuple[ParsedBlock, Optional[ParsedBlock]]:
    """The block's records before its last segment, and that segment's (None when the block has
    one segment, or no record): so that a segment that may go on in the lines that follow is
    counted with them, whole (a replay's pieces, a followed backlog's blocks)."""
    if not parsed.stamps:
        return parsed, None
    plan = _plan(parsed, span_seconds)
    start = plan.starts[plan.bounds[-1][0]]
    return split_block(parsed, start) if start else (parsed, None)


def count_records(parsed: ParsedBlock, start: int, end: int, cut_keys: Optional[int] = None) -> Counts:
    """Count records ``start`` to ``end`` of a parsed block; keys keep their first-seen order.
    With ``cut_keys``, the counters are cut after that many keys per dimension, with the
    statistics of ``count_records(parsed, start, end).cut(cut_keys)``, and often without summing
    the keys beyond the cut (:meth:`Counts.of_rows`).

    Plain Common/Combined columns (without durations) are counted by the C accelerator's
    ``count_clf`` when it is built (see :func:`count_plain_python`): in one pass, the keys beyond
    the cut never made objects. Otherwise the records are first counted by key
    (:func:`tally_python`, or its C twin), then each distinct key is decoded once (through the
    decoder's caches): a loop in Python runs per distinct key, never per record, except for
    durations and virtual hosts.
    """
    if cut_keys is not None:
        check_cut(cut_keys)
    counts = _count_plain(parsed, start, end, cut_keys) if parsed.keys is LINE_KEYS and parsed.durations is None else None
    section_of: Dict[Any, str] = {}
    if counts is None:
        counts, section_of = _count_keys(parsed, start, end, cut_keys)
    keys = parsed.keys
    vhosts: Dict[str, List[int]] = {}
    latency: Dict[str, LatencySketch] = {}
    upstream = None
    if parsed.vhosts is not None:
        for key, status, count in zip(*_pairs(parsed.vhosts, parsed.statuses, start, end)):
            vhost = keys.vhost(key)
            if vhost:
                entry = vhosts.setdefault(vhost, [0, 0])
                entry[0] += count
                if is_error(decode_status(status)):
                    entry[1] += count
    if parsed.durations is not None:
        # counted per (request, duration as logged): the distinct requests times the distinct durations
        requests, durations, counts_of = _pairs(parsed.requests, parsed.durations, start, end)
        distinct = list(dict.fromkeys(durations))
        seconds = dict(zip(distinct, keys.durations(distinct)))
        tallies: Dict[str, Dict[float, int]] = {}
        for section, key, count in zip(map(section_of.__getitem__, requests), durations, counts_of):
            value = seconds[key]
            if value is not None and 0 <= value < INFINITY:  # impossible durations are left out
                tally = tallies.setdefault(section, {})
                tally[value] = tally.get(value, 0) + count
        for section, tally in tallies.items():
            sketch = latency[section] = LatencySketch()
            sketch.add_tally(tally)
    if parsed.upstreams is not None:
        times = Counter(time for time in keys.upstreams(parsed.upstreams[start:end])
                        if time is not None and 0 <= time < INFINITY)
        if times:
            upstream = LatencySketch()
            upstream.add_tally(times)
    if vhosts or latency or upstream:
        counts = counts._replace(vhosts=vhosts or None, latency=latency or None, upstream=upstream)
    return counts


def _count_keys(parsed: ParsedBlock, start: int, end: int, cut_keys: Optional[int]) -> Tuple[Counts, Dict[Any, str]]:
    """:func:`count_records` without virtual hosts and durations, by tally and decoding, and the
    section of each request key when durations need them."""
    keys = parsed.keys
    keys.limit_caches()
    who_keys, who_hits, pair_requests, pair_statuses, pair_hits, sized, size_sums = _tally(parsed, start, end)
    hosts, who_users = _decoded(keys.who_cache, keys.decode_whos, who_keys)
    pair_methods, pair_sections = _decoded(keys.request_cache, keys.decode_requests, pair_requests)
    same_keys = sized == pair_requests  # each request with one status (a log of random paths): in the same order
    section_of = dict(zip(pair_requests, pair_sections)) if not same_keys or parsed.durations is not None else {}
    named = any(who_users)
    rows = CountRows(pair_sections, decode_statuses(pair_statuses), pair_hits, pair_methods,
                     pair_sections if same_keys else list(map(section_of.__getitem__, sized)), size_sums,
                     hosts, who_hits, list(compress(who_users, who_users)) if named else [],
                     list(compress(who_hits, who_users)) if named else [])
    return Counts.of_rows(rows, cut_keys), section_of


def count_plain_python(parsed: ParsedBlock, start: int, end: int, max_keys: Optional[int] = None) -> Counts:
    """The counters of records ``start`` to ``end`` by key (without virtual hosts or durations),
    summed, and cut after ``max_keys`` keys as :meth:`Counts.cut` cuts them.

    This is the reference of the C accelerator's ``count_clf``, which gives equal counters, in
    the same orders (its overflow's clients with their sketch), for the columns of the block
    parser's fast pattern: keys as bytes, ``b"host ident user"`` and ``b"METHOD /target"`` in
    printable ASCII, three-digit statuses, plain sizes. It leaves any other columns to this
    function, and gets the rules it applies from their homes: the section rule's usual case
    (:func:`~monilog.parsing.section.usual_case`; none when the rule was replaced), the error
    rule (:data:`~monilog.accumulation.status.ERROR_FLAGS`) and the key length cut (a client
    longer than :data:`~monilog.accumulation.counts.MAX_KEY_LENGTH` is left to this function).
    :func:`count_records` asks it only of the block parser's columns (:data:`LINE_KEYS`).
    """
    counts = _count_keys(parsed, start, end, None)[0]
    return counts if max_keys is None else counts.cut(max_keys)


def _count_plain(parsed: ParsedBlock, start: int, end: int, cut_keys: Optional[int]) -> Optional[Counts]:
    """:func:`count_plain_python` by the C accelerator, or None when it is not built, the section
    rule was replaced, or the columns are not plain."""
    usual = section.usual_case()
    if speedups is None or usual is None:
        return None
    sketch = DistinctSketch()
    counted = speedups.count_clf(parsed.who, parsed.requests, parsed.statuses, parsed.sizes, start, end,
                                 sys.maxsize if cut_keys is None else cut_keys, *usual, ERROR_FLAGS, MAX_KEY_LENGTH,
                                 sketch.registers)
    if counted is None:
        return None
    section_status, section_bytes, methods, clients, users, beyond = counted
    if beyond is None:
        return Counts(section_status, section_bytes, methods, clients, users)
    (names, text), hits, errors, sizes, statuses, *dimensions = beyond
    methods_after, clients_after, users_after = (Columns(PackedKeys(count, keys), packed_count_column(column))
                                                 for count, keys, column in dimensions)
    overflow = Overflow(PackedKeys(names, text), packed_count_column(hits), packed_count_column(errors),
                        packed_count_column(sizes), statuses, methods_after, clients_after, users_after,
                        sketch if len(clients_after.keys) else None)
    return Counts(section_status, section_bytes, methods, clients, users, overflow=overflow)


Tally = Tuple[List[Any], List[int], List[Any], List[Any], List[int], List[Any], List[int]]
"""What :func:`tally_python` counts: the distinct ``who`` keys and their hits, the distinct
(request, status) pairs (as two lists) and their hits, the distinct requests and their bytes,
each in first-seen order."""


def tally_python(parsed: ParsedBlock, start: int, end: int) -> Tally:
    """Count records ``start`` to ``end`` by key, the step :func:`count_records` decodes the keys of.

    This is the reference of the C accelerator's ``tally``, which gives the same lists (it leaves
    to this function columns whose sizes are not plain decimal text, ``-`` or ints of one kind, or
    whose lengths differ).
    """
    who_counts = Counter(parsed.who[start:end])
    requests = list(parsed.requests[start:end])
    pairs = Counter(zip(requests, parsed.statuses[start:end]))
    size_sums = summed_python(requests, parsed.keys.sizes(parsed.sizes[start:end]))
    return (list(who_counts), list(who_counts.values()), [request for request, _ in pairs],
            [status for _, status in pairs], list(pairs.values()), list(size_sums), list(size_sums.values()))


def pairs_python(first: Sequence[Any], second: Sequence[Any], start: int, end: int) -> Tuple[List[Any], List[Any], List[int]]:
    """Each distinct pair of keys of records ``start`` to ``end`` of two columns, and how often it
    occurs, in first-seen order, as three lists.

    This is the reference of the C accelerator's ``pairs``, which :func:`_pairs` uses when it is built.
    """
    counted = Counter(zip(first[start:end], second[start:end]))
    return [key for key, _ in counted], [key for _, key in counted], list(counted.values())


_pairs: Callable[[Sequence[Any], Sequence[Any], int, int], Tuple[List[Any], List[Any], List[int]]] = \
    speedups.pairs if speedups is not None else pairs_python


def _tally(parsed: ParsedBlock, start: int, end: int) -> Tally:
    """As :func:`tally_python`, by the C accelerator when it is built."""
    counted = speedups.tally(parsed.who, parsed.requests, parsed.statuses, parsed.sizes, start, end) if speedups else None
    return tally_python(parsed, start, end) if counted is None else counted


_SAMPLE = 64
"""Keys of a block :func:`_decoded` looks up in its cache first, when the block has many."""


def _decoded(cache: Dict[Any, Tuple[str, str]], decode: Callable[[List[Any]], Tuple[List[str], List[str]]],
             distinct: Iterable[Any]) -> Tuple[List[str], List[str]]:
    """The decoded ``distinct`` keys, in order, as two columns; those not in ``cache`` decoded
    together and kept in it. A log of random paths decodes without it: when more are missing than
    it keeps, or than half of them while it is half full already; and when a sample of many keys
    finds few in it. Its keys are then another traffic's: it starts afresh, to learn the next keys
    if they repeat. After a sample it keeps only the sample, so that keys that come again are
    learnt next time, and keys that do not cost no set and no update per key."""
    distinct = list(distinct)
    if len(distinct) - len(cache) > KeyDecoder.CACHE_LIMIT:  # more are missing than it keeps, whichever they are
        return decode(distinct)
    if cache and len(distinct) > 4 * _SAMPLE:
        step = len(distinct) // _SAMPLE
        sample = distinct[:step * _SAMPLE:step]
        if sum(map(cache.__contains__, sample)) <= _SAMPLE // 8:
            decoded = decode(distinct)
            cache.clear()
            cache.update(zip(sample, zip(decoded[0][:step * _SAMPLE:step], decoded[1][:step * _SAMPLE:step])))
            return decoded
    missing = list(set(distinct).difference(cache))
    if len(missing) > KeyDecoder.CACHE_LIMIT or (2 * len(missing) > len(distinct) > 64
                                                  and 2 * len(cache) >= KeyDecoder.CACHE_LIMIT):
        if len(missing) <= KeyDecoder.CACHE_LIMIT:
            cache.clear()
        return decode(distinct)
    if missing:
        cache.update(zip(missing, zip(*decode(missing))))
    return split_pairs(list(map(cache.__getitem__, distinct)))


def runs_python(keys: Sequence[K]) -> Tuple[List[K], List[int]]:
    """Each run of consecutive equal keys, and its length (a block's seconds as runs of stamps).

    This is the reference of the C accelerator's ``runs``, which :data:`_key_runs` is when it is built.
    """
    if not keys:
        return [], []
    starts = [0, *compress(itertools.count(1), map(ne, keys, islice(keys, 1, None)))]
    return [keys[start] for start in starts], list(map(sub, [*starts[1:], len(keys)], starts))


_key_runs: Callable[[Sequence[K]], Tuple[List[K], List[int]]] = speedups.runs if speedups is not None else runs_python
