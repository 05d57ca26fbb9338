"""``key → count`` of keys that may repeat, in first-seen order: the engine's one way to sum counters.

Counting a block and joining the counters of pieces both come down to this; the C accelerator's
``summed`` does it without a Python step per key.
"""

from __future__ import annotations

from typing import Dict, Hashable, List, TypeVar

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
