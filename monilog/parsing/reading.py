"""How records are read beyond their format: filters, the real client behind proxies, virtual hosts.

A :class:`Reading` is plain data (worker processes get it with their task) applied by the block
parser to every block's columns, after parsing and before counting:

* its :class:`~monilog.parsing.filters.Filters`;
* ``real_client``: the client is taken from ``X-Forwarded-For`` (a format must log it:
  ``$http_x_forwarded_for``, ``%{X-Forwarded-For}i``, or a JSON key), walking from the connecting
  address leftwards past every trusted proxy: the first untrusted address is the client (all
  trusted: the leftmost). Trusted by default: loopback and private networks (``10/8``,
  ``172.16/12``, ``192.168/16``, ``fc00::/7``...), as load balancers inside a VPC are;
  ``trusted_proxies`` replaces that list. An unreadable entry ends the walk there.
* ``vhost_from_filename``: a source whose format logs no virtual host gets its file name as one
  (``shop.example.access.log`` → ``shop.example``: ``access``, ``log``, ``gz``... and rotation
  numbers are dropped);
* ``by_vhost``: sections are counted per virtual host (``shop.example/api``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from dateutil import tz

from monilog.parsing.columns import KeyDecoder, ParsedBlock, split_pairs
from monilog.parsing.filters import Filters

DEFAULT_TRUSTED = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                   "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10")
"""Networks trusted as proxies when ``trusted_proxies`` is not given."""

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=64)
def _networks(specs: Tuple[str, ...]) -> Tuple[Network, ...]:
    return tuple(ipaddress.ip_network(spec, strict=False) for spec in specs)


def real_client(forwarded: str, peer: str, trusted: Sequence[Network]) -> str:
    """The client of a request from ``peer`` that carried ``X-Forwarded-For: forwarded``."""
    hops = [part.strip() for part in forwarded.split(",") if part.strip() and part.strip() != "-"]
    client = peer
    for hop in reversed([*hops, peer]):
        try:
            address = ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return client if client != peer or not hops else hop
        client = hop
        if not any(address in network for network in trusted):
            return hop
    return client


_ROTATION = re.compile(r"(\.(?:\d+|log|access|gz|bz2|xz|zst|txt))+$|[-_.]access$", re.IGNORECASE)


def vhost_of_file(path: str) -> str:
    """The virtual host a log file is named after (``/var/log/nginx/shop.example.access.log.1`` → ``shop.example``)."""
    name = base = os.path.basename(path)
    previous = None
    while previous != name:
        previous, name = name, _ROTATION.sub("", name)
    return base if name.lower() in ("", "access", "access_log") else name


class VhostKeys(KeyDecoder):
    """The keys of a format whose request keys were paired with their vhost: sections per vhost."""

    def __init__(self, inner: KeyDecoder) -> None:
        super().__init__()
        self.inner = inner

    def who(self, key: Any) -> Tuple[str, str]:
        """As the format's."""
        return self.inner.who(key)

    def with_client(self, key: Any, client: str) -> Any:
        """As the format's."""
        return self.inner.with_client(key, client)

    def request(self, key: Any) -> Tuple[str, str]:
        """``(method, vhost + section)`` of a ``(vhost, request)`` key."""
        vhost, request = key
        method, section = self.inner.request(request)
        return method, (self.inner.vhost(vhost) + section) if vhost else section

    def decode_requests(self, keys: List[Any]) -> Tuple[List[str], List[str]]:
        """As :meth:`request` on each key: the format's, each section after its vhost."""
        vhosts, requests = split_pairs(keys)
        methods, sections = self.inner.decode_requests(requests)
        return methods, [self.inner.vhost(vhost) + name if vhost else name for vhost, name in zip(vhosts, sections)]

    def target(self, key: Any) -> str:
        """As the format's."""
        return self.inner.target(key[1])

    def stamp(self, key: Any) -> Any:
        """As the format's."""
        return self.inner.stamp(key)

    def sizes(self, keys: Sequence[Any]) -> List[int]:
        """As the format's."""
        return self.inner.sizes(keys)

    def vhost(self, key: Any) -> str:
        """As the format's."""
        return self.inner.vhost(key)

    def durations(self, keys: Sequence[Any]) -> List[Optional[float]]:
        """As the format's."""
        return self.inner.durations(keys)

    def upstreams(self, keys: Sequence[Any]) -> List[Optional[float]]:
        """As the format's."""
        return self.inner.upstreams(keys)

    def agent(self, key: Any) -> str:
        """As the format's."""
        return self.inner.agent(key)


_VHOST_KEYS: Dict[int, VhostKeys] = {}


@dataclass(frozen=True)
class Reading:
    """Filters and reading rules of a run (see the module documentation); the default changes nothing."""

    filters: Filters = field(default_factory=Filters)
    real_client: bool = False
    """Take the client from X-Forwarded-For."""
    trusted_proxies: Optional[Tuple[str, ...]] = None
    """Proxies whose X-Forwarded-For entries are skipped; None: :data:`DEFAULT_TRUSTED`."""
    by_vhost: bool = False
    """Count sections per virtual host."""
    vhost_from_filename: bool = False
    """A source without a logged vhost is named after its file."""
    timezone: Optional[str] = None
    """The zone of W3C ``date-local``/``time-local`` fields (an IANA name such as ``Europe/Paris``,
    or ``UTC``); None: the host's."""

    def __post_init__(self) -> None:
        _networks(self.trusted_proxies or DEFAULT_TRUSTED)
        if self.timezone is not None and tz.gettz(self.timezone) is None:
            raise ValueError(f"unknown time zone {self.timezone!r} (an IANA name such as Europe/Paris, or UTC)")

    @property
    def local_zone(self) -> Optional[tzinfo]:
        """The zone of local times, None for the host's."""
        return None if self.timezone is None else tz.gettz(self.timezone)

    @property
    def needs_agents(self) -> bool:
        """Whether user agents must be read (the fast Common/Combined pattern skips them)."""
        return self.filters.needs_agents

    def apply(self, parsed: ParsedBlock, source: str = "") -> ParsedBlock:
        """The block's columns as this run reads them: vhost named after the file, real clients,
        sections per vhost, then the filters."""
        count = len(parsed.stamps)
        if count and self.vhost_from_filename and parsed.vhosts is None and source:
            parsed = parsed._replace(vhosts=[vhost_of_file(source)] * count)
        if count and self.real_client and parsed.forwarded is not None:
            parsed = parsed._replace(who=self._real_clients(parsed))
        if count and self.by_vhost and parsed.vhosts is not None:
            keys = _VHOST_KEYS.get(id(parsed.keys))
            if keys is None or keys.inner is not parsed.keys:
                keys = _VHOST_KEYS[id(parsed.keys)] = VhostKeys(parsed.keys)
            parsed = parsed._replace(requests=list(zip(parsed.vhosts, parsed.requests)), keys=keys)
        return self.filters.apply(parsed)

    def _real_clients(self, parsed: ParsedBlock) -> List[Any]:
        trusted = _networks(self.trusted_proxies or DEFAULT_TRUSTED)
        keys = parsed.keys
        assert parsed.forwarded is not None
        resolved: Dict[Tuple[Any, Any], Any] = {}
        who: List[Any] = []
        for key, forwarded in zip(parsed.who, parsed.forwarded):
            new = resolved.get((key, forwarded))
            if new is None:
                host = keys.who(key)[0]
                text = forwarded.decode("utf-8", "replace") if isinstance(forwarded, bytes) else str(forwarded or "")
                client = real_client(text, host, trusted) if text else host
                new = resolved[(key, forwarded)] = keys.with_client(key, client)
            who.append(new)
        return who
