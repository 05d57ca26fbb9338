"""The C accelerator gives exactly what its Python references give.

``monilog._speedups.scan_clf`` is compared with :func:`monilog.parsing.block.scan_regex` and
``monilog._speedups.tally`` with :func:`monilog.accumulation.aggregate.tally_python` (and
``pairs``, ``runs``, ``summed``, ``newlines`` and ``prefixes`` with theirs; ``scan_format`` in ``tests/test_format_scan.py``), on lines
and columns from hypothesis, on every bound of the fast pattern (one character inside it, one
past it), and end to end: a replay in pure Python (``MONILOG_PURE_PYTHON=1``) writes the same
reports as one with the accelerator. CI sets ``MONILOG_REQUIRE_SPEEDUPS=1``, so that these tests
run there rather than skip.
"""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import tempfile
import unittest
from array import array
from typing import Any, Dict, List, Optional, Sequence
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from monilog.accelerator import speedups
from monilog.accumulation import aggregate
from monilog.accumulation.aggregate import count_plain_python, count_records, pairs_python, runs_python, tally_python
from monilog.accumulation.counts import Counts
from monilog.accumulation.statistics import column_totals_python
from monilog.accumulation.summing import summed_python
from monilog.generator import LogGenerator
from monilog.parsing import section
from monilog.parsing.block import _STRICT_PATTERNS, LINE_KEYS, ParsedBlock, scan_regex
from monilog.parsing.columns import newlines_python
from monilog.parsing.section import prefixes_python, section_of, sections_of
from tests.test_block_parser import corrupted_line
from tests.test_parser import format_line, log_fields

needs_speedups = unittest.skipIf(speedups is None, "the C accelerator is not built (MONILOG_REQUIRE_SPEEDUPS=1 makes this an error)")

STAMP = "10/Oct/2000:13:55:36 -0700"


def combined_line(host: str = "127.0.0.1", ident: str = "-", user: str = "frank", stamp: str = STAMP,
                  method: str = "GET", target: str = "/apache_pb.gif", protocol: str = "1.0", status: str = "200",
                  size: str = "2326", referer: str = "http://www.example.com/start.html",
                  agent: str = "Mozilla/4.08 [en] (Win98; I ;Nav)", tail: str = "") -> bytes:
    """A Combined line, any of whose fields may be replaced."""
    return (f'{host} {ident} {user} [{stamp}] "{method} {target} HTTP/{protocol}" {status} {size} '
            f'"{referer}" "{agent}"{tail}').encode("latin-1")


def common_line(size: str = "2326", tail: str = "", **fields: str) -> bytes:
    """A Common line (the Combined one cut after the size), with an optional tail."""
    line = combined_line(size=size, **fields)
    return line[:line.index(b' "', line.index(b'" ') + 2)] + tail.encode("latin-1")


def as_lists(columns: Optional[Sequence[Sequence[bytes]]]) -> Optional[List[List[bytes]]]:
    return None if columns is None else [list(column) for column in columns]


@needs_speedups
class ScanTest(unittest.TestCase):
    def assert_same_scan(self, block: bytes) -> None:
        for combined in (False, True):
            expected = as_lists(scan_regex(block, combined))
            self.assertEqual(as_lists(speedups.scan_clf(block, combined)), expected, (block[:300], combined))

    def test_documented_lines(self) -> None:
        for block in (combined_line(), common_line(), combined_line() + b"\n" + common_line() + b"\n", b"",
                      combined_line(tail="\r") + b"\n", common_line(tail="\r"), common_line(tail="\t x")):
            self.assert_same_scan(block)
        self.assertEqual(len(speedups.scan_clf((combined_line() + b"\n") * 3, True)[0]), 3)

    def test_every_bound_one_inside_and_one_past(self) -> None:
        cases = {
            "host": (lambda n: combined_line(host="h" * n), 255),
            "ident": (lambda n: combined_line(ident="i" * n), 255),
            "user": (lambda n: combined_line(user="u" * n), 255),
            "method": (lambda n: combined_line(method="M" * n), 32),
            "target": (lambda n: combined_line(target="/" + "t" * n), 10238),
            "protocol": (lambda n: combined_line(protocol="1" * n), 32),
            "size": (lambda n: combined_line(size="9" * n), 18),
            "referer": (lambda n: combined_line(referer="r" * n), 8192),
            "agent": (lambda n: combined_line(agent="a" * n), 8192),
            "tail": (lambda n: combined_line(tail="x" * n), 16384),
            "common tail": (lambda n: common_line(tail=" " + "x" * n), 16384),
        }
        for name, (make, bound) in cases.items():
            for length in (bound - 1, bound, bound + 1):
                with self.subTest(field=name, length=length):
                    self.assert_same_scan(make(length))
            self.assertIsNotNone(speedups.scan_clf(make(bound), True if name != "common tail" else False), name)
            self.assertIsNone(speedups.scan_clf(make(bound + 1), name != "common tail"), name)

    def test_each_refusal_of_the_pattern(self) -> None:
        refused = [
            combined_line(host="#h"), combined_line(user='a"b'), combined_line(user="john doe"),
            combined_line(stamp=STAMP[:-1]), combined_line(stamp=STAMP + "0"), combined_line(stamp="]" + STAMP[1:]),
            combined_line(method='G"T'), combined_line(target="http://x/y"), combined_line(target='/a"b'),
            combined_line(protocol="1 1"), combined_line(status="099"), combined_line(status="20"),
            combined_line(status="2000"), combined_line(size="-1"), combined_line(size="12a"), combined_line(size=""),
            combined_line(referer='a"b'), combined_line(host="h\xe9"), combined_line(target="/\x7f"),
            common_line(tail="x"), b"", b" ", b"\n",
        ]
        for line in refused:
            with self.subTest(line=line[:120]):
                self.assert_same_scan(line)
                self.assert_same_scan(combined_line() + b"\n" + line + b"\n" + combined_line())
        accepted = [combined_line(protocol="1.1\t"), combined_line(referer="\xe9\x01"), combined_line(size="-"),
                    combined_line(user="[x]"), combined_line(method="PURGE")]
        for line in accepted:
            self.assertIsNotNone(speedups.scan_clf(line, True), line)
            self.assert_same_scan(line)

    def test_equal_keys_are_one_object(self) -> None:
        block = b"\n".join(combined_line(size=str(n % 3)) for n in range(50)) + b"\n"
        who, stamps, requests, statuses, sizes = speedups.scan_clf(block, True)
        for column in (who, stamps, requests, statuses):
            self.assertEqual(len(set(map(id, column))), 1)
        self.assertEqual(sorted(set(sizes)), [b"0", b"1", b"2"])

    def test_many_distinct_targets_in_one_block(self) -> None:
        # the interning table grows past its first size many times; every target stays its own key
        lines = [combined_line(target=f"/{n:08x}{n * 7919:08x}") for n in range(20_000)]
        block = b"\n".join(lines) + b"\n"
        self.assert_same_scan(block)
        self.assertEqual(len(set(speedups.scan_clf(block, True)[2])), 20_000)

    def test_a_column_that_shares_nothing_stops_sharing_and_reads_the_same(self) -> None:
        # 3,000 distinct targets, then targets seen before: past its sample, the table of a
        # column of new keys makes each anew (equal keys, other objects); the other columns share
        lines = [combined_line(target=f"/{n:08x}") for n in range(3000)] + [combined_line(target="/00000001")] * 50
        block = b"\n".join(lines) + b"\n"
        self.assert_same_scan(block)
        who, _, requests, _, _ = speedups.scan_clf(block, True)
        self.assertEqual(len(set(map(id, requests[-50:]))), 50)
        self.assertEqual(len(set(map(id, who))), 1)
        shared = b"\n".join([combined_line(target=f"/{n % 100:08x}") for n in range(3000)]) + b"\n"
        self.assertEqual(len(set(map(id, speedups.scan_clf(shared, True)[2]))), 100)

    def test_generated_traffic(self) -> None:
        for fmt in ("common", "combined"):
            lines = [line for _, line in LogGenerator([40], [30], fmt=fmt, seed=3).timeline()]
            self.assert_same_scan(("\n".join(lines) + "\n").encode())

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.one_of(st.builds(format_line, log_fields()), corrupted_line()), min_size=1, max_size=8))
    def test_random_lines(self, lines: List[str]) -> None:
        block = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8", "surrogateescape")
        if b"\\" in block:  # parse_block scans only blocks without backslashes
            block = block.replace(b"\\", b"/")
        self.assert_same_scan(block)
        self.assert_same_scan(block + b"\n")

    def test_backslashes_as_the_strict_pattern_reads_them(self) -> None:
        # parse_block scans only blocks without backslashes; the scan still reads them as the
        # strict, one-line pattern does: refused inside quotes and requests, kept elsewhere
        for line, accepted in ((combined_line(agent='a \\" b'), False), (combined_line(target="/a\\b"), False),
                               (combined_line(user="dom\\user"), True), (combined_line(tail=" \\x"), True)):
            with self.subTest(line=line):
                match = _STRICT_PATTERNS["combined"].fullmatch(line)
                self.assertEqual(match is not None, accepted)
                expected = None if match is None else [[group] for group in match.groups()]
                self.assertEqual(as_lists(speedups.scan_clf(line, True)), expected)


SIZE_KEYS = st.sampled_from([b"-", b"0", b"7", b"007", b"123456789012345678"])
"""Size keys as a block parser's columns hold them (records' sizes are ints: ``int_sizes``)."""
KEYS = st.one_of(st.sampled_from([b"a", b"b", b"GET /x", b"GET /y"]), st.tuples(st.sampled_from(["h", "i"]), st.sampled_from(["", "u"])))


@needs_speedups
class TallyTest(unittest.TestCase):
    def assert_same_tally(self, who: Sequence[Any], requests: Sequence[Any], statuses: Sequence[Any],
                          sizes: Sequence[Any], start: int, end: int) -> None:
        parsed = ParsedBlock(len(who), who, [b""] * len(who), requests, statuses, sizes, [], LINE_KEYS)
        expected = tally_python(parsed, start, end)
        self.assertEqual(speedups.tally(who, requests, statuses, sizes, start, end), expected)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(KEYS, KEYS, st.sampled_from([b"200", b"404", b"500"]), SIZE_KEYS), max_size=40), st.data())
    def test_random_columns(self, rows: List[tuple], data: st.DataObject) -> None:
        who, requests, statuses, sizes = (list(column) for column in zip(*rows)) if rows else ([], [], [], [])
        if data.draw(st.booleans(), label="int_sizes"):
            sizes = [int(size.replace(b"-", b"0")) for size in sizes]
        start = data.draw(st.integers(0, len(rows)))
        end = data.draw(st.integers(start, len(rows)))
        self.assert_same_tally(who, requests, statuses, sizes, start, end)
        self.assert_same_tally(tuple(who), tuple(requests), tuple(statuses), tuple(sizes), start, end)

    def test_sizes_it_leaves_to_the_reference(self) -> None:
        for size in (b" 12", b"1_000", b"1234567890123456789", 10**19, -1, b"", 1.5):
            with self.subTest(size=size):
                self.assertIsNone(speedups.tally([b"w"], [b"r"], [b"200"], [size], 0, 1))
        huge = [b"999999999999999999"] * 20  # the sum passes 2**63: the reference's integers decide
        self.assertIsNone(speedups.tally([b"w"] * 20, [b"r"] * 20, [b"200"] * 20, huge, 0, 20))

    def test_ranges_and_columns_as_the_reference_slices_them(self) -> None:
        who, requests, statuses, sizes = [b"w", b"v"], [b"r", b"r"], [b"200", b"404"], [b"1", b"2"]
        for start, end in ((0, 5), (1, 9), (3, 4), (-1, 2)):
            self.assert_same_tally(who, requests, statuses, sizes, start, end)
        self.assertIsNone(speedups.tally(who, requests, statuses, [b"1"], 0, 2))  # lengths differ: the reference decides
        self.assertIsNone(speedups.tally(who, requests, statuses, [1, b"-"], 0, 2))  # kinds mixed: the reference decides

    def test_keys_that_change_the_columns_cannot_break_it(self) -> None:
        columns: List[List[Any]] = []

        class Meddling(bytes):
            def __hash__(self) -> int:
                for column in columns:
                    column.clear()  # frees every other key, were the call reading the caller's list
                return bytes.__hash__(self)

        who, requests = [Meddling(b"w"), b"v" * 40, b"u" * 40], [b"r" * 40, Meddling(b"q"), b"p" * 40]
        columns.extend([who, requests])
        counted = speedups.tally(who, requests, [b"200"] * 3, [b"1"] * 3, 0, 3)
        self.assertEqual(counted[0], [b"w", b"v" * 40, b"u" * 40])
        self.assertEqual(counted[5], [b"r" * 40, b"q", b"p" * 40])


@needs_speedups
class RunsAndSumsTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(st.lists(KEYS, max_size=30))
    def test_runs(self, keys: List[Any]) -> None:
        copies = [key[:] if isinstance(key, bytes) else key for key in keys]  # equal, not always the same object
        for column in (keys, tuple(keys), copies):
            self.assertEqual(speedups.runs(column), runs_python(column))

    def test_runs_compare_neighbours_as_the_reference(self) -> None:
        nan = float("nan")
        for keys in ([nan, nan], [nan, 1.0, 1.0], [1, 1.0, True, 2]):
            self.assertEqual(speedups.runs(keys), runs_python(keys))

    def test_counts_that_are_not_ints_are_left_to_the_reference(self) -> None:
        self.assertIsNone(speedups.summed(["a", "a", "b"], [1, 2, True]))
        self.assertIsNone(speedups.summed(["a", "a"], ["x", "y"]))
        self.assertEqual(speedups.summed(["a", "b", "a"], [1, 2, 3]), {"a": 4, "b": 2})

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(KEYS, st.integers(0, 2**70)), max_size=30))
    def test_sums(self, pairs: List[tuple]) -> None:
        keys, counts = [key for key, _ in pairs], [number for _, number in pairs]
        expected = summed_python(keys, counts)
        self.assertEqual(list(speedups.summed(keys, counts).items()), list(expected.items()))  # order too


@needs_speedups
class ColumnTotalsTest(unittest.TestCase):
    def reference(self, hits: Sequence[int], errors: Sequence[int], sizes: Sequence[int]) -> Optional[tuple]:
        try:
            return column_totals_python(hits, errors, sizes)
        except ValueError:
            return None

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
                    max_size=20), st.booleans())
    def test_columns_of_unsigned_ints(self, rows: List[tuple], usual: bool) -> None:
        if usual:  # what counters give: errors within hits, bytes only with hits, sums within 64 bits
            rows = [(hits >> 8, (hits >> 8) // 3, size >> 8 if hits >> 8 else 0) for hits, _, size in rows]
        hits, errors, sizes = (array("Q", column) for column in zip(*rows)) if rows else (array("Q"),) * 3
        expected, totals = self.reference(hits, errors, sizes), speedups.column_totals(hits, errors, sizes)
        if totals is None and expected is not None:  # left to the reference only for a sum beyond 64 bits
            self.assertGreaterEqual(max(expected), 2**64)
        else:
            self.assertEqual(totals, expected)
        if usual:
            self.assertIsNotNone(expected)

    def test_what_it_leaves_to_the_reference(self) -> None:
        column = array("Q", [2, 1])
        for hits, errors, sizes in (([2, 1], [0, 0], [5, 5]),  # lists
                                    (column, array("q", [0, 0]), column),  # signed
                                    (column, array("Q", [0]), column),  # of different lengths
                                    (array("Q", [2**63, 2**63]), array("Q", [0, 0]), column),  # sums beyond 64 bits
                                    (column, column, array("Q", [2**64 - 1, 5]))):
            self.assertIsNone(speedups.column_totals(hits, errors, sizes))
        self.assertEqual(column_totals_python(array("Q", [2**63, 2**63]), array("Q", [0, 0]), column), (2**64, 0, 3))
        with self.assertRaises(ValueError):
            column_totals_python([2, 1], [3, 0], [5, 5])


@needs_speedups
class NewlinesTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300), st.integers(0, 3))
    def test_newlines_of_any_bytes(self, data: bytes, repeat: int) -> None:
        data = data.replace(b"x", b"\n") * repeat  # more newlines than chance gives, in runs too
        self.assertEqual(speedups.newlines(data), newlines_python(data))

    def test_what_is_not_bytes_is_left_to_the_reference(self) -> None:
        for other in (bytearray(b"\n"), memoryview(b"\n"), "\n", None):
            self.assertIsNone(speedups.newlines(other))
        self.assertEqual(speedups.newlines(b"\n" * 100_000 + b"end"), 100_000)


@needs_speedups
class PrefixesTest(unittest.TestCase):
    TEXT = st.text(st.sampled_from("/?#ab;é€\U0001f600 \n-"), max_size=12)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(TEXT, max_size=20), st.sampled_from(["/", "a", "-"]), st.sampled_from(["/?#", "", ";", "a#"]))
    def test_keys_cut_as_the_reference(self, keys: List[str], lead: str, stops: str) -> None:
        self.assertEqual(speedups.prefixes(keys, lead, stops, str.upper), prefixes_python(keys, lead, stops, str.upper))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(TEXT, TEXT.map("/".__add__), TEXT.map("http://h".__add__)), max_size=20))
    def test_sections_of_targets_as_the_rule(self, targets: List[str]) -> None:
        self.assertEqual(sections_of(targets), list(map(section_of, targets)))

    def test_what_it_cannot_take(self) -> None:
        for keys, lead, stops in (([], "//", "?"), ([], "é", "?"), ([], "/", "é")):
            with self.assertRaises(ValueError):
                speedups.prefixes(keys, lead, stops, str.upper)
        with self.assertRaises(TypeError):
            speedups.prefixes(("/a",), "/", "?", str.upper)  # a list only
        with self.assertRaises(ZeroDivisionError):  # what the callable raises comes through
            speedups.prefixes(["/a", "x"], "/", "?", lambda key: 1 / 0)
        keys = ["x", "y", "/z?"]
        self.assertEqual(speedups.prefixes(keys, "/", "?", lambda key: (keys.clear(), key)[1]), ["x", "y", "/z"])


def plain_columns(seed: int, records: int, kinds: Dict[str, int], shared: bool = True) -> ParsedBlock:
    """Columns as the block parser's fast pattern gives them, each dimension drawn from ``kinds``
    distinct keys; equal keys one object when ``shared`` (as scan_clf shares them), else each its own."""
    draw = random.Random(seed)
    made: Dict[bytes, bytes] = {}

    def key(text: str) -> bytes:
        data = text.encode("ascii")
        return made.setdefault(data, data) if shared else (data + b"!")[:-1]
    who, requests, statuses, sizes = [], [], [], []
    for _ in range(records):
        host = draw.choice(["-", f"10.0.{draw.randrange(kinds['hosts'])}.9"])
        user = draw.choice(["-", "frank", f"u{draw.randrange(kinds['users'])}"])
        who.append(key(f"{host} {draw.choice(['-', 'id'])} {user}"))
        tail = draw.choice(["", "/x", "?q=/a", "#f", "/", "?", "//y", "/a?b#c"])
        method = draw.choice(["GET", "POST", f"M{draw.randrange(kinds['methods'])}"])
        requests.append(key(f"{method} /s{draw.randrange(kinds['sections'])}{tail}"))
        statuses.append(key(draw.choice(["200", "404", "500", "302", "999", "100", "499"])))
        sizes.append(key(draw.choice(["-", "0", str(draw.randrange(10**6))])))
    return ParsedBlock(records, who, [b""] * records, requests, statuses, sizes, [], LINE_KEYS)


KINDS = st.sampled_from([1, 40, 1_500, 6_000])


@needs_speedups
class CountPlainTest(unittest.TestCase):
    """The C accelerator's count_clf gives count_plain_python's counters, in the same orders."""

    def assert_same_counts(self, parsed: ParsedBlock, start: int, end: int, max_keys: Optional[int]) -> None:
        counted = aggregate._count_plain(parsed, start, end, max_keys)
        expected = count_plain_python(parsed, start, end, max_keys)
        self.assertIsNotNone(counted)
        self.assertEqual(counted, expected)
        for name in Counts._fields:
            mine, theirs = getattr(counted, name), getattr(expected, name)
            if isinstance(mine, dict):
                self.assertEqual(list(mine.items()), list(theirs.items()), name)
        self.assertEqual(counted.overflow is None, expected.overflow is None)
        if counted.overflow is not None:
            for name, mine in zip(counted.overflow._fields, counted.overflow):
                theirs = getattr(expected.overflow, name)
                if isinstance(mine, dict):
                    self.assertEqual(list(mine.items()), list(theirs.items()), name)
                elif isinstance(mine, tuple):  # columns: keys and hits, in order
                    self.assertEqual((list(mine[0]), list(mine[1])), (list(theirs[0]), list(theirs[1])), name)
                elif name != "client_sketch":
                    self.assertEqual(list(mine), list(theirs), name)

    @settings(max_examples=40, deadline=None)
    @given(st.integers(0, 2**32), st.integers(0, 4_000), st.fixed_dictionaries(
        {"hosts": KINDS, "users": KINDS, "methods": KINDS, "sections": KINDS}), st.sampled_from([None, 1_000, 1_300, 10**6]),
        st.booleans(), st.data())
    def test_generated_columns(self, seed: int, records: int, kinds: Dict[str, int], max_keys: Optional[int],
                               shared: bool, data: st.DataObject) -> None:
        parsed = plain_columns(seed, records, kinds, shared)
        start = data.draw(st.integers(0, records), label="start")
        end = data.draw(st.integers(start, records), label="end")
        self.assert_same_counts(parsed, start, end, max_keys)

    def test_every_dimension_cut_alone(self) -> None:
        for wide in ("hosts", "users", "methods", "sections"):
            with self.subTest(wide=wide):
                kinds = dict.fromkeys(("hosts", "users", "methods", "sections"), 30)
                kinds[wide] = 100_000
                parsed = plain_columns(7, 5_000, kinds)
                counted = aggregate._count_plain(parsed, 0, 5_000, 1_000)
                self.assertIsNotNone(counted.overflow)
                self.assert_same_counts(parsed, 0, 5_000, 1_000)

    def test_columns_it_leaves_to_the_reference(self) -> None:
        class Meddling(bytes):
            def __hash__(self) -> int:
                raise AssertionError("count_clf hashes no key object")
        plain = plain_columns(1, 20, dict.fromkeys(("hosts", "users", "methods", "sections"), 5))
        columns = {"who": plain.who, "requests": plain.requests, "statuses": plain.statuses, "sizes": plain.sizes}
        odd = {"who": [b"host user", b"h i u\n", b"h\xe9 i u", ("h", "u"), Meddling(b"h i u"), b"h" * 300 + b" - -"],
               "requests": [b"GET", b"GET ", b"GET x", b"GET http://h/a", b"GET /\xe9", ("GET", "/a", "/a")],
               "statuses": [b"099", b"20", b"2000", b"abc", 200],
               "sizes": [b"1.5", b"-1", b"1234567890123456789", -1]}
        for name, keys in odd.items():
            for key in keys:
                with self.subTest(column=name, key=key):
                    changed = dict(columns, **{name: [*columns[name][:10], key, *columns[name][11:]]})
                    parsed = plain._replace(**changed)
                    self.assertIsNone(aggregate._count_plain(parsed, 0, 20, None))
                    self.assertIsNone(aggregate._count_plain(parsed, 10, 20, 1_000))
                    self.assertIsNotNone(aggregate._count_plain(parsed, 11, 20, 1_000))  # the range decides
        one = plain_columns(1, 20, dict.fromkeys(("hosts", "users", "methods", "sections"), 1))
        huge = one._replace(sizes=[b"999999999999999999"] * 20)  # one section's bytes pass 2**63: the reference's integers decide
        self.assertIsNone(aggregate._count_plain(huge, 0, 20, None))

    def test_tables_kept_from_one_call_to_the_next_start_empty(self) -> None:
        # the C keeps its tables between calls, emptied (and smaller after a large call), or frees them past a bound
        kinds = dict.fromkeys(("hosts", "users", "methods", "sections"), 10**9)
        for records, distinct in ((5_000, kinds), (20, kinds), (150_000, kinds), (3, kinds),
                                  (8_000, dict.fromkeys(("hosts", "users", "methods", "sections"), 7))):
            with self.subTest(records=records):
                self.assert_same_counts(plain_columns(records, records, distinct), 0, records, 1_000)

    def test_a_call_made_inside_a_call_has_its_own_tables(self) -> None:
        # a finalizer run by the collector while count_clf makes its objects may call it again
        small = plain_columns(11, 50, dict.fromkeys(("hosts", "users", "methods", "sections"), 4))
        inner: List[Optional[Counts]] = []

        class Cycle:
            def __del__(self) -> None:
                inner.append(aggregate._count_plain(small, 0, 50, None))
        thresholds = gc.get_threshold()
        self.addCleanup(gc.set_threshold, *thresholds)
        parsed = plain_columns(12, 6_000, dict.fromkeys(("hosts", "users", "methods", "sections"), 10**9))
        gc.set_threshold(1)
        for _ in range(200):
            cycle = Cycle()
            cycle.itself = cycle  # type: ignore[attr-defined]
        del cycle
        counted = aggregate._count_plain(parsed, 0, 6_000, 1_000)
        gc.set_threshold(*thresholds)
        self.assertTrue(inner)
        self.assertEqual(counted, count_plain_python(parsed, 0, 6_000, 1_000))
        for result in inner:
            self.assertEqual(result, count_plain_python(small, 0, 50, None))

    def test_memory_running_out_gives_a_memory_error_and_the_next_call_counts_right(self) -> None:
        try:
            import _testcapi  # CPython's own test hooks: the n-th allocation fails
        except ImportError:
            self.skipTest("no _testcapi to make allocations fail")
        small = plain_columns(21, 10, dict.fromkeys(("hosts", "users", "methods", "sections"), 3))
        wide = plain_columns(22, 300, dict.fromkeys(("hosts", "users", "methods", "sections"), 10**9))
        expected = count_plain_python(wide, 0, 300, 1_000)
        failures = 0
        for allocation in range(120):
            aggregate._count_plain(small, 0, 10, None)  # kept tables with little room
            _testcapi.set_nomemory(allocation, allocation + 1)
            try:
                aggregate._count_plain(wide, 0, 300, 1_000)
            except MemoryError:
                failures += 1
            finally:
                _testcapi.remove_mem_hooks()
            self.assertEqual(aggregate._count_plain(wide, 0, 300, 1_000), expected, allocation)
        self.assertGreater(failures, 10)

    def test_every_byte_value_at_every_position_of_a_key(self) -> None:
        # keys are checked eight bytes at a time: a byte outside printable ASCII is found wherever it is
        base = b"GET /abcdefghijklmnopqrstuvwxyz0123456789"
        for position in range(5, len(base)):
            taken = [byte for byte in range(256)
                     if speedups.count_clf([b"h - -"], [base[:position] + bytes([byte]) + base[position + 1:]], [b"200"],
                                           [b"1"], 0, 1, 10**6, "/", "/?#", bytes(1000), 256, bytearray(16)) is not None]
            self.assertEqual(taken, list(range(0x20, 0x7f)), position)

    def test_a_replaced_section_rule_is_the_one_applied(self) -> None:
        parsed = plain_columns(3, 50, dict.fromkeys(("hosts", "users", "methods", "sections"), 5))
        LINE_KEYS.request_cache.clear()  # requests decoded by the rule as written, by the tests before
        self.addCleanup(LINE_KEYS.request_cache.clear)  # and by the replaced rule, for those after
        with mock.patch.object(section, "section_of", lambda target: "/all"):
            self.assertIsNone(aggregate._count_plain(parsed, 0, 50, None))
            self.assertEqual(set(count_records(parsed, 0, 50).section_bytes), {"/all"})
        self.assertGreater(len(count_records(parsed, 0, 50).section_bytes), 1)

    def test_errors_are_the_flags_given(self) -> None:
        parsed = plain_columns(5, 3_000, dict.fromkeys(("hosts", "users", "methods"), 3) | {"sections": 10_000})
        for flags, expected in ((bytes(1000), 0), (bytes([1]) * 1000, None)):
            registers = bytearray(16)
            counted = speedups.count_clf(parsed.who, parsed.requests, parsed.statuses, parsed.sizes, 0, 3_000, 1_000,
                                         "/", "/?#", flags, 256, registers)
            section_hits, section_errors = counted[5][1], counted[5][2]
            self.assertEqual(section_errors, section_hits if expected is None else bytes(len(section_hits)))
            self.assertGreater(len(section_hits), 0)


@needs_speedups
class PairsTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(KEYS, KEYS), max_size=40), st.data())
    def test_random_columns_and_ranges(self, rows: List[tuple], data: st.DataObject) -> None:
        first, second = ([row[0] for row in rows], [row[1] for row in rows])
        copies = [key[:] if isinstance(key, bytes) else key for key in second]  # equal, not the same object
        start = data.draw(st.integers(-3, len(rows) + 2))
        end = data.draw(st.integers(-3, len(rows) + 2))
        for columns in ((first, second), (tuple(first), tuple(copies)), (first, second[: len(second) // 2])):
            self.assertEqual(speedups.pairs(*columns, start, end), pairs_python(*columns, start, end))

    def test_keys_compare_as_a_dict_compares_them(self) -> None:
        nan = float("nan")
        for first, second in (([nan, nan], [1, 1]), ([1, 1.0, True], [b"a", b"a", b"a"]), ([(1, 2), (1, 2)], ["x", "x"])):
            self.assertEqual(speedups.pairs(first, second, 0, 3), pairs_python(first, second, 0, 3))
        with self.assertRaises(TypeError):
            speedups.pairs([[1]], [b"a"], 0, 1)  # unhashable, as the reference

    def test_many_distinct_pairs_grow_the_table(self) -> None:
        first = [b"r%d" % (index % 7) for index in range(20_000)]
        second = [b"%d" % index for index in range(20_000)]
        self.assertEqual(speedups.pairs(first, second, 0, 20_000), pairs_python(first, second, 0, 20_000))

    def test_keys_that_change_the_columns_cannot_break_it(self) -> None:
        columns: List[List[Any]] = []

        class Meddling(bytes):
            def __eq__(self, other: object) -> bool:
                for column in columns:
                    column.clear()  # frees every other key, were the call reading the caller's list
                return bytes.__eq__(self, other)

            __hash__ = bytes.__hash__

        first, second = [Meddling(b"a"), Meddling(b"a"), b"b" * 40], [b"x" * 40, b"x" * 40, b"y" * 40]
        columns.extend([first, second])
        self.assertEqual(speedups.pairs(first, second, 0, 3), ([b"a", b"b" * 40], [b"x" * 40, b"y" * 40], [2, 1]))


class PurePythonTest(unittest.TestCase):
    """The same replay, with and without the accelerator, writes the same reports."""

    def test_replay_outputs_are_the_same(self) -> None:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "access.log")
            LogGenerator([30, 5, 60], [40, 40, 40], fmt="combined", seed=5, start=1_700_000_000).write(path, realtime=False)
            outputs = []
            for pure in ("1", "0"):
                environment = dict(os.environ, MONILOG_PURE_PYTHON=pure, MONILOG_REQUIRE_SPEEDUPS="0")
                done = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--replay", "--json", "--no-log-file",
                                       "--threshold", "20", path], capture_output=True, env=environment, timeout=300)
                self.assertEqual(done.returncode, 0, done.stderr)
                outputs.append(done.stdout)
            self.assertIn(b'"alert"', outputs[0])
            self.assertEqual(outputs[0], outputs[1])

    def test_the_engine_suites_pass_in_pure_python(self) -> None:
        # the rest of the suite runs with the accelerator when it is built: the fallback is held
        # to the same tests of the parser, the batches, the monitor and the replay here
        environment = dict(os.environ, MONILOG_PURE_PYTHON="1", MONILOG_REQUIRE_SPEEDUPS="0")
        suites = ["tests.test_block_parser", "tests.test_logformat", "tests.test_monitor", "tests.test_replay", "tests.test_statistics"]
        done = subprocess.run([sys.executable, "-m", "unittest", "-q", *suites], capture_output=True, text=True,
                              env=environment, timeout=600, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        self.assertRegex(done.stderr, r"Ran [1-9]\d+ tests")

    def test_version_says_which(self) -> None:
        for pure, expected in (("1", b"pure Python"), ("0", b"C accelerator" if speedups is not None else b"pure Python")):
            environment = dict(os.environ, MONILOG_PURE_PYTHON=pure)
            done = subprocess.run([sys.executable, "-m", "monilog.cli.monitoring", "--version"], capture_output=True,
                                  env=environment, timeout=60)
            self.assertIn(expected, done.stdout)


if __name__ == "__main__":
    unittest.main()
