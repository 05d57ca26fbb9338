"""Tests of the Statistics accumulator and its snapshots."""

from __future__ import annotations

import dataclasses
import pickle
import random
import unittest
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Iterable, List

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accumulation.counts import MAX_KEY_LENGTH, CountRows, Counts
from monilog.accumulation.overflow import MIN_CUT_KEYS, KeysNotSent, PackedKeys, UnsentKeys
from monilog.accumulation.statistics import (
    _BULK_KEYS,
    CLIENTS,
    DEFAULT_MAX_KEYS,
    DIMENSIONS,
    SECTIONS,
    STATUS_CODES,
    SectionStats,
    Statistics,
    StatsSnapshot,
)
from monilog.accumulation.status import status_class
from monilog.parsing.record import LogRecord

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))


def record(
    section: str = "/api", status: int = 200, size: int = 100, host: str = "10.0.0.1",
    user: str = "", method: str = "GET", seconds: int = 0,
) -> LogRecord:
    """A LogRecord with sensible defaults; only the fields Statistics reads matter."""
    time = T0 + timedelta(seconds=seconds)
    return LogRecord(
        host=host, ident="", user=user, time=time, method=method, target=section + "/x",
        protocol="HTTP/1.1", status=status, size=size, referer="", user_agent="test",
        section=section, epoch=int(time.timestamp()),
    )


def random_records(count: int, seed: int) -> List[LogRecord]:
    rnd = random.Random(seed)
    return [
        record(
            section=rnd.choice(["/", "/api", "/pages", "/report", "*"]),
            status=rnd.choice([200, 200, 200, 204, 301, 304, 404, 418, 500, 503, 0, 999]),
            size=rnd.randrange(0, 10_000),
            host=f"10.0.0.{rnd.randrange(20)}",
            user=rnd.choice(["", "", "alice", "bob"]),
            method=rnd.choice(["GET", "GET", "POST", "HEAD", ""]),
            seconds=rnd.randrange(20),
        )
        for _ in range(count)
    ]


def stats_of(records: Iterable[LogRecord], max_keys: int = DEFAULT_MAX_KEYS) -> Statistics:
    stats = Statistics(max_keys=max_keys)
    for item in records:
        stats.add(item)
    return stats


def counts_of(records: List[LogRecord]) -> Counts:
    """The counters of records, aggregated the way a chunked fast parser would (keys in first-seen order)."""
    section_bytes: Counter = Counter()
    for item in records:
        section_bytes[item.section] += item.size
    return Counts(
        section_status=dict(Counter((item.section, item.status) for item in records)),
        section_bytes=dict(section_bytes),
        methods=dict(Counter(item.method for item in records)),
        clients=dict(Counter(item.host for item in records)),
        users=dict(Counter(item.user for item in records)),
    )


def aggregate_into(stats: Statistics, records: List[LogRecord], late: int = 0) -> None:
    """Feed records through add_counts, aggregated the way a chunked fast parser would."""
    stats.add_counts(counts_of(records), late=late)


class TotalsTest(unittest.TestCase):
    def test_hits_bytes_and_rate(self) -> None:
        stats = stats_of([record(size=100), record(size=300), record(size=0), record(size=600)])
        snap = stats.snapshot(T0, T0 + timedelta(seconds=10))
        self.assertEqual(snap.hits, 4)
        self.assertEqual(snap.bytes_total, 1000)
        self.assertEqual(snap.bytes_mean, 250.0)
        self.assertEqual(snap.duration, 10.0)
        self.assertEqual(snap.rps, 0.4)
        self.assertEqual((snap.start, snap.end), (T0, T0 + timedelta(seconds=10)))

    def test_rate_unknown_without_span(self) -> None:
        snap = stats_of([record()]).snapshot()
        self.assertIsNone(snap.duration)
        self.assertIsNone(snap.rps)
        self.assertIsNone(stats_of([record()]).snapshot(T0, T0).rps)

    def test_empty_snapshot_divides_by_nothing(self) -> None:
        snap = Statistics().snapshot(T0, T0 + timedelta(seconds=10))
        self.assertEqual((snap.hits, snap.bytes_total, snap.errors), (0, 0, 0))
        self.assertEqual(snap.rps, 0.0)
        self.assertEqual(snap.bytes_mean, 0.0)
        self.assertEqual(snap.error_rate, 0.0)
        self.assertEqual(snap.top_sections(10), [])
        self.assertEqual(dict(snap.status_classes), {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0})
        self.assertEqual(snap.unique_clients, 0)
        self.assertEqual(snap.overflowed, frozenset())
        self.assertEqual(Statistics().snapshot(T0, T0).rps, 0.0)

    def test_snapshot_rejects_bad_times(self) -> None:
        stats = Statistics()
        with self.assertRaises(ValueError):
            stats.snapshot(T0, T0 - timedelta(seconds=1))
        with self.assertRaises(ValueError):
            stats.snapshot(datetime(2024, 5, 1), None)

    def test_rejects_bad_max_keys(self) -> None:
        for bad in (0, -1, 1.5, True):
            with self.assertRaises(ValueError):
                Statistics(max_keys=bad)  # type: ignore[arg-type]

    def test_reset_starts_over(self) -> None:
        stats = stats_of([record(user="bob")])
        stats.add_skipped("truncated")
        stats.add(record(), late=True)
        stats.reset()
        self.assertEqual(stats.snapshot(), Statistics().snapshot())


class DimensionsTest(unittest.TestCase):
    def test_sections_hits_errors_bytes(self) -> None:
        stats = stats_of([
            record("/api", 200, 10), record("/api", 404, 20), record("/api", 503, 30),
            record("/pages", 302, 5), record("/pages", 200, 7),
        ])
        snap = stats.snapshot()
        self.assertEqual(dict(snap.sections), {
            "/api": SectionStats(hits=3, errors=2, bytes=60),
            "/pages": SectionStats(hits=2, errors=0, bytes=12),
        })
        self.assertEqual(snap.errors, 2)
        self.assertEqual(snap.error_rate, 0.4)

    def test_status_codes_and_classes(self) -> None:
        codes = [200, 200, 299, 101, 301, 304, 404, 400, 500, 599, 0, 600, 999]
        snap = stats_of(record(status=code) for code in codes).snapshot()
        self.assertEqual(dict(snap.status_codes), dict(Counter(codes)))
        self.assertEqual(list(snap.status_classes.items()), [
            ("1xx", 1), ("2xx", 3), ("3xx", 2), ("4xx", 2), ("5xx", 2), ("other", 3),
        ])
        self.assertEqual(snap.errors, 4, "4xx and 5xx only; odd codes outside 100-599 are not errors")

    def test_status_class_function(self) -> None:
        self.assertEqual([status_class(c) for c in (100, 199, 200, 404, 599, 99, 600, -1)],
                         ["1xx", "1xx", "2xx", "4xx", "5xx", "other", "other", "other"])

    def test_methods_count_every_record(self) -> None:
        snap = stats_of([record(method="GET"), record(method="GET"), record(method="POST"),
                         record(method="")]).snapshot()
        self.assertEqual(dict(snap.methods), {"GET": 2, "POST": 1, "": 1})

    def test_clients_and_unique_clients(self) -> None:
        snap = stats_of([record(host="a"), record(host="b"), record(host="a")]).snapshot()
        self.assertEqual(dict(snap.clients), {"a": 2, "b": 1})
        self.assertEqual(snap.unique_clients, 2)
        self.assertTrue(snap.unique_clients_exact)

    def test_users_ignore_anonymous_requests(self) -> None:
        snap = stats_of([record(user=""), record(user="alice"), record(user="bob"),
                         record(user="alice")]).snapshot()
        self.assertEqual(dict(snap.users), {"alice": 2, "bob": 1})
        self.assertEqual(snap.hits, 4)

    def test_skipped_reasons(self) -> None:
        stats = Statistics()
        stats.add_skipped("truncated")
        stats.add_skipped("bad-status", 3)
        stats.add_skipped("truncated")
        snap = stats.snapshot()
        self.assertEqual(dict(snap.skipped), {"truncated": 2, "bad-status": 3})
        self.assertEqual(snap.skipped_total, 5)
        self.assertEqual(snap.hits, 0, "skipped lines are not hits")
        for bad in (-1, 1.0):
            with self.assertRaises(ValueError):
                stats.add_skipped("x", bad)  # type: ignore[arg-type]

    def test_late_records_are_hits_and_counted_as_late(self) -> None:
        stats = Statistics()
        stats.add(record())
        stats.add(record(), late=True)
        stats.add(record(), late=True)
        snap = stats.snapshot()
        self.assertEqual((snap.hits, snap.late), (3, 2))


class RankingTest(unittest.TestCase):
    def setUp(self) -> None:
        counts = {"/b": 3, "/a": 3, "/c": 5, "/d": 1}
        self.snap = stats_of(
            record(section, host=section.strip("/"), user=section.strip("/"),
                   status=200 + index, size=10)
            for index, (section, hits) in enumerate(counts.items()) for _ in range(hits)
        ).snapshot()

    def test_sections_by_hits_then_name(self) -> None:
        top = self.snap.top_sections(3)
        self.assertEqual([(name, stats.hits) for name, stats, _ in top], [("/c", 5), ("/a", 3), ("/b", 3)])
        self.assertEqual(top[0][1], SectionStats(5, 0, 50))
        self.assertAlmostEqual(top[0][2], 5 / 12)

    def test_all_and_none(self) -> None:
        self.assertEqual(len(self.snap.top_sections()), 4)
        self.assertEqual(len(self.snap.top_sections(100)), 4)
        self.assertEqual(self.snap.top_sections(0), [])
        self.assertEqual(self.snap.top_clients(-1), [])

    def test_clients_users_codes(self) -> None:
        self.assertEqual([(k, h) for k, h, _ in self.snap.top_clients(2)], [("c", 5), ("a", 3)])
        self.assertEqual([(k, h) for k, h, _ in self.snap.top_users()], [("c", 5), ("a", 3), ("b", 3), ("d", 1)])
        self.assertEqual([(k, h) for k, h, _ in self.snap.top_status_codes()],
                         [(202, 5), (200, 3), (201, 3), (203, 1)])
        self.assertEqual(self.snap.top_methods(), [("GET", 12, 1.0)])
        self.assertAlmostEqual(sum(share for _, _, share in self.snap.top_clients()), 1.0)


class ImmutabilityTest(unittest.TestCase):
    def test_snapshot_does_not_follow_the_accumulator(self) -> None:
        stats = stats_of([record("/a", host="x", user="u")])
        stats.add_skipped("truncated")
        snap = stats.snapshot()
        before = pickle.dumps(snap)
        stats.add(record("/a", host="x", user="u", status=500), late=True)
        stats.add(record("/b", host="y", user="v", method="POST"))
        stats.add_skipped("truncated")
        self.assertEqual(snap, pickle.loads(before))
        self.assertEqual(snap.sections["/a"], SectionStats(1, 0, 100))
        self.assertEqual(dict(snap.clients), {"x": 1})
        self.assertEqual(dict(snap.skipped), {"truncated": 1})
        self.assertEqual(snap.late, 0)

    def test_snapshot_cannot_be_changed(self) -> None:
        snap = stats_of([record()]).snapshot()
        with self.assertRaises(dataclasses.FrozenInstanceError):
            snap.hits = 5  # type: ignore[misc]
        for mapping in (snap.sections, snap.clients, snap.status_codes, snap.folded, snap.skipped):
            with self.assertRaises(TypeError):
                mapping["new"] = 1  # type: ignore[index]
        with self.assertRaises(AttributeError):
            snap.sections["/api"].hits = 0  # type: ignore[misc]

    def test_constructor_copies_its_mappings(self) -> None:
        clients = {"a": 1}
        snap = dataclasses.replace(Statistics().snapshot(), clients=clients)
        clients["b"] = 2
        self.assertEqual(dict(snap.clients), {"a": 1})

    def test_pickles(self) -> None:
        stats = stats_of(random_records(200, seed=3), max_keys=3)
        stats.add_skipped("truncated", 2)
        snap = stats.snapshot(T0, T0 + timedelta(seconds=10))
        copy = pickle.loads(pickle.dumps(snap))
        self.assertEqual(copy, snap)
        self.assertIsInstance(copy, StatsSnapshot)
        with self.assertRaises(TypeError):
            copy.clients["z"] = 1  # type: ignore[index]


class MergeTest(unittest.TestCase):
    def periods(self, records: List[LogRecord], cut: int) -> StatsSnapshot:
        first = stats_of(r for r in records if r.epoch - T0.timestamp() < cut)
        second = stats_of(r for r in records if r.epoch - T0.timestamp() >= cut)
        middle = T0 + timedelta(seconds=cut)
        return first.snapshot(T0, middle).merge(second.snapshot(middle, T0 + timedelta(seconds=20)))

    def test_merge_of_periods_equals_all_together(self) -> None:
        records = random_records(500, seed=1)
        together = stats_of(records).snapshot(T0, T0 + timedelta(seconds=20))
        self.assertEqual(self.periods(records, 10), together)
        self.assertEqual(self.periods(records, 0), together)

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 10_000), st.integers(0, 300), st.integers(0, 20))
    def test_merge_property(self, seed: int, count: int, cut: int) -> None:
        records = random_records(count, seed)
        together = stats_of(records).snapshot(T0, T0 + timedelta(seconds=20))
        self.assertEqual(self.periods(records, cut), together)

    def test_merge_adds_skipped_and_late(self) -> None:
        a, b = Statistics(), Statistics()
        a.add_skipped("truncated")
        b.add_skipped("truncated", 2)
        b.add_skipped("bad-time")
        b.add(record(), late=True)
        merged = a.snapshot().merge(b.snapshot())
        self.assertEqual(dict(merged.skipped), {"truncated": 3, "bad-time": 1})
        self.assertEqual(merged.late, 1)

    def test_durations(self) -> None:
        def span(start: int, end: int) -> StatsSnapshot:
            return Statistics().snapshot(T0 + timedelta(seconds=start), T0 + timedelta(seconds=end))

        gap = span(0, 10).merge(span(20, 30))
        self.assertEqual((gap.start, gap.end, gap.duration), (T0, T0 + timedelta(seconds=30), 20.0))
        self.assertEqual(span(0, 10).merge(span(5, 15)).duration, 15.0)
        self.assertEqual(span(0, 30).merge(span(10, 20)).duration, 30.0)
        self.assertEqual(span(0, 10).merge(span(10, 20)).merge(span(20, 30)).duration, 30.0)
        self.assertEqual(gap.merge(span(40, 45)).duration, 25.0)
        unknown = span(0, 10).merge(Statistics().snapshot())
        self.assertIsNone(unknown.duration)
        self.assertEqual((unknown.start, unknown.end), (T0, T0 + timedelta(seconds=10)))

    def test_merge_caps_keeping_the_heaviest_keys(self) -> None:
        a = stats_of([record(f"/s{i}", host=f"h{i}", status=200 + i) for i in range(3)] * 2, max_keys=3)
        b = stats_of([record("/big", host="big", status=404)] * 5 + [record("/s0", host="h0", status=200)],
                     max_keys=3)
        merged = a.snapshot().merge(b.snapshot())
        self.assertEqual(merged.hits, 12)
        self.assertEqual(set(merged.sections), {"/big", "/s0", "/s1"})
        self.assertEqual(merged.folded_sections, SectionStats(2, 0, 200))
        self.assertEqual(merged.folded[SECTIONS], 2)
        self.assertEqual(dict(merged.clients), {"big": 5, "h0": 3, "h1": 2})
        self.assertEqual(merged.folded[CLIENTS], 2)
        self.assertEqual(merged.overflowed, frozenset({SECTIONS, CLIENTS, STATUS_CODES}))
        self.assertFalse(merged.unique_clients_exact)
        self.assertEqual(merged.unique_clients, 4)
        self.assertEqual(merged.status_classes["2xx"], 7, "classes stay exact when codes are folded")
        self.assertEqual(merged.errors, 5)


class BoundedMemoryTest(unittest.TestCase):
    def test_hostile_distinct_keys_stay_bounded_and_exact(self) -> None:
        max_keys = 50
        stats = Statistics(max_keys=max_keys)
        count = 20_000  # 400 times the key cap, every method and status value many times over
        for i in range(count):
            stats.add(record(f"/p{i}", status=100 + i % 900, size=i % 7, host=f"c{i}", user=f"u{i}",
                             method=f"M{i % 1000}"))
        snap = stats.snapshot()
        self.assertEqual(snap.hits, count)
        for name in DIMENSIONS:
            self.assertLessEqual(len(getattr(snap, name)), max_keys, name)
            self.assertEqual(sum(h.hits if name == SECTIONS else h for h in getattr(snap, name).values())
                             + snap.folded[name], count, name)
        self.assertEqual(snap.overflowed, frozenset(DIMENSIONS))
        self.assertEqual(sum(stats.bytes for stats in snap.sections.values()) + snap.folded_sections.bytes,
                         snap.bytes_total)
        self.assertEqual(snap.bytes_total, sum(i % 7 for i in range(count)))
        expected_errors = sum(1 for i in range(count) if 400 <= 100 + i % 900 <= 599)
        self.assertEqual(snap.errors, expected_errors)
        self.assertEqual(sum(snap.status_classes.values()), count)
        self.assertEqual(snap.status_classes["4xx"], sum(1 for i in range(count) if 400 <= 100 + i % 900 <= 499))
        self.assertEqual(snap.status_classes["other"], sum(1 for i in range(count) if 100 + i % 900 >= 600))
        self.assertFalse(snap.unique_clients_exact)
        self.assertLess(abs(snap.unique_clients - count), 0.03 * count, "estimated from the sketch")
        self.assertEqual(set(snap.sections), {f"/p{i}" for i in range(max_keys)}, "first keys are kept")

    def test_tracked_keys_keep_counting_after_overflow(self) -> None:
        stats = Statistics(max_keys=2)
        for section in ["/a", "/b", "/c", "/a", "/d", "/b", "/a"]:
            stats.add(record(section))
        snap = stats.snapshot()
        self.assertEqual({k: v.hits for k, v in snap.sections.items()}, {"/a": 3, "/b": 2})
        self.assertEqual(snap.folded_sections.hits, 2)
        self.assertEqual(snap.overflowed, frozenset({SECTIONS}))
        self.assertEqual([name for name, _, _ in snap.top_sections()], ["/a", "/b"])

    def test_long_keys_are_cut(self) -> None:
        long_path = "/" + "x" * 1_000_000
        long_host = "h" * 1000
        stats = stats_of([record(long_path, user="u" * 5000, host=long_host), record(long_path + "y", host=long_host)])
        snap = stats.snapshot()
        (section, stats_), = snap.sections.items()
        self.assertEqual(len(section), MAX_KEY_LENGTH)
        self.assertTrue(section.endswith("…"))
        self.assertEqual(stats_.hits, 2)
        self.assertEqual([len(user) for user in snap.users], [MAX_KEY_LENGTH])
        self.assertEqual(list(snap.clients.values()), [2])


class AddCountsTest(unittest.TestCase):
    def test_equals_adding_records_one_by_one(self) -> None:
        records = random_records(2000, seed=7)
        one_by_one = stats_of(records)
        one_by_one.add(record(), late=True)
        bulk = Statistics()
        aggregate_into(bulk, records[:1200])
        aggregate_into(bulk, records[1200:] + [record()], late=1)
        end = T0 + timedelta(seconds=20)
        self.assertEqual(bulk.snapshot(T0, end), one_by_one.snapshot(T0, end))

    def test_mixes_with_add_and_bounds_memory(self) -> None:
        stats = Statistics(max_keys=10)
        records = [record(f"/s{i}", host=f"h{i}", status=350 + i, size=1) for i in range(100)]
        aggregate_into(stats, records)
        stats.add(record("/s0", host="h0"))
        snap = stats.snapshot()
        self.assertEqual(snap.hits, 101)
        self.assertEqual(snap.bytes_total, 200)
        for name in (SECTIONS, STATUS_CODES, CLIENTS):
            self.assertEqual(len(getattr(snap, name)), 10, name)
        self.assertEqual(snap.folded[CLIENTS] + sum(snap.clients.values()), 101)
        self.assertEqual(sum(snap.status_classes.values()), 101)
        self.assertEqual(snap.errors, 50, "statuses 400-449, counted exactly even when folded")

    def test_batches_into_full_dimensions_count_as_records_one_by_one(self) -> None:
        """A dimension that holds max_keys keys counts a batch's keys at once (set operations), a
        record's key by key: both ways give the same statistics (long keys, the empty user,
        errors and tracked keys among them)."""
        end = T0 + timedelta(seconds=10)
        for seed in range(12):
            rnd = random.Random(seed)
            max_keys = rnd.choice([40, 100, 300])
            long_keys = seed % 2 == 0
            batches = [many_keys(rnd.randrange(50, 1500), rnd, rnd.choice([200, 600, 5000]), long_keys)
                       for _ in range(rnd.randrange(2, 5))]
            if seed % 3 == 0:  # sections with hits and no bytes
                batches[-1] = [item._replace(size=0) for item in batches[-1]]
            batched, one_by_one = Statistics(max_keys), Statistics(max_keys)
            for batch in batches:
                aggregate_into(batched, batch)
                for item in batch:
                    one_by_one.add(item)
            self.assertEqual(batched.snapshot(T0, end), one_by_one.snapshot(T0, end), seed)
            self.assertTrue(batched.snapshot().overflowed, seed)

    def test_batches_into_empty_dimensions_count_as_records_one_by_one(self) -> None:
        """Empty dimensions take a batch's first keys at once and fold the others at once: the same
        statistics as key by key (sections with several statuses, errors, no bytes given, the
        empty user, long keys, which go key by key; batches within the cap and beyond it)."""
        end = T0 + timedelta(seconds=10)
        for seed in range(12):
            rnd = random.Random(seed)
            max_keys = rnd.choice([100, 400, 3000])
            records = many_keys(rnd.randrange(2 * _BULK_KEYS, 600), rnd, rnd.choice([60, 300, 3000]), seed % 3 == 0)
            records = [item._replace(size=0) if index % 3 else item for index, item in enumerate(records)]
            counts = counts_of(records)
            counts = counts._replace(section_bytes={key: size for key, size in counts.section_bytes.items() if size})
            batched, one_by_one = Statistics(max_keys), Statistics(max_keys)
            batched.add_counts(counts)
            for item in records:
                one_by_one.add(item)
            self.assertEqual(batched.snapshot(T0, end), one_by_one.snapshot(T0, end), seed)

    def test_zero_counts_in_a_batch_into_full_dimensions_add_no_key(self) -> None:
        def snapshot(zeros: bool) -> StatsSnapshot:
            stats = Statistics(max_keys=2)
            stats.add_counts(Counts({("/a", 200): 1, ("/b", 200): 1}, {}, {"GET": 2}, {"h": 2}, {}))
            pairs = {("/z", 404): 0, ("/b", 301): 0} if zeros else {}  # first, but no hits
            pairs.update({(f"/n{index}", 500): 1 for index in range(2 * _BULK_KEYS)})
            pairs[("/y", 404)] = 1
            clients = {"zero": 0} if zeros else {}
            clients.update({f"c{index}": 1 for index in range(2 * _BULK_KEYS + 1)})
            hits = 2 * _BULK_KEYS + 1
            stats.add_counts(Counts(pairs, {"/b": 0}, {"GET": hits}, clients, {}))
            return stats.snapshot()

        self.assertEqual(snapshot(True), snapshot(False))
        self.assertEqual(dict(snapshot(True).status_codes), {200: 2, 500: 2 * _BULK_KEYS})

    def test_rejects_inconsistent_counters_without_counting(self) -> None:
        good = dict(section_status={("/a", 200): 2, ("/zero", 200): 0}, section_bytes={"/a": 10},
                    methods={"GET": 2, "PUT": 0}, clients={"h": 2}, users={"": 2})
        bad_cases = [
            dict(methods={"GET": 1}),
            dict(clients={"h": 3}),
            dict(users={"u": 3}),
            dict(section_status={("/a", 200): -1}),
            dict(section_status={("/a", 200): 2.0}),
            dict(section_bytes={"/b": 5}),
            dict(late=3),
        ]
        stats = Statistics()
        for case in bad_cases:
            with self.subTest(case=case), self.assertRaises(ValueError):
                fields = {**good, **case}
                late = fields.pop("late", 0)
                stats.add_counts(Counts(**fields), late=late)  # type: ignore[arg-type]
        self.assertEqual(stats.snapshot(), Statistics().snapshot())
        stats.add_counts(Counts(**good))  # type: ignore[arg-type]
        snap = stats.snapshot()
        self.assertEqual((snap.hits, snap.bytes_total, dict(snap.users)), (2, 10, {}))
        self.assertEqual((list(snap.sections), dict(snap.methods)), (["/a"], {"GET": 2}), "zero counts add no keys")


def many_keys(count: int, rnd: random.Random, pool: int, long_keys: bool = True) -> List[LogRecord]:
    """Records whose sections, clients, users (and, from some pools, methods) come from ``pool`` keys
    each, a few of them (with ``long_keys``) longer than MAX_KEY_LENGTH and alike in their first characters."""
    def key(prefix: str) -> str:
        number = rnd.randrange(pool)
        return f"{prefix}{'x' * MAX_KEY_LENGTH}{number}" if long_keys and number % 97 == 0 else f"{prefix}{number}"
    return [record(section=key("/s"), status=rnd.choice([200, 200, 304, 404, 500, 999]), size=rnd.randrange(500),
                   host=key("h"), user=rnd.choice(["", key("u"), key("u")]),
                   method=key("M") if pool % 2 else rnd.choice(["GET", "POST", ""]))
            for _ in range(count)]


class CutTest(unittest.TestCase):
    """Counts.cut: the cut counters give the statistics of the whole, whatever the statistics held
    and whatever their cap."""

    def test_cut_counters_give_the_statistics_of_the_whole_counters(self) -> None:
        end = T0 + timedelta(seconds=10)
        cases = 0
        for seed in range(20):
            rnd = random.Random(seed)
            pool = rnd.choice([2500, 3001, 6000])
            long_keys = seed % 2 == 0  # keys that are cut apply one by one, the others at once
            before = many_keys(rnd.choice([0, 400, 1200, 5000]), rnd, pool, long_keys)  # empty, room left, full
            records = many_keys(rnd.randrange(1500, 4500), rnd, pool, long_keys)
            if seed % 4 == 1:  # the empty user first seen after the cut
                records.sort(key=lambda item: item.user == "")
            if seed % 5 == 2:  # a section of its own per record (random paths), some without bytes
                records = [item._replace(section=f"/own{index}", size=index % 3) for index, item in enumerate(records)]
            elif seed % 5 == 4:  # a section of its own per record, each with bytes
                records = [item._replace(section=f"/own{index}", size=index + 1) for index, item in enumerate(records)]
            whole = counts_of(records)
            cut_at = rnd.choice([MIN_CUT_KEYS, MIN_CUT_KEYS + 700])
            cut = whole.cut(cut_at)
            if cut.overflow is None:
                continue
            cases += 1
            self.assertEqual(cut.hits, whole.hits)
            self.assertLessEqual(len({section for section, _ in cut.section_status}), cut_at)
            max_keys = rnd.choice([MIN_CUT_KEYS, MIN_CUT_KEYS + 700, 2 * MIN_CUT_KEYS])  # room left after the cut, or not
            reference, tested = Statistics(max_keys), Statistics(max_keys)
            for stats in (reference, tested):
                aggregate_into(stats, before)
            reference.add_counts(whole, late=3)
            tested.add_counts(cut, late=3)
            self.assertEqual(tested.snapshot(T0, end), reference.snapshot(T0, end), seed)
        self.assertGreater(cases, 14)

    def test_folded_counters_give_the_whole_statistics_where_they_fold_unread_and_are_refused_elsewhere(self) -> None:
        """An overflow :meth:`folded <Overflow.folded>` (its sections and clients not sent, as a
        replay's worker sends a period it holds whole) gives the statistics of the whole counters
        wherever :meth:`Statistics.folds_unread` says so, and is refused, counting nothing, elsewhere."""
        end = T0 + timedelta(seconds=10)
        folds = {True: 0, False: 0}
        for seed in range(24):
            rnd = random.Random(seed)
            long_keys = seed % 3 == 0
            records = many_keys(rnd.randrange(2500, 4500), rnd, rnd.choice([3001, 6000]), long_keys)
            if seed % 2:  # a section of its own per record (random paths)
                records = [item._replace(section=f"/own{index}", size=index % 3) for index, item in enumerate(records)]
            whole = counts_of(records)
            cut = whole.cut(MIN_CUT_KEYS)
            assert cut.overflow is not None
            folded = pickle.loads(pickle.dumps(cut._replace(overflow=cut.overflow.folded())))  # as it travels
            assert folded.overflow is not None
            self.assertFalse(folded.overflow.sent)
            self.assertTrue(cut.overflow.sent)
            self.assertEqual(folded.hits, whole.hits)
            before = many_keys(rnd.choice([0, 0, 400, 1200]), rnd, 3001, long_keys)  # empty, room left, full
            max_keys = rnd.choice([MIN_CUT_KEYS, MIN_CUT_KEYS, MIN_CUT_KEYS + 500])
            reference, tested = Statistics(max_keys), Statistics(max_keys)
            for stats in (reference, tested):
                aggregate_into(stats, before)
            reference.add_counts(whole, late=2)
            untouched = tested.snapshot(T0, end)
            unread = tested.folds_unread(folded)
            self.assertEqual(unread, not before and max_keys == MIN_CUT_KEYS and not long_keys, seed)
            folds[unread] += 1
            if unread:
                tested.add_counts(folded, late=2)
                self.assertEqual(tested.snapshot(T0, end), reference.snapshot(T0, end), seed)
            else:
                with self.assertRaises(ValueError):
                    tested.add_counts(folded, late=2)
                self.assertEqual(tested.snapshot(T0, end), untouched, seed)
        self.assertGreater(min(folds.values()), 3)

    def test_keys_not_sent_fold_on_purpose_where_they_would_be_read_and_every_total_stays_exact(self) -> None:
        records = many_keys(3000, random.Random(3), 6000, long_keys=False)
        whole = counts_of(records)
        cut = whole.cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        folded = cut._replace(overflow=cut.overflow.folded())
        before = many_keys(400, random.Random(4), 6000, long_keys=False)  # room left: the keys would be read
        reference, tested = Statistics(MIN_CUT_KEYS), Statistics(MIN_CUT_KEYS)
        for stats in (reference, tested):
            aggregate_into(stats, before)
        self.assertFalse(tested.folds_unread(folded))
        reference.add_counts(whole, late=5)
        tested.add_counts(folded, late=5, fold_unsent=True)
        got, expected = tested.snapshot(), reference.snapshot()
        totals = ("hits", "errors", "bytes_total", "late", "status_codes", "methods", "users")
        self.assertEqual([getattr(got, name) for name in totals], [getattr(expected, name) for name in totals])
        self.assertAlmostEqual(got.unique_clients, expected.unique_clients, delta=0.05 * expected.unique_clients)
        self.assertEqual(sum(entry.hits for entry in got.sections.values()) + got.folded[SECTIONS], got.hits)
        self.assertGreater(got.folded[SECTIONS], expected.folded[SECTIONS])  # the keys not sent took no place
        self.assertGreater(got.folded[CLIENTS], expected.folded[CLIENTS])

    def test_clients_without_their_sketch_are_sent(self) -> None:
        whole = counts_of([record(section=f"/s{index}", host=f"h{index}") for index in range(3 * MIN_CUT_KEYS)])
        cut = whole.cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        folded = cut.overflow._replace(client_sketch=None).folded()  # statistics hash clients without a sketch
        self.assertFalse(folded.sent)
        self.assertEqual(list(folded.clients.keys), list(cut.overflow.clients.keys))
        reference, tested = Statistics(MIN_CUT_KEYS), Statistics(MIN_CUT_KEYS)
        reference.add_counts(whole)
        tested.add_counts(cut._replace(overflow=folded))
        self.assertEqual(tested.snapshot(), reference.snapshot())

    def test_keys_not_sent_are_never_read(self) -> None:
        cut = counts_of([record(section=f"/s{index}", host=f"h{index}") for index in range(3 * MIN_CUT_KEYS)]).cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        folded = cut.overflow.folded()
        self.assertEqual((len(folded.sections), list(folded.section_hits)), (1, [2 * MIN_CUT_KEYS]))
        self.assertEqual(folded.sections, UnsentKeys(2 * MIN_CUT_KEYS))
        self.assertLess(len(pickle.dumps(folded)), len(pickle.dumps(cut.overflow)) / 4)
        for keys in (folded.sections, folded.clients.keys):
            with self.assertRaises(KeysNotSent):
                keys[0]
        self.assertIs(folded.folded().sections, folded.sections)  # folded once: nothing left to fold
        self.assertTrue(Statistics(MIN_CUT_KEYS).folds_unread(cut._replace(overflow=None)))

    def test_counters_whose_first_keys_may_leave_room_are_not_folded_unread(self) -> None:
        """Where the keys before the cut may not fill empty statistics (fewer sections than pairs, a
        key long enough to be cut, a key without hits), the keys beyond it would be read: folded
        counters are refused."""
        def folded(records: List[LogRecord]) -> Counts:
            cut = counts_of(records).cut(MIN_CUT_KEYS)
            assert cut.overflow is not None
            return cut._replace(overflow=cut.overflow.folded())

        plain = [record(section=f"/s{index}", host=f"h{index}") for index in range(3 * MIN_CUT_KEYS)]
        self.assertTrue(Statistics(MIN_CUT_KEYS).folds_unread(folded(plain)))
        for index, changed in ((5, {"section": "/" + "x" * MAX_KEY_LENGTH}), (7, {"host": "h" * MAX_KEY_LENGTH})):
            records = list(plain)
            records[index] = records[index]._replace(**changed)  # type: ignore[arg-type]
            self.assertFalse(Statistics(MIN_CUT_KEYS).folds_unread(folded(records)), changed)
        counts = folded(plain)
        halved: dict = {}
        for (section, status), hits in counts.section_status.items():  # 1,000 pairs of 500 sections
            pair = (section if int(section[2:]) % 2 else f"/s{int(section[2:]) + 1}", status + int(section[2:]) % 2)
            halved[pair] = halved.get(pair, 0) + hits
        self.assertEqual(len(halved), MIN_CUT_KEYS)
        self.assertFalse(Statistics(MIN_CUT_KEYS).folds_unread(counts._replace(section_status=halved, section_bytes={})))
        clients = dict(counts.clients)
        clients["h4"] += clients["h3"]
        clients["h3"] = 0  # a client without hits takes no place
        self.assertFalse(Statistics(MIN_CUT_KEYS).folds_unread(counts._replace(clients=clients)))

    def test_long_keys_beyond_the_cut_count_under_a_long_key_before_it_in_empty_statistics(self) -> None:
        long = "x" * MAX_KEY_LENGTH
        records = [record(section=f"/{long}0", host=f"{long}0")]  # cut to MAX_KEY_LENGTH, and tracked
        records += [record(section=f"/s{index}", host=f"h{index}") for index in range(3 * MIN_CUT_KEYS)]
        records += [record(section=f"/{long}{index}", host=f"{long}{index}") for index in range(1, 9)]  # beyond the cut, cut alike
        whole = counts_of(records)
        cut = whole.cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        end = T0 + timedelta(seconds=10)
        reference = Statistics(MIN_CUT_KEYS)
        reference.add_counts(whole)
        cut_key = long[:MAX_KEY_LENGTH - 1] + "…"
        for counts in (cut, pickle.loads(pickle.dumps(cut))):  # as cut, and as it travels (keys packed)
            tested = Statistics(MIN_CUT_KEYS)
            tested.add_counts(counts)
            snapshot = tested.snapshot(T0, end)
            self.assertEqual(snapshot, reference.snapshot(T0, end))
            self.assertEqual((snapshot.sections["/" + cut_key[:-2] + "…"].hits, snapshot.clients[cut_key]), (9, 9))

    def test_an_overflow_made_by_hand_is_read_whatever_it_repeats(self) -> None:
        """Keys beyond a cut that travelled are taken as the cut made them; an overflow made by
        hand is read: keys that repeat the counters' own count under them, and its clients are
        hashed rather than its sketch trusted."""
        records = [record(section=f"/s{index}", host=f"h{index}") for index in range(2 * MIN_CUT_KEYS)]
        cut = counts_of(records).cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        overflow = cut.overflow
        repeating = overflow._replace(sections=[f"/s{index}" for index in range(MIN_CUT_KEYS)],
                                      clients=overflow.clients._replace(keys=[f"h{index}" for index in range(MIN_CUT_KEYS)]))
        for counts in (cut._replace(overflow=repeating), pickle.loads(pickle.dumps(cut._replace(overflow=repeating)))):
            stats = Statistics(MIN_CUT_KEYS)
            stats.add_counts(counts)  # after a pickle too: keys in a list stay a list, read
            snapshot = stats.snapshot()
            self.assertEqual((snapshot.sections["/s0"].hits, snapshot.clients["h0"], snapshot.folded[CLIENTS]), (2, 2, 0))
        other_sketch = overflow._replace(clients=overflow.clients._replace(keys=["x"] * MIN_CUT_KEYS))  # one client
        hashed = Statistics(MIN_CUT_KEYS)
        hashed.add_counts(cut._replace(overflow=other_sketch._replace(client_sketch=None)))
        trusted = Statistics(MIN_CUT_KEYS)
        trusted.add_counts(cut._replace(overflow=other_sketch))  # the sketch is of h1000..., not of these clients
        self.assertEqual(trusted.snapshot(), hashed.snapshot())
        self.assertLess(hashed.snapshot().unique_clients, 1.1 * MIN_CUT_KEYS)  # h0... and x, not h1000...
        with self.assertRaises(ValueError):
            Statistics(MIN_CUT_KEYS).add_counts(cut._replace(overflow=overflow._replace(client_sketch="x")))  # type: ignore[arg-type]

    def test_cut_counters_pickle_as_they_were_keys_with_newlines_too(self) -> None:
        records = many_keys(3000, random.Random(6), 5000)
        records[2500] = records[2500]._replace(section="/a\nb", host="h\n", user="\n")  # JSON logs may decode these
        for batch in (records, records[:2400]):  # with and without a newline in a key beyond the cut
            cut = counts_of(batch).cut(MIN_CUT_KEYS)
            assert cut.overflow is not None
            travelled = pickle.loads(pickle.dumps(cut))
            self.assertEqual(travelled, cut)
            self.assertEqual(pickle.loads(pickle.dumps(travelled)), cut)  # and again, from keys still packed
            self.assertEqual("/a\nb" in cut.overflow.sections, batch is records)
            assert travelled.overflow is not None
            keys = travelled.overflow.clients.keys  # packed unless a key holds a newline
            self.assertEqual(isinstance(keys, PackedKeys), batch is not records)
            self.assertEqual((len(keys), keys[:3], keys[-1]), (len(cut.overflow.clients.keys), cut.overflow.clients.keys[:3],
                                                                cut.overflow.clients.keys[-1]))
            self.assertEqual(list(keys), cut.overflow.clients.keys)
            self.assertEqual(travelled.overflow.client_sketch, cut.overflow.client_sketch)
            self.assertEqual((cut.overflow.clients.keys[5] in keys, "nobody" in keys), (True, False))
            self.assertEqual(pickle.loads(pickle.dumps(keys)), keys)
        for count, text in ((3, "a"), (0, "a"), (2, "a\nb\nc"), (-1, "")):
            with self.assertRaises(ValueError):
                PackedKeys(count, text)

    def test_counters_within_the_cut_come_back_as_they_are(self) -> None:
        counts = counts_of(random_records(300, seed=1))
        self.assertIs(counts.cut(MIN_CUT_KEYS), counts)

    def test_refused_below_the_smallest_cut_and_cut_counters_do_not_add(self) -> None:
        counts = counts_of(many_keys(3000, random.Random(2), 5000))
        with self.assertRaises(ValueError):
            counts.cut(MIN_CUT_KEYS - 1)
        with self.assertRaises(ValueError):
            counts.cut(MIN_CUT_KEYS).plus(counts)

    def test_hits_of_the_empty_user_beyond_the_cut_count_nowhere_as_before_it(self) -> None:
        records = sorted(many_keys(3000, random.Random(8), 5000), key=lambda item: item.user == "")
        whole = counts_of(records)
        whole.users[""] += 10 ** 6  # no user is no user: add_counts takes any number of them
        cut = whole.cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        self.assertIn("", cut.overflow.users.keys)
        reference, tested = Statistics(MIN_CUT_KEYS), Statistics(MIN_CUT_KEYS)
        reference.add_counts(whole)
        tested.add_counts(cut)
        self.assertEqual(tested.snapshot(), reference.snapshot())

    def test_counters_with_a_zero_count_or_stray_bytes_are_not_cut(self) -> None:
        counts = counts_of(many_keys(3000, random.Random(7), 5000))
        zero = counts._replace(section_status={**counts.section_status, ("/late", 200): 0, ("/s1", 404): 0})
        stray = counts._replace(section_bytes={**counts.section_bytes, "/no-hits": 5})
        negative = counts._replace(users={**counts.users, "u-negative": -1})
        negative_bytes = counts._replace(section_bytes={**counts.section_bytes, list(counts.section_bytes)[-1]: -5})
        for odd in (zero, stray, counts._replace(clients={**counts.clients, "h-zero": 0}), negative, negative_bytes):
            self.assertIs(odd.cut(MIN_CUT_KEYS), odd)  # add_counts takes these key by key, or refuses them
        for odd in (negative, negative_bytes):
            with self.assertRaises(ValueError):
                Statistics(MIN_CUT_KEYS).add_counts(odd.cut(MIN_CUT_KEYS))

    def test_a_malformed_overflow_is_refused_and_nothing_counted(self) -> None:
        cut = counts_of(many_keys(3000, random.Random(3), 5000)).cut(MIN_CUT_KEYS)
        assert cut.overflow is not None
        overflow = cut.overflow
        statuses = {str(code): hits for code, hits in overflow.statuses.items()}
        errors = [hits - error for hits, error in zip(overflow.section_hits, overflow.section_errors)]
        bad = [overflow._replace(statuses={200: 1}), overflow._replace(section_hits=overflow.section_hits[1:]),
               overflow._replace(section_errors=[hits + 1 for hits in overflow.section_hits]),
               overflow._replace(clients=overflow.clients._replace(hits=[-1] * len(overflow.clients.hits))),
               overflow._replace(statuses=statuses),  # codes that are not ints
               overflow._replace(section_errors=errors),  # errors that the statuses do not show
               overflow._replace(clients=overflow.clients._replace(keys=[None] * len(overflow.clients.keys))),
               overflow._replace(sections=[1] * len(overflow.sections))]
        for overflow in bad:
            stats = Statistics(MIN_CUT_KEYS)
            with self.assertRaises(ValueError):
                stats.add_counts(cut._replace(overflow=overflow))
            self.assertEqual(stats.snapshot(), Statistics(MIN_CUT_KEYS).snapshot())


if __name__ == "__main__":
    unittest.main()


def random_rows(rnd: random.Random, count: int, case: int) -> CountRows:
    """Rows as a block's tally gives them: ``count`` (request, status) rows and as many clients, whose
    keys, by ``case``, are all distinct (0), repeat beyond the first MIN_CUT_KEYS rows only among
    themselves (1), repeat one of the first rows there (2), repeat at random (3), have bytes on
    rows of their own (4), are few sections and many clients (5), have a row without hits (6),
    long keys (7) or one repeat among the first rows (8)."""
    def keys(prefix: str) -> List[str]:
        if case == 0 or (case == 4 and prefix == "/s") or (case == 5 and prefix != "/s"):
            return [f"{prefix}{index}" for index in range(count)]
        if case == 5:
            return [f"/s{rnd.randrange(50)}" for _ in range(count)]
        if case == 1:
            return [f"{prefix}{index}" for index in range(min(count, MIN_CUT_KEYS))] + [
                f"{prefix}x{rnd.randrange(count // 2)}" for _ in range(count - MIN_CUT_KEYS)]
        if case == 2:
            own = [f"{prefix}{index}" for index in range(count)]
            if count > MIN_CUT_KEYS:
                own[MIN_CUT_KEYS + rnd.randrange(count - MIN_CUT_KEYS)] = own[rnd.randrange(MIN_CUT_KEYS)]
            return own
        if case == 8:  # a repeat among the first rows only
            own = [f"{prefix}{index}" for index in range(count)]
            own[rnd.randrange(1, min(count, MIN_CUT_KEYS))] = own[0]
            return own
        if case == 7:
            return [f"{prefix}{'x' * MAX_KEY_LENGTH if index % 7 == 0 else ''}{index}" for index in range(count)]
        return [f"{prefix}{rnd.randrange(count)}" for _ in range(count)]  # 3, 4, 6: random repeats
    sections = keys("/s")
    hits = [rnd.choice([1, 1, 2, 7]) for _ in range(count)]
    zero = rnd.randrange(count) if case == 6 else -1
    if case == 6:
        hits[zero] = 0
    statuses = [rnd.choice([200, 200, 304, 404, 500, 999]) for _ in range(count)]
    if case == 4:  # a request per row and status: the bytes are per request
        sized = list(dict.fromkeys(sections))[::2]
    else:
        sized = sections
    clients = keys("h")
    user_rows = [index for index in range(count) if index % 3]
    users = keys("u")
    return CountRows(sections, statuses, hits, [rnd.choice(["GET", "POST"]) for _ in range(count)], sized,
                     [rnd.randrange(3) * rnd.randrange(500) * (index != zero) for index in range(len(sized))], clients, hits,
                     [users[index] for index in user_rows], [hits[index] for index in user_rows])


class CutRowsTest(unittest.TestCase):
    """Counts.of_rows: the counters of rows, and cut as they are made, give the statistics of the
    rows summed, then cut, whatever the statistics held."""

    def test_rows_cut_as_they_are_counted_give_the_statistics_of_the_whole(self) -> None:
        end = T0 + timedelta(seconds=10)
        for seed in range(36):
            rnd = random.Random(seed)
            case = seed % 9
            rows = random_rows(rnd, rnd.choice([MIN_CUT_KEYS - 10, 2500, 4000]), case)
            whole = Counts.of_rows(rows)
            cut = Counts.of_rows(rows, MIN_CUT_KEYS)
            self.assertEqual(cut.hits, whole.hits)
            for kept, every in ((cut.clients, whole.clients), ({section for section, _ in cut.section_status},
                                                               {section for section, _ in whole.section_status})):
                self.assertEqual(len(kept), len(every) if cut.overflow is None else min(len(every), MIN_CUT_KEYS),
                                 "a cut keeps the first max_keys keys")
            before = Counts.of_rows(random_rows(random.Random(-seed), 2000, 0 if seed % 3 else 3), MIN_CUT_KEYS) \
                if seed % 4 else None  # filled from empty by the cut's first keys, or already holding keys
            if seed % 5 == 0:  # statistics holding some of the keys beyond the cut
                before = Counts.of_rows(rows._replace(
                    sections=rows.sections[::-1], sized=rows.sized[::-1] if rows.sized is not rows.sections else rows.sections[::-1],
                    sizes=rows.sizes[::-1], clients=rows.clients[::-1], hits=rows.hits[::-1], client_hits=rows.client_hits[::-1],
                    statuses=rows.statuses[::-1], methods=rows.methods[::-1]))
            for max_keys in (MIN_CUT_KEYS, MIN_CUT_KEYS + 700):
                reference, tested = Statistics(max_keys), Statistics(max_keys)
                for stats, counts in ((reference, whole), (tested, cut), (Statistics(max_keys), pickle.loads(pickle.dumps(cut)))):
                    if before is not None:
                        stats.add_counts(before)
                    stats.add_counts(counts, late=1)
                    self.assertEqual(stats.snapshot(T0, end), reference.snapshot(T0, end), (seed, case, max_keys))

    def test_distinct_rows_go_beyond_the_cut_as_they_are(self) -> None:
        rnd = random.Random(1)
        for case, repeats in ((0, False), (1, True)):
            rows = random_rows(rnd, 3000, case)
            cut = Counts.of_rows(rows, MIN_CUT_KEYS)
            assert cut.overflow is not None
            self.assertEqual(list(cut.overflow.sections), rows.sections[MIN_CUT_KEYS:])
            self.assertEqual(list(cut.overflow.clients.keys), rows.clients[MIN_CUT_KEYS:])
            self.assertEqual(list(cut.clients), rows.clients[:MIN_CUT_KEYS])
            self.assertEqual(len(set(cut.overflow.clients.keys)) < len(cut.overflow.clients.keys), repeats)
            if not repeats:
                self.assertEqual(cut, Counts.of_rows(rows).cut(MIN_CUT_KEYS))

    def test_rows_that_need_summing_are_cut_as_counters_are(self) -> None:
        rnd = random.Random(2)
        for case in (2, 3, 4):
            rows = random_rows(rnd, 3000, case)
            self.assertEqual(Counts.of_rows(rows, MIN_CUT_KEYS), Counts.of_rows(rows).cut(MIN_CUT_KEYS), case)
        negative = random_rows(rnd, 3000, 0)._replace(sizes=[-1] * 3000)
        for rows in (random_rows(rnd, 3000, 6), negative):  # a zero count, negative bytes: summed, then cut (or not)
            self.assertEqual(Counts.of_rows(rows, MIN_CUT_KEYS), Counts.of_rows(rows).cut(MIN_CUT_KEYS))
        self.assertIsNone(Counts.of_rows(negative, MIN_CUT_KEYS).overflow)
        with self.assertRaises(ValueError):
            Counts.of_rows(random_rows(rnd, 3000, 0), MIN_CUT_KEYS - 1)
