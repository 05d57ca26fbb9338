"""The names of the log formats the parser reads: a plain constant, importable without the parser.

``monitoring``'s command line offers them as ``--format`` choices before anything is parsed.
"""

from __future__ import annotations

FORMATS = ("auto", "common", "combined", "w3c")
"""The accepted values of ``fmt`` (:class:`~monilog.parsing.parser.LogParser`)."""
