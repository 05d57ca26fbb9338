"""``key → count`` of keys that may repeat, in first-seen order: the engine's one way to sum counters
(and :func:`add_into`, which adds one mapping into another).

Counting a block and joining the counters of pieces both come down to this; the C accelerator's
``summed`` does it without a Python step per key.
"""

from __future__ import annotations

from operator import add
from typing import Any, Callable, Dict, Hashable, List, Mapping, TypeVar

from monilog.accelerator import speedups

K = TypeVar("K", bound=Hashable)


def summed_python(keys: List[K], counts: List[int]) -> Dict[K, int]:
    """``key → count`` in first-seen order, adding the counts of keys that repeat.

    This is the reference of the C accelerator's ``summed``, which :func:`summed` uses when it is built.
    """
    if len(set(keys)) == len(keys):
        return dict(zip(keys, counts))
    total: Dict[K, int] = {}
    for key, count in zip(keys, counts):
        total[key] = total.get(key, 0) + count
    return total


def summed(keys: List[K], counts: List[int]) -> Dict[K, int]:
    """As :func:`summed_python`, by the C accelerator when it is built (it leaves counts that are not
    ints to the reference)."""
    total = speedups.summed(keys, counts) if speedups is not None else None
    return summed_python(keys, counts) if total is None else total


def add_into(total: Dict[K, Any], more: Mapping[K, Any], plus: Callable[[Any, Any], Any] = add) -> None:
    """Add ``more``'s values into ``total``'s (with ``plus``), in place; keys new to it go last,
    in ``more``'s order. Only the keys in both are added one by one."""
    mine = {key: total[key] for key in total.keys() & more.keys()}
    total.update(more)
    for key, value in mine.items():
        total[key] = plus(value, more[key])
