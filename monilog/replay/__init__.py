"""Replaying whole log files fast, through the same engine as following them live.

One module per job: :mod:`~monilog.replay.chunks` cuts files at line starts and reads them back,
:mod:`~monilog.replay.aggregation` aggregates one chunk (the pure step a worker runs),
:mod:`~monilog.replay.workers` runs worker processes, :mod:`~monilog.replay.engine` orchestrates
(:func:`replay`), and :class:`ReplayTuning` holds the sizes that trade speed for memory.
"""

from monilog.replay.engine import replay
from monilog.replay.tuning import ReplayTuning

__all__ = ["ReplayTuning", "replay"]
