"""Synthetic access-log traffic: :class:`LogGenerator` and the ``log_generator`` command.

See :mod:`monilog.generator.generator` for the timeline and the writer, and
:mod:`monilog.generator.traffic` for the traffic model and the line formats.
"""

from __future__ import annotations

from monilog.generator.generator import LogGenerator
from monilog.generator.traffic import WRITTEN_FORMATS

__all__ = ["WRITTEN_FORMATS", "LogGenerator"]
