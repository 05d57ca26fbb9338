"""The latency sketch: quantiles within ALPHA of the exact order statistics, exact merges and pickles, bounded buckets."""

from __future__ import annotations

import json
import math
import pickle
import random
import tracemalloc
import unittest
from fractions import Fraction
from typing import List, Optional, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accumulation.sketch import ALPHA, MAX_BUCKETS, MIN_VALUE, LatencySketch

QS = (0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)
ROUNDING = 1e-12  # float rounding allowed beyond ALPHA (relative)
KEPT_RATIO = 7e8  # the module's promise: values less than ~7.8e8 times below the maximum are never collapsed

# Latencies as logs give them: any seconds, ms-rounded ones with many repeats, zeros of cached answers.
latencies = st.one_of(
    st.floats(min_value=0.0, max_value=1e5),
    st.integers(min_value=0, max_value=30_000).map(lambda ms: ms / 1000),
    st.sampled_from([0.0, 0.001, 0.002, 0.05]),
)


def sketch_of(values: Sequence[float]) -> LatencySketch:
    sketch = LatencySketch()
    sketch.add_many(values)
    return sketch


def exact_quantile(values: Sequence[float], q: float) -> float:
    """The lower quantile: the value of rank floor(q * (n - 1)) in sorted order."""
    return sorted(values)[math.floor(q * (len(values) - 1))]


def exact_mean(values: Sequence[float]) -> float:
    return float(sum(map(Fraction, values)) / len(values))


def log_uniform(rng: random.Random, low: float, high: float, n: int) -> List[float]:
    return [math.exp(rng.uniform(math.log(low), math.log(high))) for _ in range(n)]


def merged_in_random_tree(parts: Sequence[LatencySketch], rng: random.Random) -> LatencySketch:
    """Merge ``parts`` pairwise, picking two at random each time, until one sketch is left."""
    pool = list(parts)
    while len(pool) > 1:
        into = pool.pop(rng.randrange(len(pool)))
        into.merge(pool.pop(rng.randrange(len(pool))))
        pool.append(into)
    return pool[0]


class SketchAssertions(unittest.TestCase):
    def assertClose(self, estimate: Optional[float], exact: float, what: str = "") -> None:
        """``estimate`` is within ALPHA of ``exact``; exact zeros exactly, values below MIN_VALUE within MIN_VALUE."""
        message = f"{what} estimate {estimate} for {exact}"
        assert estimate is not None, message
        if exact == 0.0:
            self.assertEqual(estimate, 0.0, message)
        elif exact < MIN_VALUE:
            self.assertLess(abs(estimate - exact), MIN_VALUE, message)
        else:
            self.assertLessEqual(abs(estimate - exact), (ALPHA + ROUNDING) * exact, message)

    def assertQuantilesClose(self, values: Sequence[float], qs: Sequence[float] = QS) -> LatencySketch:
        sketch = sketch_of(values)
        for q in qs:
            self.assertClose(sketch.quantile(q), exact_quantile(values, q), f"q={q}:")
        return sketch


class AccuracyTest(SketchAssertions):
    def test_uniform(self) -> None:
        rng = random.Random(1)
        self.assertQuantilesClose([rng.uniform(0.001, 10.0) for _ in range(20_000)])

    def test_lognormal(self) -> None:
        rng = random.Random(2)
        self.assertQuantilesClose([rng.lognormvariate(-3.0, 1.5) for _ in range(20_000)])

    def test_ms_rounded_values_with_heavy_repeats(self) -> None:
        rng = random.Random(3)
        values = [round(rng.lognormvariate(-4.0, 1.0), 3) for _ in range(50_000)]
        self.assertLess(len(set(values)), 1000)  # heavy repeats indeed, zeros among them
        self.assertIn(0.0, values)
        self.assertQuantilesClose(values)

    def test_span_of_1us_to_1e5s(self) -> None:
        rng = random.Random(4)
        values = [*log_uniform(rng, MIN_VALUE, 1e5, 2000), MIN_VALUE, 1e5]
        self.assertQuantilesClose(values)

    def test_a_single_value_answers_itself_at_every_quantile(self) -> None:
        for values in ([0.137], [0.137] * 50, [3.3e-7] * 3):
            sketch = sketch_of(values)
            for q in QS:
                self.assertEqual(sketch.quantile(q), values[0])

    def test_zeros_mixed_in_are_exact(self) -> None:
        rng = random.Random(5)
        values = [0.0] * 7000 + [rng.uniform(0.001, 2.0) for _ in range(3000)]
        rng.shuffle(values)
        sketch = self.assertQuantilesClose(values)
        self.assertEqual(sketch.quantile(0.5), 0.0)
        self.assertEqual(sketch.min, 0.0)
        self.assertNotEqual(sketch.quantile(0.9), 0.0)

    def test_values_below_min_value_count_as_zero_and_min_value_does_not(self) -> None:
        sketch = sketch_of([4e-7] * 10 + [MIN_VALUE] * 10 + [0.0] * 10)
        self.assertEqual(sketch.quantile(0.2), 0.0)  # rank 5: a zero
        self.assertEqual(sketch.quantile(0.4), 0.0)  # rank 11: 4e-7, off by less than 1 µs
        self.assertClose(sketch.quantile(0.8), MIN_VALUE)  # rank 23: 1 µs, within ALPHA
        self.assertEqual(sketch.count, 30)

    def test_lower_quantile_rank(self) -> None:
        values = [4.0, 1.0, 3.0, 2.0]  # ranks 0..3 are 1, 2, 3, 4
        sketch = sketch_of(values)
        self.assertClose(sketch.quantile(0.5), 2.0)  # floor(0.5 * 3) = 1
        self.assertClose(sketch.quantile(0.67), 3.0)  # floor(2.01) = 2
        self.assertClose(sketch.quantile(0.66), 2.0)  # floor(1.98) = 1
        self.assertEqual(sketch.quantile(0.0), 1.0)
        self.assertEqual(sketch.quantile(1.0), 4.0)

    def test_largest_floats_do_not_overflow(self) -> None:
        self.assertQuantilesClose([1.7976931348623157e308] * 3 + [1e308, 0.0])

    @settings(max_examples=150, deadline=None)
    @given(st.lists(latencies, min_size=1, max_size=200))
    def test_any_latencies(self, values: List[float]) -> None:
        self.assertQuantilesClose(values)


class ExactFiguresTest(SketchAssertions):
    @settings(max_examples=100, deadline=None)
    @given(st.lists(latencies, min_size=1, max_size=100))
    def test_count_min_max_mean_total_are_exact(self, values: List[float]) -> None:
        sketch = sketch_of(values)
        self.assertEqual(sketch.count, len(values))
        self.assertEqual(sketch.min, min(values))
        self.assertEqual(sketch.max, max(values))
        self.assertEqual((sketch.quantile(0.0), sketch.quantile(1.0)), (min(values), max(values)))
        self.assertEqual(sketch.mean, exact_mean(values))
        self.assertEqual(sketch.total, float(sum(map(Fraction, values))))

    def test_mean_is_correctly_rounded_where_float_sums_are_not(self) -> None:
        for values in ([0.1] * 10, [0.472, 0.101, 0.434]):
            sketch = sketch_of(values)
            total = float(sum(map(Fraction, values)))  # the sum correctly rounded, then divided: off too
            self.assertNotEqual(sum(values) / len(values), exact_mean(values))
            self.assertEqual(sketch.mean, exact_mean(values))
            self.assertEqual(sketch.total, total)
            summary = sketch.summary()
            assert summary is not None
            self.assertEqual(summary["mean"], exact_mean(values))
        self.assertNotEqual(total / len(values), exact_mean(values))

    def test_max_is_the_value_itself(self) -> None:
        sketch = sketch_of([0.2, 0.3, 12.345678])
        self.assertEqual(sketch.max, 12.345678)
        self.assertEqual(sketch.quantile(1.0), 12.345678)

    def test_summary(self) -> None:
        rng = random.Random(6)
        values = [round(rng.expovariate(20.0), 3) for _ in range(10_000)]
        summary = sketch_of(values).summary()
        assert summary is not None
        self.assertEqual(set(summary), {"count", "mean", "p50", "p90", "p95", "p99", "max"})
        self.assertIs(type(summary["count"]), int)
        self.assertEqual(summary["count"], 10_000)
        self.assertEqual(summary["mean"], exact_mean(values))
        self.assertEqual(summary["max"], max(values))
        for key, estimate, q in (("p50", summary["p50"], 0.5), ("p90", summary["p90"], 0.9),
                                 ("p95", summary["p95"], 0.95), ("p99", summary["p99"], 0.99)):
            self.assertClose(estimate, exact_quantile(values, q), key)
        self.assertEqual(json.loads(json.dumps(summary)), summary)

    def test_empty(self) -> None:
        sketch = LatencySketch()
        self.assertFalse(sketch)
        self.assertEqual((sketch.count, sketch.bucket_count, sketch.total), (0, 0, 0.0))
        self.assertEqual((sketch.mean, sketch.min, sketch.max, sketch.quantile(0.5), sketch.summary()), (None,) * 5)
        self.assertTrue(sketch_of([0.0]))

    def test_an_empty_sketch_is_small(self) -> None:
        sketches: List[Optional[LatencySketch]] = [None] * 1000
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(len(sketches)):
                sketches[i] = LatencySketch()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        self.assertLess(held / len(sketches), 128)  # an object of a few slots: no dict yet

    def test_add_with_a_count_is_adding_that_many_times(self) -> None:
        sketch = LatencySketch()
        sketch.add(0.25, count=3)
        sketch.add(0.0, count=2)
        sketch.add(0.25)
        self.assertEqual(sketch, sketch_of([0.25] * 4 + [0.0] * 2))
        self.assertNotEqual(sketch, sketch_of([0.25] * 3 + [0.0] * 2))


class MergeTest(SketchAssertions):
    @settings(max_examples=100, deadline=None)
    @given(st.lists(latencies, max_size=120), st.lists(st.integers(0, 120), max_size=6), st.randoms(use_true_random=False))
    def test_merge_equals_one_sketch_of_all_values(self, values: List[float], cuts: List[int], rng: random.Random) -> None:
        bounds = [0, *sorted(cuts), len(values)]
        parts = [sketch_of(values[start:end]) for start, end in zip(bounds, bounds[1:])]
        merged = merged_in_random_tree(parts, rng)
        whole = sketch_of(values)
        self.assertEqual(merged, whole)
        self.assertEqual(merged.summary(), whole.summary())

    def test_merge_equals_one_sketch_when_buckets_collapse(self) -> None:
        rng = random.Random(7)
        values = log_uniform(rng, 1e-6, 1e12, 6000)
        whole = sketch_of(values)
        self.assertEqual(whole.bucket_count, MAX_BUCKETS)  # collapsed indeed
        one_by_one = LatencySketch()
        for value in values:
            one_by_one.add(value)
        self.assertEqual(one_by_one, whole)
        for _ in range(5):
            shuffled = rng.sample(values, len(values))
            cuts = sorted(rng.sample(range(len(values)), 7))
            bounds = [0, *cuts, len(values)]
            parts = [sketch_of(shuffled[start:end]) for start, end in zip(bounds, bounds[1:])]
            self.assertEqual(merged_in_random_tree(parts, rng), whole)

    def test_other_is_unchanged_and_empty_sides(self) -> None:
        values = [0.0, 0.004, 0.2, 7.5]
        other = sketch_of(values)
        sketch = LatencySketch()
        sketch.merge(other)
        self.assertEqual(sketch, sketch_of(values))
        sketch.add(1.0)
        self.assertEqual(other, sketch_of(values))  # nothing shared with other
        sketch.merge(LatencySketch())
        self.assertEqual(sketch, sketch_of([*values, 1.0]))

    def test_merging_into_itself_doubles(self) -> None:
        values = [0.0, 0.004, 0.2, 7.5]
        sketch = sketch_of(values)
        sketch.merge(sketch)
        self.assertEqual(sketch, sketch_of(values * 2))

    def test_copy_is_independent(self) -> None:
        sketch = sketch_of([0.5, 0.25])
        twin = sketch.copy()
        self.assertEqual(twin, sketch)
        twin.add(9.0)
        self.assertEqual(sketch, sketch_of([0.5, 0.25]))
        self.assertNotEqual(twin, sketch)
        self.assertEqual(LatencySketch().copy(), LatencySketch())


class CountAtMostTest(SketchAssertions):
    BOUNDS = (0.0, 1e-6, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0, 2.5, 10.0, 1e5, math.inf)

    @settings(max_examples=100, deadline=None)
    @given(st.lists(latencies, max_size=100))
    def test_exact_but_within_alpha_of_the_bound(self, values: List[float]) -> None:
        sketch = sketch_of(values)
        values = [0.0 if value < MIN_VALUE else value for value in values]  # the zero bucket, as documented
        for bound in self.BOUNDS:
            surely_below = sum(value <= bound * (1 - ROUNDING) / (1 + ALPHA) for value in values)
            maybe_below = sum(value <= bound * (1 + ROUNDING) / (1 - ALPHA) for value in values)
            with self.subTest(bound=bound):
                self.assertLessEqual(surely_below, sketch.count_at_most(bound))
                self.assertLessEqual(sketch.count_at_most(bound), maybe_below)

    def test_values_away_from_the_bounds_count_exactly(self) -> None:
        rng = random.Random(11)
        values = [round(rng.expovariate(5.0), 3) for _ in range(5000)]
        values = [value for value in values if all(abs(value - bound) > 2 * ALPHA * bound for bound in self.BOUNDS)]
        sketch = sketch_of(values + [0.0] * 7)
        for bound in self.BOUNDS:
            with self.subTest(bound=bound):
                self.assertEqual(sketch.count_at_most(bound), sum(value <= bound for value in values) + 7)
        self.assertEqual(sketch.count_at_most(math.inf), sketch.count)

    def test_counts_are_monotonic_and_add_up_over_merges(self) -> None:
        rng = random.Random(12)
        parts = [sketch_of(log_uniform(rng, 1e-4, 30.0, 300)) for _ in range(4)]
        merged = merged_in_random_tree([part.copy() for part in parts], rng)
        counts = [merged.count_at_most(bound) for bound in self.BOUNDS]
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(counts, [sum(part.count_at_most(bound) for part in parts) for bound in self.BOUNDS])

    def test_empty_negative_and_nan(self) -> None:
        self.assertEqual(LatencySketch().count_at_most(1.0), 0)
        sketch = sketch_of([0.0, 0.2])
        self.assertEqual((sketch.count_at_most(-1.0), sketch.count_at_most(0.0), sketch.count_at_most(0.1)), (0, 1, 1))
        with self.assertRaisesRegex(ValueError, "NaN"):
            sketch.count_at_most(math.nan)


class PickleTest(unittest.TestCase):
    def test_round_trip(self) -> None:
        rng = random.Random(8)
        full = sketch_of(log_uniform(rng, 1e-7, 1e12, 5000))
        for sketch in (LatencySketch(), sketch_of([0.0]), sketch_of([0.0, 0.003, 0.003, 42.0]), full):
            for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
                with self.subTest(count=sketch.count, protocol=protocol):
                    restored = pickle.loads(pickle.dumps(sketch, protocol))
                    self.assertEqual(restored, sketch)
                    self.assertEqual(restored.summary(), sketch.summary())
                    restored.add(0.5)  # still a working sketch, not sharing state
                    self.assertNotEqual(restored, sketch)
                    sketch_then = sketch.copy()
                    sketch_then.add(0.5)
                    self.assertEqual(restored, sketch_then)


class BoundedTest(SketchAssertions):
    def test_a_flood_of_distinct_magnitudes_keeps_max_buckets_and_high_quantiles(self) -> None:
        rng = random.Random(9)
        values = log_uniform(rng, 1e-6, 1e5, 30_000)  # some 2530 buckets' worth
        sketch = sketch_of(values)
        self.assertEqual(sketch.bucket_count, MAX_BUCKETS)
        self.assertEqual((sketch.count, sketch.min, sketch.max), (len(values), min(values), max(values)))
        self.assertEqual(sketch.mean, exact_mean(values))
        kept = [q for q in QS if exact_quantile(values, q) >= max(values) / KEPT_RATIO]
        self.assertIn(0.25, kept)
        for q in kept:
            self.assertClose(sketch.quantile(q), exact_quantile(values, q), f"q={q}:")
        collapsed = sketch.quantile(0.01)
        assert collapsed is not None
        self.assertGreater(collapsed, exact_quantile(values, 0.01) * (1 + ALPHA))  # overestimated, not lost

    def test_merged_floods_stay_bounded(self) -> None:
        rng = random.Random(10)
        sketch = LatencySketch()
        for low in (1e-6, 1e-3, 1.0, 1e3):
            part = sketch_of(log_uniform(rng, low, low * 1e6, 3000))
            self.assertLess(part.bucket_count, MAX_BUCKETS)
            sketch.merge(part)
        self.assertEqual(sketch.bucket_count, MAX_BUCKETS)
        self.assertEqual(sketch.count, 12_000)


class RefusedTest(unittest.TestCase):
    def test_bad_values_are_refused(self) -> None:
        for bad in (-0.001, -1e-300, math.nan, math.inf, -math.inf):
            with self.subTest(value=bad):
                sketch = LatencySketch()
                with self.assertRaisesRegex(ValueError, "finite number of seconds >= 0"):
                    sketch.add(bad)
                with self.assertRaisesRegex(ValueError, "finite number of seconds >= 0"):
                    sketch.add_many([0.1, 0.2, bad, 0.3])
                self.assertEqual(sketch, LatencySketch())  # all or nothing

    def test_negative_zero_is_zero(self) -> None:
        self.assertEqual(sketch_of([-0.0]).quantile(0.5), 0.0)

    def test_bad_count_and_quantile_are_refused(self) -> None:
        sketch = sketch_of([0.1])
        with self.assertRaisesRegex(ValueError, "count"):
            sketch.add(0.1, count=0)
        for q in (-0.01, 1.01, math.nan):
            with self.subTest(q=q), self.assertRaisesRegex(ValueError, "quantile"):
                sketch.quantile(q)
        self.assertEqual(sketch, sketch_of([0.1]))


if __name__ == "__main__":
    unittest.main()
