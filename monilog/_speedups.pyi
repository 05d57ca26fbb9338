"""Types of the C accelerator (monilog/_speedups.c); monilog.accelerator says when it is used."""

from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple, TypeVar

_Columns = Tuple[Tuple[bytes, ...], Tuple[bytes, ...], Tuple[bytes, ...], Tuple[bytes, ...], Tuple[bytes, ...]]
_Tally = Tuple[List[Any], List[int], List[Any], List[Any], List[int], List[Any], List[int]]

def scan_clf(block: bytes, combined: bool) -> Optional[_Columns]: ...
SCAN_OPS: Tuple[str, ...]

def scan_format(block: bytes, program: Tuple[Tuple[int, bytes, int], ...],
                shared: Tuple[bool, ...]) -> Optional[Tuple[Tuple[bytes, ...], ...]]: ...
def tally(who: Sequence[Any], requests: Sequence[Any], statuses: Sequence[Any], sizes: Sequence[Any],
          start: int, end: int) -> Optional[_Tally]: ...

_K = TypeVar("_K", bound=Hashable)

def summed(keys: Sequence[_K], counts: Sequence[int]) -> Optional[Dict[_K, int]]: ...
def pairs(first: Sequence[Any], second: Sequence[Any], start: int, end: int) -> Tuple[List[Any], List[Any], List[int]]: ...
def runs(keys: Sequence[_K]) -> Tuple[List[_K], List[int]]: ...
