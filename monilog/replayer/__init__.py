"""Replaying whole log files fast, through the same engine as following them live.

One module per job: :mod:`~monilog.replayer.chunks` cuts files at line starts and reads them back,
:mod:`~monilog.replayer.aggregation` aggregates one chunk (the pure step a worker runs),
:mod:`~monilog.replayer.workers` runs worker processes, :mod:`~monilog.replayer.engine` orchestrates
(:func:`replay`), and :class:`ReplayTuning` holds the sizes that trade speed for memory.
"""

from monilog.replayer.engine import replay
from monilog.replayer.tuning import ReplayTuning

__all__ = ["ReplayTuning", "replay"]
