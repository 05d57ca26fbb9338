"""Request latencies: a small mergeable sketch of their distribution (count, mean, max, percentiles).

Reports give request-latency percentiles (p50, p90, p95, p99) beside the count, mean and max, per
period and for the whole run, and worker processes hand their share back to be merged. A
:class:`LatencySketch` does that in bounded memory: it keeps a count per logarithmic bucket, so
every percentile is known within a relative error of :data:`ALPHA` (0.5 %, inside the 1 % the
reports promise; see *Bounded memory* for the one exception), and merging two sketches adds their
counts: the result is exactly the sketch of all their values, however they were split and in
whatever order they were merged.

Why in-house
------------
The bucket scheme is DDSketch's (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile
sketch with relative-error guarantees", VLDB 2019). The ``ddsketch`` package implements it, but as
one more runtime dependency (with protobuf behind it) for about a hundred lines; monilog's runtime
dependencies stay python-dateutil and rich.

Buckets
-------
With ``gamma = (1 + ALPHA) / (1 - ALPHA)``, a value ``x`` (seconds) falls in bucket
``k = ceil(log(x) / log(gamma))``, which holds ``gamma**(k-1) < x <= gamma**k``. The bucket stands
for ``2 * gamma**k / (gamma + 1)`` (computed as the equal ``(1 + ALPHA) * gamma**(k-1)``, which
cannot overflow for any finite ``x``): within ``ALPHA`` of each of its values, relatively (up to
float rounding, a few 1e-16). Values below :data:`MIN_VALUE` count in a zero bucket that stands for
``0.0``: nginx logs ``0.000`` for cached answers, and those zeros stay exact (a positive value below
1 µs is off by less than 1 µs). A latency is never negative, NaN or infinite: such values are
refused with ``ValueError`` and the caller, who knows where they came from, decides to skip them.

Quantiles
---------
``quantile(q)`` estimates the lower quantile: the value of rank ``floor(q * (count - 1))`` (0-based,
computed in floating point) in sorted order. The first rank answers the exact minimum and the last
one the exact maximum; any other rank answers its bucket's value clamped into [min, max], which can
only bring it closer to the true value.

Bounded memory
--------------
A sketch keeps at most :data:`MAX_BUCKETS` non-zero buckets: the highest ones. The counts of lower
buckets are moved into the lowest bucket kept (DDSketch's collapsing-lowest store), so the high
percentiles keep their accuracy while the collapsed values are overestimated. 2048 buckets span a
factor of about 7.8e8: ms-resolution latencies (1 ms to 1 day is about 1830 buckets) never collapse;
µs-resolution ones only when they span more than that factor (1 µs to 13 minutes), and then only the
values more than 7.8e8 times below the maximum are overestimated. Which buckets are kept depends on
the set of values alone, never on their order, so merging stays exact. A full sketch holds about
150 kB (some 75 bytes a bucket); an empty one is six slots, 80 bytes (its dict of buckets is made with
its first non-zero value).

Exactness
---------
The count, minimum and maximum are exact; so is the sum, kept as an integer count of 2**-1074 (every
finite float is a whole multiple of it), so :attr:`LatencySketch.mean` is the correctly rounded mean
and no order of additions or merges changes a bit of a sketch.

A sketch belongs to one thread. It pickles (protocol 2 or later), so worker processes can return
theirs.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypedDict

ALPHA = 0.005
"""Relative accuracy of every quantile: the estimate is within ``ALPHA * true value`` (0.5 %)."""

MIN_VALUE = 1e-6
"""Values (seconds) below this count as zero: 1 µs, the finest resolution access logs write."""

MAX_BUCKETS = 2048
"""Most non-zero buckets a sketch keeps; the lowest ones collapse into the lowest kept beyond it."""

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99))
"""The percentiles a summary gives: its key and the quantile."""

_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
_SUM_SHIFT = 1074  # every finite float is a whole multiple of 2**-_SUM_SHIFT
_TERMS: Dict[float, Tuple[int, Optional[int]]] = {}
"""Per value seen: its exact scaled value and its bucket (None: the zero bucket). Logs repeat
their durations (milliseconds), so this spares a log and a big-integer conversion per value."""
_TERMS_LIMIT = 1 << 16


def _term(value: float) -> Tuple[int, Optional[int]]:
    numerator, denominator = value.as_integer_ratio()  # denominator: a power of 2
    scaled = numerator << (_SUM_SHIFT + 1 - denominator.bit_length())
    return scaled, None if value < MIN_VALUE else math.ceil(math.log(value) / _LOG_GAMMA)


def _bucket_value(key: int) -> float:
    """The value bucket ``key`` stands for: ``2 * gamma**k / (gamma + 1)``, written so it cannot overflow."""
    return (1 + ALPHA) * _GAMMA ** (key - 1)


class LatencySummary(TypedDict):
    """A sketch's figures as reports give them: seconds, except the count."""

    count: int
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


class LatencySketch:
    """Latencies in seconds: exact count, sum, min and max, and quantiles within ALPHA."""

    __slots__ = ("_buckets", "_count", "_max", "_min", "_scaled_sum", "_zeros")

    def __init__(self) -> None:
        self._count = 0
        self._zeros = 0  # values below MIN_VALUE
        self._scaled_sum = 0  # the exact sum, in units of 2**-_SUM_SHIFT
        self._min = math.inf
        self._max = -math.inf
        self._buckets: Optional[Dict[int, int]] = None  # key -> count, made with the first non-zero value

    def add(self, value: float, count: int = 1) -> None:
        """Count ``value`` (seconds) ``count`` times; ValueError if it is negative, NaN or infinite."""
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count!r}")
        self.add_tally({value: count})

    def add_many(self, values: Iterable[float]) -> None:
        """Count each of ``values``, all or none: ValueError (nothing counted) if one is refused.

        Repeated values cost one dict update each: a log per distinct value only.
        """
        self.add_tally(Counter(values))

    def add_tally(self, tally: Mapping[float, int]) -> None:
        """Count each value of ``tally`` as often as it says (a column of values counted by the
        caller); all or none, like :meth:`add_many`."""
        for value in tally:
            if not 0.0 <= value < math.inf:  # NaN fails both comparisons
                raise ValueError(f"a latency is a finite number of seconds >= 0, not {value!r}")
        if not tally:
            return
        if len(_TERMS) > _TERMS_LIMIT:
            _TERMS.clear()
        buckets = self._buckets if self._buckets is not None else {}
        scaled_sum = zeros = 0
        for value, count in tally.items():
            term = _TERMS.get(value)
            if term is None:
                term = _TERMS[value] = _term(value)
            scaled, key = term
            scaled_sum += scaled * count
            if key is None:
                zeros += count
            else:
                buckets[key] = buckets.get(key, 0) + count
        self._count += sum(tally.values())
        self._zeros += zeros
        self._scaled_sum += scaled_sum
        self._min = min(self._min, float(min(tally)))
        self._max = max(self._max, float(max(tally)))
        if buckets:
            self._buckets = buckets
            self._collapse()

    def _collapse(self) -> None:
        """Keep the MAX_BUCKETS highest buckets, moving the counts of lower ones into the lowest kept."""
        buckets = self._buckets
        if buckets is None or len(buckets) <= MAX_BUCKETS:
            return
        lowest = heapq.nsmallest(len(buckets) - MAX_BUCKETS + 1, buckets)
        kept = lowest.pop()
        buckets[kept] += sum(buckets.pop(key) for key in lowest)

    def merge(self, other: LatencySketch) -> None:
        """Add ``other``'s values to this sketch, as if each had been added to it (``other`` is unchanged)."""
        if other._buckets is not None:
            if self._buckets is None:
                self._buckets = dict(other._buckets)
            else:
                buckets = self._buckets
                for key, count in other._buckets.items():
                    buckets[key] = buckets.get(key, 0) + count
                self._collapse()
        self._count += other._count
        self._zeros += other._zeros
        self._scaled_sum += other._scaled_sum
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    def copy(self) -> LatencySketch:
        """An independent sketch of the same values."""
        twin = LatencySketch()
        twin.merge(self)
        return twin

    @property
    def count(self) -> int:
        """How many values were added."""
        return self._count

    @property
    def total(self) -> float:
        """The sum of the values (seconds), correctly rounded."""
        return self._scaled_sum / (1 << _SUM_SHIFT)

    @property
    def mean(self) -> Optional[float]:
        """The mean of the values (seconds), correctly rounded; None when empty."""
        return self._scaled_sum / (self._count << _SUM_SHIFT) if self._count else None

    @property
    def min(self) -> Optional[float]:
        """The smallest value (seconds); None when empty."""
        return self._min if self._count else None

    @property
    def max(self) -> Optional[float]:
        """The largest value (seconds); None when empty."""
        return self._max if self._count else None

    @property
    def bucket_count(self) -> int:
        """How many non-zero buckets are held (at most MAX_BUCKETS): the sketch's size."""
        return len(self._buckets) if self._buckets is not None else 0

    def quantile(self, q: float) -> Optional[float]:
        """The value of rank ``floor(q * (count - 1))`` (seconds), within ALPHA; None when empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"a quantile is between 0 and 1, not {q!r}")
        if not self._count:
            return None
        return self._at_ranks([math.floor(q * (self._count - 1))])[0]

    def count_at_most(self, bound: float) -> int:
        """How many values are at most ``bound`` (seconds), by bucket: exact within ALPHA of ``bound``.

        A value counts when the value its bucket stands for (the one :meth:`quantile` answers) is at
        most ``bound``, zeros whenever ``bound >= 0``. So every value below ``bound / (1 + ALPHA)``
        counts and none above ``bound / (1 - ALPHA)`` does: only values within ALPHA (relatively) of
        the bound can land on the wrong side of it, and values collapsed into a higher bucket (see
        *Bounded memory*) count as that bucket. Being made of bucket counts, it adds up over merges:
        ``a.count_at_most(b) + c.count_at_most(b)`` is the merged sketch's (until buckets collapse).
        """
        if math.isnan(bound):
            raise ValueError("a bound is a number of seconds, not NaN")
        if bound < 0:
            return 0
        buckets = self._buckets or {}
        return self._zeros + sum(count for key, count in buckets.items() if _bucket_value(key) <= bound)

    def bucket_counts(self) -> Dict[Optional[int], int]:
        """``bucket → count`` of the values added, the zero bucket as ``None``: what a sliding
        window adds and takes away (:func:`quantile_of_buckets` reads it)."""
        counts: Dict[Optional[int], int] = {key: count for key, count in (self._buckets or {}).items()}
        if self._zeros:
            counts[None] = self._zeros
        return counts

    def summary(self) -> Optional[LatencySummary]:
        """Count, mean, p50, p90, p95, p99 and max (seconds), as reports give them; None when empty."""
        mean = self.mean
        if mean is None:
            return None
        p50, p90, p95, p99 = self._at_ranks([math.floor(q * (self._count - 1)) for _, q in QUANTILES])
        return LatencySummary(count=self._count, mean=mean, p50=p50, p90=p90, p95=p95, p99=p99, max=self._max)

    def _at_ranks(self, ranks: Sequence[int]) -> List[float]:
        """The estimates at ``ranks`` (ascending, within 0..count-1), in one walk up the buckets."""
        buckets = self._buckets or {}
        keys = iter(sorted(buckets))
        key: Optional[int] = None  # the bucket reached; None: the zero bucket
        below = self._zeros  # how many values lie in the buckets up to the one reached
        last = self._count - 1
        estimates: List[float] = []
        for rank in ranks:
            while rank >= below:
                key = next(keys)
                below += buckets[key]
            estimate = 0.0 if key is None else _bucket_value(key)
            estimates.append(self._min if rank == 0 else self._max if rank == last else min(max(estimate, self._min), self._max))
        return estimates

    def __bool__(self) -> bool:
        """Whether any value was added."""
        return self._count > 0

    def __eq__(self, other: object) -> bool:
        """Same count, sum, min, max and bucket counts: the same figures, whatever the order of additions."""
        if not isinstance(other, LatencySketch):
            return NotImplemented
        return (self._count, self._zeros, self._scaled_sum, self._min, self._max, self._buckets) == (
            other._count, other._zeros, other._scaled_sum, other._min, other._max, other._buckets)

    def __repr__(self) -> str:
        return f"LatencySketch(count={self._count}, mean={self.mean}, max={self.max}, buckets={self.bucket_count})"


def quantile_of_buckets(buckets: Mapping[Optional[int], int], q: float) -> Optional[float]:
    """The value of rank ``floor(q * (count - 1))`` of values counted by bucket (as
    :meth:`LatencySketch.bucket_counts` gives them), within ALPHA; None when there are none."""
    count = sum(buckets.values())
    if not count:
        return None
    rank = math.floor(q * (count - 1))
    below = buckets.get(None, 0)
    if rank < below:
        return 0.0
    for key in sorted(key for key in buckets if key is not None):
        below += buckets[key]
        if rank < below:
            return _bucket_value(key)
    raise AssertionError("the ranks are within the count")  # pragma: no cover


def lower_edge(value: float) -> float:
    """The lower bound (exclusive) of the bucket ``value`` is counted in: every value counted there is
    above it; ``-inf`` for the zero bucket."""
    key = _term(value)[1]
    return -math.inf if key is None else _GAMMA ** (key - 1)
