"""How long webhooks wait: plain constants, importable without the HTTP machinery.

``monitoring``'s command line needs them to check and describe ``--webhook-timeout``;
:mod:`monilog.outputs.webhook` (which loads urllib, http.client and ssl) uses them from here.
"""

from __future__ import annotations

TIMEOUT = 10.0
"""Seconds to wait for an answer before trying again."""

MAX_TIMEOUT = 3600.0
"""The longest ``--webhook-timeout`` accepted."""
