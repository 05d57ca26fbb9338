"""Distinct clients beyond the key cap: a small mergeable sketch of how many distinct keys were seen.

Reports count distinct clients exactly while every client of a span is tracked (up to the
statistics' ``max_keys``). Past that, the clients folded beyond the cap are no longer known one
by one, so the count comes from a :class:`DistinctSketch` fed with every client of the span: a
HyperLogLog (Flajolet, Fusy, Gandouet and Meunier, 2007) of ``2**PRECISION`` one-byte registers
(16 KiB), whose estimate has a relative standard error of about ``1.04 / sqrt(2**PRECISION)``,
0.8 %. Adding a key twice changes nothing, and merging two sketches (the larger of each pair of
registers) gives exactly the sketch of all their keys, however they were split between periods
and worker processes and in whatever order they were merged.

Why in-house
------------
The estimate is Ertl's "improved raw estimator" (O. Ertl, "New cardinality estimation algorithms
for HyperLogLog sketches", 2017), which needs neither HyperLogLog++'s empirical bias tables nor
a switch to linear counting for small counts: about sixty lines, against a dependency
(``datasketch`` brings numpy and scipy) for a figure in a report.

Hashing
-------
A key is hashed as its UTF-8 bytes (surrogates passed through) by 64-bit FNV-1a, then mixed by
MurmurHash3's 64-bit finaliser so that every bit depends on every input byte. The hash is fixed
(not Python's per-process ``hash``), so sketches made in worker processes merge with the main
process's. The first :data:`PRECISION` bits pick a register; the register keeps the largest
position of the first 1 bit in the other 50 bits. The C accelerator's ``distinct_add`` is the twin
of :func:`add_python` (same hash, same registers).

A sketch belongs to one thread. It pickles, so worker processes can return theirs.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, List, Optional, Tuple, Union

from monilog.accelerator import speedups

PRECISION = 14
"""Registers are ``2**PRECISION``: 16,384 bytes, a relative standard error of about 0.8 %."""
REGISTERS = 1 << PRECISION
_RANK_BITS = 64 - PRECISION
_RANK_MASK = (1 << _RANK_BITS) - 1
_MASK = (1 << 64) - 1
_RANKS = bytes(range(_RANK_BITS + 2))
"""Every byte a register may hold."""
SATURATED = REGISTERS << _RANK_BITS
"""The estimate of a sketch whose every register holds the largest rank (2**64 keys, as the hash
tells them apart): a bound, not a count."""
_FNV_OFFSET, _FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def key_hash(key: str) -> int:
    """The sketch's 64-bit hash of a key (FNV-1a of its UTF-8 bytes, then MurmurHash3's finaliser)."""
    value = _FNV_OFFSET
    for byte in key.encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * _FNV_PRIME) & _MASK
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & _MASK
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & _MASK
    return value ^ (value >> 33)


def add_python(registers: bytearray, keys: Iterable[str]) -> None:
    """Add ``keys`` to the registers: the reference of the C accelerator's ``distinct_add``."""
    for key in keys:
        value = key_hash(key)
        index, rank = value >> _RANK_BITS, _RANK_BITS + 1 - (value & _RANK_MASK).bit_length()
        if registers[index] < rank:
            registers[index] = rank


def _add(registers: bytearray, keys: Iterable[str]) -> None:
    if speedups is None or speedups.distinct_add(registers, keys) is None:  # None: a key the C leaves to Python
        add_python(registers, keys)


_HIGH_BITS = int.from_bytes(b"\x80" * REGISTERS, "little")
_ALL_BITS = (1 << 8 * REGISTERS) - 1


def registers_max(a: Union[bytes, bytearray], b: Union[bytes, bytearray]) -> bytearray:
    """The larger of each pair of registers, ``bytearray(map(max, a, b))``, by a few operations on
    the registers as one integer rather than 16,384 calls (the run's total merges one sketch per
    period): with every register below 128, ``(x | 0x80) - y`` has its high bit set exactly
    where ``x >= y``, and no byte borrows from the next."""
    x, y = int.from_bytes(a, "little"), int.from_bytes(b, "little")
    if (x | y) & _HIGH_BITS:  # a register of 128 or more: never a rank, but registers_max takes any bytes
        return bytearray(map(max, a, b))
    keep_x = (((x | _HIGH_BITS) - y) & _HIGH_BITS) >> 7  # 1 in each byte where x's register is the larger
    mask = keep_x * 0xFF
    return bytearray(((x & mask) | (y & (mask ^ _ALL_BITS))).to_bytes(REGISTERS, "little"))


def rank_histogram(registers: Union[bytes, bytearray]) -> List[int]:
    """How many registers hold each rank, 0 to ``64 - PRECISION + 1``: one pass of ``count`` per
    rank up to the largest register's (the ranks above it hold none; ``in`` finds it fast)."""
    top = next((rank for rank in range(_RANK_BITS + 1, 0, -1) if rank in registers), 0)
    return [registers.count(rank) for rank in range(top + 1)] + [0] * (_RANK_BITS + 1 - top)


class DistinctSketch:
    """An estimate of how many distinct keys were added (see the module documentation)."""

    __slots__ = ("registers",)

    def __init__(self, registers: Optional[Union[bytes, bytearray]] = None) -> None:
        if registers is not None and len(registers) != REGISTERS:
            raise ValueError(f"a sketch has {REGISTERS} registers, not {len(registers)}")
        if registers is not None and bytes(registers).translate(None, _RANKS):  # a byte that is no rank
            raise ValueError(f"a sketch's registers hold ranks 0 to {_RANK_BITS + 1}, not {max(registers)}")
        self.registers = bytearray(REGISTERS if registers is None else registers)

    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]:
        """Pickled as its registers, checked again when loaded."""
        return DistinctSketch, (bytes(self.registers),)

    def add(self, keys: Iterable[str]) -> None:
        """Count these keys (each at most once, however often it is added)."""
        # a sequence, not an iterator: the reference may read again keys the C left to it
        _add(self.registers, keys if isinstance(keys, (list, tuple)) else list(keys))

    def merge(self, other: DistinctSketch) -> None:
        """Count ``other``'s keys too."""
        self.registers = registers_max(self.registers, other.registers)

    def copy(self) -> DistinctSketch:
        """An independent copy."""
        return DistinctSketch(self.registers)

    def estimate(self) -> int:
        """The estimated number of distinct keys added (0 for an empty sketch, :data:`SATURATED`
        when every register holds the largest rank)."""
        histogram = rank_histogram(self.registers)
        m = REGISTERS
        if histogram[0] == m:
            return 0
        z = m * _tau(1 - histogram[_RANK_BITS + 1] / m)
        for rank in range(_RANK_BITS, 0, -1):
            z = 0.5 * (z + histogram[rank])
        z += m * _sigma(histogram[0] / m)
        if not z:  # every register at the largest rank: more keys than the sketch tells apart
            return SATURATED
        return round(m * m / (2 * math.log(2) * z))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DistinctSketch) and self.registers == other.registers

    def __repr__(self) -> str:
        return f"DistinctSketch(~{self.estimate()})"


def _sigma(x: float) -> float:
    """Ertl's sigma: sum over k >= 1 of x**(2**k) * 2**(k-1), plus x."""
    if x == 1:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        before, z = z, z + x * y
        y += y
        if z == before:
            return z


def _tau(x: float) -> float:
    """Ertl's tau: (1 - x - sum over k >= 1 of (1 - x**(2**-k))**2 * 2**-k) / 3."""
    if x == 0 or x == 1:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        y *= 0.5
        before, z = z, z - (1 - x) ** 2 * y
        if z == before:
            return z / 3
