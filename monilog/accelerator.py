"""The optional C accelerator (:mod:`monilog._speedups`): whether it is used, and how to choose.

Eleven pure steps of the engine have a C twin: the Common/Combined block scan
(:func:`monilog.parsing.block.scan_regex`), the scan of a compiled format's lines, run as a
program its pattern is translated into (:func:`monilog.parsing.pieces.scan_single`), the
counting of a range of records by key (:func:`monilog.accumulation.aggregate.tally_python`) and
by pair of keys (:func:`~monilog.accumulation.aggregate.pairs_python`: durations and virtual
hosts per request and status), the tally, decoding and cut of plain Common/Combined columns in
one pass (:func:`~monilog.accumulation.aggregate.count_plain_python`), a block's runs of seconds
(:func:`~monilog.accumulation.aggregate.runs_python`), sums per key
(:func:`~monilog.accumulation.summing.summed_python`), the hashing of clients into the
distinct-clients sketch (:func:`monilog.accumulation.distinct.add_python`), the counting of a
block's lines (:func:`monilog.parsing.columns.newlines_python`), the cutting of keys at given
characters (:func:`monilog.parsing.section.prefixes_python`) and the checked sums of the columns
of keys beyond a cut (:func:`monilog.accumulation.statistics.column_totals_python`). Each twin gives exactly its Python
reference's result (the tests compare them on generated and hostile input) and knows no rule:
sections, clocks, alerts, formats and decoding stay in their Python modules (the section rule
gives ``prefixes`` its usual case's characters, and takes every other target itself). The accelerator is
built when monilog is installed and a C compiler is there; without one, installing still works and
monilog runs the same, slower (stdlib ``json`` and its ``_json`` work the same way).

Why in-house: no package parses access-log lines into counters (the regex engine is the general
tool it replaces, and the step needs the engine's exact grammar), and the floor bench shows that
no pure-Python engine reaches the live CPU goal (``bench/floor_bench.py``).

Environment (read once, at import):

``MONILOG_PURE_PYTHON=1``
    Do not use the accelerator even when it is built (to compare, or to rule it out).
``MONILOG_REQUIRE_SPEEDUPS=1``
    Fail at import when the accelerator is not built (CI sets it, so that a broken build
    cannot pass unnoticed as a slower run).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Optional


def _load() -> Optional[ModuleType]:
    if os.environ.get("MONILOG_PURE_PYTHON") == "1":
        return None
    try:
        from monilog import _speedups
    except ImportError:
        if os.environ.get("MONILOG_REQUIRE_SPEEDUPS") == "1":
            raise ImportError("monilog's C accelerator (monilog._speedups) is not built, and "
                              "MONILOG_REQUIRE_SPEEDUPS=1 requires it: install with a C compiler "
                              "and the Python headers") from None
        return None
    return _speedups


speedups = _load()
"""The C accelerator's module, or None when monilog runs in pure Python."""


def description() -> str:
    """``"C accelerator"`` or ``"pure Python"``, as ``monitoring --version`` says it."""
    return "C accelerator" if speedups is not None else "pure Python"
