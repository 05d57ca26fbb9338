"""monilog: follow HTTP access logs, report traffic every 10 seconds, alert on high traffic.

The core is three pieces driven by plain calls with timestamps, so it can be used from any
Python code: a parser (:class:`LogParser`, :func:`parse_line`) turning lines into
:class:`LogRecord`, a :class:`Statistics` accumulator, and an :class:`Alerter`.
"""

__version__ = "0.2.0"

from monilog.accumulation.alerter import AlertEvent, Alerter

__all__ = ["AlertEvent", "Alerter", "__version__"]
