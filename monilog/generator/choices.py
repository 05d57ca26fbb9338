"""What ``log_generator``'s command line offers: plain constants, importable without the traffic
model and the writer (and their random, datetime...), so ``--help`` and ``--version`` start fast."""

from __future__ import annotations

WRITTEN_FORMATS = ("common", "combined", "w3c")
"""The formats the generator writes (the parser reads more: :data:`monilog.parsing.parser.FORMATS`)."""

DEFAULT_KEEP = 5
"""Rotated files kept, like logrotate's ``rotate 5``."""
