"""The user agents of well-known crawlers, for ``--exclude-bots``: one list, kept here.

A user agent is a bot's when it contains one of :data:`BOT_PATTERNS` (case-insensitive): the
generic words crawlers put in their names, then the big crawlers and monitors whose names lack
them. Empty user agents are not bots (many real clients send none). The list is deliberately
short; a site that needs more can filter with ``--exclude-path`` or its own rule.
"""

from __future__ import annotations

import re
from functools import lru_cache

BOT_PATTERNS = (
    "bot", "crawl", "spider", "slurp", "scrapy", "python-requests", "curl/", "wget/", "go-http-client",
    "headlesschrome", "lighthouse", "facebookexternalhit", "bingpreview", "yandex", "baiduspider",
    "mediapartners-google", "feedfetcher", "pingdom", "uptimerobot", "statuscake", "nagios", "zabbix",
    "ahrefs", "semrush", "mj12", "dotbot", "petalbot", "bytespider", "gptbot", "ccbot", "claudebot",
)
"""Substrings of bots' user agents (lower case)."""

_BOT = re.compile("|".join(map(re.escape, BOT_PATTERNS)), re.IGNORECASE)


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Whether ``user_agent`` is a well-known crawler's or monitor's."""
    return bool(_BOT.search(user_agent))
