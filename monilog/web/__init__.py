"""Browser pages: the live page of ``monitoring --web`` (:mod:`monilog.web.live`, served by
:mod:`monilog.web.server`) and the self-contained report of ``--html`` (:mod:`monilog.web.static`).

Both draw with the same script and style (``assets/``, shipped in the package), from the objects
of :mod:`monilog.presentation.jsonlines`; neither is imported unless asked for.
"""
