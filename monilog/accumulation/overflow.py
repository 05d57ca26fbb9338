"""What a cut of counters keeps apart: the keys past the first ``max_keys`` of each dimension.

:meth:`Counts.cut <monilog.accumulation.counts.Counts.cut>` splits counters into the first
``max_keys`` keys of each keyed dimension (kept as mappings) and an :class:`Overflow`: the other
keys as columns in first-seen order, which a replay's worker process sends cheaply and
:meth:`Statistics.add_counts <monilog.accumulation.statistics.Statistics.add_counts>` applies
with set and dict operations, with the same result as the whole counters. The cut packs its keys
as one text each column (:class:`PackedKeys`, split only when read: statistics that fold them all
do not read them, and they pickle as one string), and gives its clients with the sketch it made
of them, so the main process of a replay hashes none of them. For a report period a worker holds
whole, even those keys stay behind (:meth:`Overflow.folded`). This module holds the data and how it travels; the cut is in
:mod:`monilog.accumulation.counts`, its application in :mod:`monilog.accumulation.statistics`.
"""

from __future__ import annotations

from array import array
from itertools import islice
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from monilog.accumulation.distinct import DistinctSketch
from monilog.parsing.columns import SplitOnUse

MIN_CUT_KEYS = 1000
"""The smallest ``max_keys`` :meth:`~monilog.accumulation.counts.Counts.cut` cuts at, and
that statistics applying cut counters need for the same result: status codes (100–999) then
never fold, so applying the statuses beyond the cut after the others changes nothing."""


class PackedKeys(SplitOnUse[str]):
    """Keys as an :class:`Overflow` travels with them: joined by newlines, and split the first time
    one is read. Statistics that fold a cut's keys without reading them need only their number."""

    __slots__ = ("_count", "_keys", "_text")

    def __init__(self, count: int, text: str) -> None:
        if not isinstance(count, int) or not isinstance(text, str) or count < 0 \
                or (text.count("\n") != count - 1 if count else text):
            raise ValueError(f"packed keys are a count and that many lines of text, not {count!r} and {text[:40]!r}")
        self._count, self._text = count, text
        self._keys: Optional[List[str]] = None

    def _split(self) -> List[str]:
        if self._keys is None:
            self._keys = self._text.split("\n") if self._count else []
        return self._keys

    def packed(self) -> Tuple[int, str]:
        """The number of keys and their text, as they travel."""
        return self._count, self._text

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return PackedKeys, (self._count, self._text)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (PackedKeys, list)):
            return self._split() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, which has no hash

    def __repr__(self) -> str:
        return f"PackedKeys({self._split()!r})"


class KeysNotSent(LookupError):
    """Raised on reading :class:`UnsentKeys`: the keys were folded before they travelled."""


class UnsentKeys(PackedKeys):
    """The keys of a dimension of a :meth:`folded <Overflow.folded>` overflow: one row standing
    for the ``rows`` keys that were not sent, whose columns hold their totals. It is packed keys
    (statistics fold them unread), but reading a key raises :class:`KeysNotSent`."""

    __slots__ = ("rows",)

    def __init__(self, rows: int) -> None:  # nothing to check: no text
        self._count, self._text, self._keys = 1, "", None
        self.rows = rows
        """How many keys the row stands for."""

    def _split(self) -> List[str]:
        raise KeysNotSent(f"the {self.rows} keys beyond this cut were folded before they were sent")

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        return UnsentKeys, (self.rows,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnsentKeys) and other.rows == self.rows

    def __repr__(self) -> str:
        return f"UnsentKeys({self.rows})"


class Columns(NamedTuple):
    """Keys in first-seen order and their hits: a sequence of text (a list, or :class:`PackedKeys`
    as a cut makes them) and a sequence of ints (cheap to pickle as :func:`count_column`)."""

    keys: Sequence[str]
    hits: Sequence[int]


def count_column(counts: Iterable[int]) -> Sequence[int]:
    """Counts as a column of an :class:`Overflow`: an ``array`` of unsigned 64-bit ints, which
    pickles as its bytes and holds nothing but counts: none is negative, so applying it needs no
    pass to check (any sequence of ints is taken too, and checked)."""
    return array("Q", counts)


def packed_count_column(data: bytes) -> Sequence[int]:
    """A :func:`count_column` from the bytes of its unsigned 64-bit ints (as the C accelerator gives them)."""
    column = array("Q")
    column.frombytes(data)
    return column


NO_COLUMNS = Columns([], count_column(()))


class Overflow(NamedTuple):
    """The keys of counters beyond their cut (:meth:`~monilog.accumulation.counts.Counts.cut`),
    as columns in first-seen order: none of them is a key of the counters' own mappings (the cut
    splits each dimension's keys in two), which lets statistics whose dimension those mappings
    fill from empty fold them all without reading them when they are packed (:func:`pack_keys`,
    as a cut makes them: keys in a list, made or changed by hand, are read). A key may
    repeat, on rows of its own (cut as they were counted, :meth:`Counts.of_rows
    <monilog.accumulation.counts.Counts.of_rows>`): statistics that read them sum them."""

    sections: Sequence[str]
    section_hits: Sequence[int]
    section_errors: Sequence[int]
    section_bytes: Sequence[int]
    statuses: Dict[int, int]
    """``status → hits`` of the records of these sections."""
    methods: Columns
    clients: Columns
    users: Columns
    client_sketch: Optional[DistinctSketch] = None
    """The distinct-clients sketch of ``clients`` (each cut as it is counted), made by the cut:
    statistics merge it rather than hash the clients one by one when the clients are packed as
    the cut packs them (an overflow made by hand, with a list of clients, may have changed them
    since). None: they hash them."""

    @property
    def sent(self) -> bool:
        """Whether its section and client keys travelled (False once :meth:`folded`)."""
        return not isinstance(self.sections, UnsentKeys) and not isinstance(self.clients.keys, UnsentKeys)

    def folded(self) -> Overflow:
        """This overflow with its sections and its clients each as one row of their totals, the
        keys not sent (:class:`UnsentKeys`): what a replay's worker sends for a report period it
        holds whole, which the main process's statistics of that period fold without reading
        (:meth:`Statistics.folds_unread <monilog.accumulation.statistics.Statistics.folds_unread>`;
        otherwise it counts the period's lines again). The statuses, methods, users and the
        clients' sketch travel as they are (clients without a sketch too: statistics hash them)."""
        def total(column: Sequence[int]) -> Sequence[int]:
            return count_column([sum(column)])
        if not self.sent:
            return self  # folded already
        folded = self
        if len(self.sections):
            folded = folded._replace(sections=UnsentKeys(len(self.sections)), section_hits=total(self.section_hits),
                                     section_errors=total(self.section_errors), section_bytes=total(self.section_bytes))
        keys, hits = self.clients
        if len(keys) and self.client_sketch is not None:  # without their sketch, statistics hash the clients
            folded = folded._replace(clients=Columns(UnsentKeys(len(keys)), total(hits)))
        return folded


def pack_keys(keys: Sequence[str]) -> Sequence[str]:
    """Keys as :class:`PackedKeys`, or the keys themselves when one holds a newline (a key decoded
    from JSON may): the number of pieces then tells."""
    if isinstance(keys, PackedKeys):
        return keys
    text = "\n".join(keys)
    return PackedKeys(len(keys), text) if text.count("\n") == len(keys) - 1 or not keys else keys


def columns_after(counts: Dict[str, int], max_keys: int) -> Columns:
    """The keys of ``counts`` after the first ``max_keys``, and their hits."""
    if len(counts) <= max_keys:
        return NO_COLUMNS
    return Columns(list(islice(counts, max_keys, None)), count_column(islice(counts.values(), max_keys, None)))


def first_keys(counts: Dict[str, int], max_keys: int) -> Dict[str, int]:
    """The first ``max_keys`` keys of ``counts`` (itself when it has no more)."""
    return counts if len(counts) <= max_keys else dict(islice(counts.items(), max_keys))
