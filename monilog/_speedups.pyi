"""Types of the C accelerator (monilog/_speedups.c); monilog.accelerator says when it is used."""

from typing import Any, List, Optional, Sequence, Tuple

_Columns = Tuple[List[bytes], List[bytes], List[bytes], List[bytes], List[bytes]]
_Tally = Tuple[List[Any], List[int], List[Any], List[Any], List[int], List[Any], List[int]]

def scan_clf(block: bytes, combined: bool) -> Optional[_Columns]: ...
def tally(who: Sequence[Any], requests: Sequence[Any], statuses: Sequence[Any], sizes: Sequence[Any],
          start: int, end: int) -> Optional[_Tally]: ...
