"""The run log: a timestamped file holding every report, alert and recovery of a run.

Its name is ``monilog-YYYYmmddTHHMMSSZ.log`` (UTC start time, no ``:`` so it is a valid name on
every filesystem); a second run started within the same second gets ``-1``, ``-2``... appended.
"""

from __future__ import annotations

import os
import time
from typing import Optional

from monilog.outputs.console import TextSink


def run_log_path(directory: str, started: Optional[float] = None) -> str:
    """A new, unused run-log file name in ``directory`` for a run started at ``started``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if started is None else started))
    candidate = os.path.join(directory, f"monilog-{stamp}.log")
    suffix = 0
    while os.path.exists(candidate):
        suffix += 1
        candidate = os.path.join(directory, f"monilog-{stamp}-{suffix}.log")
    return candidate


class RunLogSink(TextSink):
    """Plain text like standard output, each entry stamped with the host time it was written."""

    def __init__(self, directory: str, top: int = 5) -> None:
        os.makedirs(directory, exist_ok=True)
        while True:  # another monitor may take the same name between the check and the open
            self.path = run_log_path(directory)
            try:
                # line-buffered: every entry is on disk at once, in case the run is killed
                stream = open(self.path, "x", encoding="utf-8", buffering=1)
            except FileExistsError:
                continue
            break
        super().__init__(stream, top=top)

    def _write(self, chunk: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        super()._write(f"--- {stamp}\n{chunk}")

    def close(self) -> None:
        self.stream.close()
