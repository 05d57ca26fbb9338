"""The distinct-clients sketch: its estimate's error, exact merges, and its C twin."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import unittest
from typing import List

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accelerator import speedups
from monilog.accumulation.counts import Counts
from monilog.accumulation.distinct import REGISTERS, SATURATED, DistinctSketch, add_python, rank_histogram, registers_max
from monilog.accumulation.statistics import Statistics, merged


def addresses(start: int, count: int) -> List[str]:
    """``count`` consecutive IPv4 addresses: keys as alike as real clients are."""
    return [f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in range(start, start + count)]


class EstimateTest(unittest.TestCase):
    def test_the_estimate_is_within_a_few_standard_errors_from_none_to_many(self) -> None:
        draw = random.Random(11)
        for count in (0, 1, 2, 7, 100, 1_000, 10_000, 40_000, 150_000):
            for keys in (addresses(count, count), [f"{draw.getrandbits(64):x}" for _ in range(count)]):
                sketch = DistinctSketch()
                sketch.add(keys)
                # a relative standard error of 0.8 %: 4 % is five of them (small counts: two registers shared)
                self.assertLessEqual(abs(sketch.estimate() - count), max(2.0, 0.04 * count), count)

    def test_a_key_counts_once_however_often_it_is_added(self) -> None:
        sketch = DistinctSketch()
        sketch.add(addresses(0, 5_000))
        once = sketch.copy()
        sketch.add(addresses(0, 5_000) * 3)
        self.assertEqual(sketch, once)

    def test_merging_is_the_sketch_of_the_union_in_any_order(self) -> None:
        parts = [addresses(0, 3_000), addresses(2_000, 3_000), addresses(10_000, 50)]
        whole = DistinctSketch()
        whole.add([key for part in parts for key in part])
        for order in ((0, 1, 2), (2, 1, 0), (1, 0, 2)):
            sketch = DistinctSketch()
            for index in order:
                piece = DistinctSketch()
                piece.add(parts[index])
                sketch.merge(piece)
            self.assertEqual(sketch, whole)
        self.assertLess(abs(whole.estimate() - 5_050), 0.04 * 5_050)

    def test_registers_merge_to_the_larger_of_each_pair_whatever_their_values(self) -> None:
        draw = random.Random(4)
        for top in (0, 1, 51, 127, 128, 255):  # ranks stay below 52; given registers may be anything
            a, b = (bytes(draw.randrange(top + 1) for _ in range(REGISTERS)) for _ in range(2))
            self.assertEqual(registers_max(a, b), bytearray(map(max, a, b)), top)
            self.assertEqual(registers_max(b, a), bytearray(map(max, a, b)), top)

    def test_it_pickles_and_refuses_foreign_registers(self) -> None:
        sketch = DistinctSketch()
        sketch.add(["a", "b"])
        self.assertEqual(pickle.loads(pickle.dumps(sketch)), sketch)
        for foreign in (bytes(100), bytes([52]) * REGISTERS, bytes([255]) * REGISTERS):  # too few; ranks past 51
            with self.assertRaises(ValueError):
                DistinctSketch(foreign)
        sketch.registers[7] = 60  # changed in place: refused when it is loaded again
        with self.assertRaises(ValueError):
            pickle.loads(pickle.dumps(sketch))

    def test_every_register_at_the_largest_rank_is_a_bound_not_an_error(self) -> None:
        self.assertEqual(DistinctSketch(bytes([51]) * REGISTERS).estimate(), SATURATED)

    def test_the_histogram_of_ranks_counts_every_register_whatever_the_largest(self) -> None:
        draw = random.Random(5)
        for top in (0, 1, 2, 20, 50, 51):
            registers = bytes(draw.randrange(top + 1) for _ in range(REGISTERS))
            self.assertEqual(rank_histogram(registers), [registers.count(rank) for rank in range(52)], top)

    def test_every_process_hashes_alike(self) -> None:
        # worker processes' sketches merge with the main process's: no per-process hash seed
        code = ("import sys; from monilog.accumulation.distinct import DistinctSketch; s = DistinctSketch(); "
                "s.add(['10.0.0.%d' % n for n in range(300)] + ['é', '']); sys.stdout.write(s.registers.hex())")
        sketch = DistinctSketch()
        sketch.add([f"10.0.0.{n}" for n in range(300)] + ["é", ""])
        for seed in ("1", "2"):
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                                  env=dict(os.environ, PYTHONHASHSEED=seed))
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(bytes.fromhex(done.stdout), bytes(sketch.registers))


@unittest.skipIf(speedups is None, "the C accelerator is not built (MONILOG_REQUIRE_SPEEDUPS=1 makes this an error)")
class TwinTest(unittest.TestCase):
    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(max_size=30), max_size=60))
    def test_the_c_twin_sets_the_registers_the_reference_sets(self, keys: List[str]) -> None:
        mine, reference = bytearray(REGISTERS), bytearray(REGISTERS)
        done = speedups.distinct_add(mine, keys)
        add_python(reference, keys)
        if done is None:  # a lone surrogate: the C leaves the keys to the reference
            self.assertTrue(any(0xD800 <= ord(char) <= 0xDFFF for key in keys for char in key))
        else:
            self.assertEqual(mine, reference)

    def test_keys_it_leaves_to_the_reference(self) -> None:
        registers = bytearray(REGISTERS)
        self.assertIsNone(speedups.distinct_add(registers, ["a", "\ud800"]))
        sketch = DistinctSketch()
        sketch.add(["a", "\ud800"])  # the reference hashes the surrogate as it is
        self.assertEqual(sketch.estimate(), 2)
        with self.assertRaises(ValueError):
            speedups.distinct_add(bytearray(100), ["a"])


class UniqueClientsTest(unittest.TestCase):
    def test_clients_beyond_the_cap_are_estimated_per_span_and_across_merges(self) -> None:
        spans = []
        for start in (0, 6_000):  # two periods of 10,000 clients, 4,000 of them in both
            stats = Statistics(max_keys=500)
            for begin in range(start, start + 10_000, 1_000):  # batches, as the engine adds them
                clients = dict.fromkeys(addresses(begin, 1_000), 1)
                stats.add_counts(Counts({("/", 200): 1_000}, {}, {"GET": 1_000}, clients, {}))
            snapshot = stats.snapshot()
            self.assertFalse(snapshot.unique_clients_exact)
            self.assertLess(abs(snapshot.unique_clients - 10_000), 400)
            spans.append(snapshot)
        exact = Statistics(max_keys=500)
        exact.add_counts(Counts({("/", 200): 3}, {}, {"GET": 3}, {"10.9.9.9": 2, "10.0.0.1": 1}, {}))
        together = merged([*spans, exact.snapshot()])
        self.assertLess(abs(together.unique_clients - 16_001), 640)  # the union, not the sum
        self.assertEqual(together.unique_clients, spans[0].merge(spans[1]).merge(exact.snapshot()).unique_clients)


if __name__ == "__main__":
    unittest.main()
