"""Follow live log files like ``tail -F`` in a thread, and split byte streams into lines.

:class:`FileWatcher` follows files, glob patterns, named pipes and standard input, surviving
rotation and truncation, and hands complete lines to a callback; a ``kafka://`` path is a Kafka
topic, read by :mod:`monilog.watcher.kafka` in the same thread. :class:`LineSplitter` and
:func:`read_lines` are the line splitting it uses, and :func:`text_problem` its test of whether a
file is text at all (:func:`compression_of` telling compressed ones), for reading whole files too
(replay).
"""

from __future__ import annotations

from monilog.parsing.columns import LineBlock

from .lines import (
    DEFAULT_MAX_LINE_LENGTH,
    Compression,
    LineSplitter,
    compression_of,
    read_lines,
    text_problem,
)
from .watcher import FileStats, FileWatcher, WatchNotice, WatchStats, glob_matches

__all__ = [
    "DEFAULT_MAX_LINE_LENGTH",
    "Compression",
    "FileStats",
    "FileWatcher",
    "LineBlock",
    "LineSplitter",
    "WatchNotice",
    "WatchStats",
    "compression_of",
    "glob_matches",
    "read_lines",
    "text_problem",
]
