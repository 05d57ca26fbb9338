"""Synthetic access-log traffic: :class:`LogGenerator` and the ``log_generator`` command.

See :mod:`monilog.generator.generator` for the timeline and the writer, and
:mod:`monilog.generator.traffic` for the traffic model and the line formats.

Names are imported from their modules on first use (PEP 562), so that ``log_generator``'s
command line reads :mod:`monilog.generator.choices` without loading the traffic model.
"""

from __future__ import annotations

from monilog.lazy import lazy_names

_HOMES: Dict[str, str] = {
    "LogGenerator": "monilog.generator.generator",
    "WRITTEN_FORMATS": "monilog.generator.choices",
}

__all__ = ["WRITTEN_FORMATS", "LogGenerator"]

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Dict

    from monilog.generator.choices import WRITTEN_FORMATS
    from monilog.generator.generator import LogGenerator

__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__, globals())
