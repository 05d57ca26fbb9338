"""Which records count: the filters applied to parsed lines before anything is counted or alerted on.

``--since``/``--until`` (log time), ``--exclude-client`` (addresses and CIDR networks),
``--include-path``/``--exclude-path`` (regular expressions searched in the request target),
``--ignore-status`` (``404``, ``3xx``...) and ``--exclude-bots`` (:mod:`monilog.parsing.bots`).
A filtered line is never lost: it is counted under a reason of its own (``filtered: time``,
``filtered: client``, ``filtered: path``, ``filtered: status``, ``filtered: bot``), carried like a
skipped line to the period it belongs to, and reported as ``filtered``, apart from the skipped
(unparsable) lines. :class:`Filters` is plain data, so worker processes get it with their task.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from monilog.parsing.bots import is_bot
from monilog.parsing.columns import ParsedBlock

FILTERED = "filtered: "
"""The start of every filter's reason: how a filtered line is told from a skipped one."""


def is_filtered(reason: str) -> bool:
    """Whether a reason counts a filtered line (rather than an unparsable one)."""
    return reason.startswith(FILTERED)


@lru_cache(maxsize=256)
def _networks(specs: Tuple[str, ...]) -> Tuple[Union[ipaddress.IPv4Network, ipaddress.IPv6Network], ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def parse_networks(text: str) -> Tuple[str, ...]:
    """``CIDR,...`` (or plain addresses) checked; ValueError naming the one that is not one."""
    specs = tuple(part.strip() for part in text.split(",") if part.strip())
    for spec in specs:
        try:
            ipaddress.ip_network(spec, strict=False)
        except ValueError:
            raise ValueError(f"{spec!r} is not an IP address or network") from None
    return specs


def parse_statuses(text: str) -> Tuple[str, ...]:
    """``404,3xx,...`` checked; ValueError for anything else."""
    specs = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    for spec in specs:
        if not re.fullmatch(r"[1-9](?:\d\d|xx)", spec):
            raise ValueError(f"{spec!r} is not a status code (404) or class (3xx)")
    return specs


@dataclass(frozen=True)
class Filters:
    """The filters of a run; the default filters nothing."""

    since: Optional[float] = None
    """Records before this log time (epoch seconds) are filtered."""
    until: Optional[float] = None
    """Records at or after this log time are filtered."""
    exclude_clients: Tuple[str, ...] = ()
    """Addresses or CIDR networks whose requests are filtered."""
    include_path: Optional[str] = None
    """Only targets this regular expression matches (``re.search``) count."""
    exclude_path: Optional[str] = None
    """Targets this regular expression matches are filtered."""
    ignore_status: Tuple[str, ...] = ()
    """Status codes (``404``) and classes (``3xx``) whose responses are filtered."""
    exclude_bots: bool = False
    """Requests from well-known crawlers' user agents are filtered."""

    def __post_init__(self) -> None:
        for name in ("include_path", "exclude_path"):
            pattern = getattr(self, name)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise ValueError(f"--{name.replace('_', '-')}: {error}") from None
        _networks(self.exclude_clients)
        parse_statuses(",".join(self.ignore_status))

    @property
    def active(self) -> bool:
        """Whether anything is filtered at all."""
        return self != Filters()

    def describe(self) -> List[str]:
        """One phrase per filter in force, for report headers."""
        from datetime import datetime, timezone

        def moment(seconds: float) -> str:
            return datetime.fromtimestamp(seconds, timezone.utc).isoformat()

        phrases = []
        if self.since is not None:
            phrases.append(f"since {moment(self.since)}")
        if self.until is not None:
            phrases.append(f"until {moment(self.until)}")
        if self.exclude_clients:
            phrases.append(f"excluding clients {','.join(self.exclude_clients)}")
        if self.include_path is not None:
            phrases.append(f"paths matching {self.include_path}")
        if self.exclude_path is not None:
            phrases.append(f"excluding paths matching {self.exclude_path}")
        if self.ignore_status:
            phrases.append(f"ignoring status {','.join(self.ignore_status)}")
        if self.exclude_bots:
            phrases.append("excluding bots")
        return phrases

    def apply(self, parsed: ParsedBlock) -> ParsedBlock:
        """The block without its filtered records, each one counted as a skip with its reason."""
        count = len(parsed.stamps)
        if not self.active or not count:
            return parsed
        reasons: List[Optional[str]] = [None] * count
        keys = parsed.keys
        if self.since is not None or self.until is not None:
            low = -float("inf") if self.since is None else self.since
            high = float("inf") if self.until is None else self.until
            inside = {stamp: low <= keys.stamp(stamp)[0] < high for stamp in set(parsed.stamps)}
            self._mark(reasons, [not inside[stamp] for stamp in parsed.stamps], "time")
        if self.exclude_clients:
            networks = _networks(self.exclude_clients)
            excluded: Dict[object, bool] = {}
            for who in set(parsed.who):
                host = keys.who(who)[0]
                try:
                    address = ipaddress.ip_address(host)
                except ValueError:
                    excluded[who] = False
                    continue
                excluded[who] = any(address in network for network in networks)
            self._mark(reasons, [excluded[who] for who in parsed.who], "client")
        if self.include_path is not None or self.exclude_path is not None:
            include = None if self.include_path is None else re.compile(self.include_path)
            exclude = None if self.exclude_path is None else re.compile(self.exclude_path)
            dropped: Dict[object, bool] = {}
            for request in set(parsed.requests):
                target = keys.target(request)
                dropped[request] = bool((include is not None and not include.search(target))
                                        or (exclude is not None and exclude.search(target)))
            self._mark(reasons, [dropped[request] for request in parsed.requests], "path")
        if self.ignore_status:
            ignored = {status: self._ignores(int(status)) for status in set(parsed.statuses)}
            self._mark(reasons, [ignored[status] for status in parsed.statuses], "status")
        if self.exclude_bots:
            agents = parsed.agents if parsed.agents is not None else [""] * count
            bots = {agent: is_bot(keys.agent(agent)) for agent in set(agents)}
            self._mark(reasons, [bots[agent] for agent in agents], "bot")
        return _without(parsed, reasons)

    def _ignores(self, status: int) -> bool:
        code = str(status)
        return code in self.ignore_status or f"{code[0]}xx" in self.ignore_status

    @staticmethod
    def _mark(reasons: List[Optional[str]], hits: Sequence[bool], name: str) -> None:
        reason = FILTERED + name
        for index, hit in enumerate(hits):
            if hit and reasons[index] is None:
                reasons[index] = reason

    @property
    def needs_agents(self) -> bool:
        """Whether the filters read user agents (which the fast Common/Combined pattern skips)."""
        return self.exclude_bots


def _without(parsed: ParsedBlock, reasons: List[Optional[str]]) -> ParsedBlock:
    """``parsed`` with the records that have a reason removed and counted as skips at their place."""
    if not any(reasons):
        return parsed
    kept = [index for index, reason in enumerate(reasons) if reason is None]
    # every skip, old and new, at the index of the next kept record (records before it that stay)
    skipped: List[Tuple[int, str]] = []
    old = iter(parsed.skipped)
    pending = next(old, None)
    position = 0  # kept records so far
    for index, reason in enumerate(reasons):
        while pending is not None and pending[0] <= index:
            skipped.append((position, pending[1]))
            pending = next(old, None)
        if reason is None:
            position += 1
        else:
            skipped.append((position, reason))
    while pending is not None:
        skipped.append((position, pending[1]))
        pending = next(old, None)

    def pick(column: Sequence[Any]) -> List[Any]:
        return [column[index] for index in kept]

    def pick_optional(column: Optional[Sequence[Any]]) -> Optional[List[Any]]:
        return None if column is None else pick(column)

    return parsed._replace(
        who=pick(parsed.who), stamps=pick(parsed.stamps), requests=pick(parsed.requests),
        statuses=pick(parsed.statuses), sizes=pick(parsed.sizes), skipped=skipped,
        durations=pick_optional(parsed.durations), upstreams=pick_optional(parsed.upstreams),
        vhosts=pick_optional(parsed.vhosts), agents=pick_optional(parsed.agents),
    )
