"""How monilog shows what it found: every presentation renders the same report types.

* :mod:`~monilog.presentation.sanitize`: makes log-derived strings safe for a terminal.
* :mod:`~monilog.presentation.text`: the plain-text layout (reports, events, summary).
* :mod:`~monilog.presentation.jsonlines`: the JSON-lines schema, a public interface.
* :mod:`~monilog.presentation.dashboard`: the live full-screen dashboard (rich).

The modules are imported on their own, so that plain-text and JSON output do not load the
dashboard's machinery.
"""
