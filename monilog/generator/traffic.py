"""The traffic model: who asks for what, how it goes, and how each request is written.

A :class:`TrafficModel` is built once from a seeded :class:`random.Random` and then turns
arrival times into log lines in batches (:meth:`TrafficModel.lines`). Everything a line is
made of is drawn from pools precomputed at construction, so a line costs a few list look-ups
and one f-string: this is what makes the generator fast enough to write benchmark logs.

The model
---------
* **Sections** (``/api``, ``/blog``...; names are shuffled per seed, then ``/section21``... when
  more are asked than the built-in names) have Zipf-like popularity (weight ``1/k**1.1``).
* **Paths**: each section has ``paths`` distinct paths, all below it (``/api/orders/1042``,
  ``/blog/latest-news.html``, ``/static/app.css``...), some with a query string; Zipf-like
  popularity within the section (``1/k``). Every target's section is therefore one of
  :attr:`TrafficModel.sections`. Asset sections (``/static``, ``/images``, ``/media``,
  ``/download``) serve fixed-size files; other pages vary in size by up to 30 % per request.
* **Clients**: ``clients`` distinct addresses (about 5 % IPv6) with Zipf-like activity
  (``1/k**0.9``). Each client keeps one user agent (browsers dominate, then crawlers and
  command-line tools) and about 8 % of the human ones are logged-in users; the rest log ``-``.
* **Requests**: GET 86 %, POST 9 %, HEAD, PUT, DELETE (static assets: GET and HEAD only);
  HTTP/1.1 70 %, HTTP/2.0 28 %, HTTP/1.0 2 %. Exactly ``error_rate`` of the responses (in expectation) are errors
  (status >= 400: 80 % 4xx, 20 % 5xx); the others are mostly 200, with 304, 301, 302, and
  201/204 where the method calls for it. 304, 204 and HEAD responses have no body, logged
  ``-`` (Apache's ``%b``); redirects and errors have small bodies.
* **Referers**: ``-`` for 45 % of requests, a page of the site for 35 %, a search engine or
  link aggregator for 20 %.

Formats
-------
* ``common``: ``host ident user [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 2326``.
* ``combined``: Common followed by ``"referer" "user agent"``.
* ``w3c``: W3C Extended with the fields of :data:`W3C_FIELDS`; date and time are UTC as the
  format requires, spaces in the user agent are written ``+`` (as IIS does), empty fields ``-``.

Common and Combined timestamps are local time with the UTC offset in force at that instant
(``datetime.astimezone()``, so daylight-saving changes and ``TZ`` are honoured); month names are
always English, whatever the locale.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from random import Random
from typing import Any, Callable, Dict, List, Sequence, Tuple

from monilog.generator.choices import WRITTEN_FORMATS

W3C_FIELDS = (
    "date time c-ip cs-username cs-method cs-uri-stem cs-uri-query sc-status sc-bytes "
    "cs-version cs(User-Agent) cs(Referer)"
)
"""The ``#Fields:`` directive of generated W3C logs."""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

SITE = "https://www.example.com"
"""Where internal referers point."""

SECTION_NAMES = (
    "/api", "/blog", "/shop", "/static", "/images", "/docs", "/account", "/search", "/news",
    "/help", "/forum", "/media", "/products", "/cart", "/support", "/about", "/events",
    "/jobs", "/download", "/pages",
)
ASSET_SECTIONS = {"/static": ("css", "js", "woff2", "svg"), "/images": ("png", "jpg", "webp", "gif"),
                  "/media": ("mp4", "mp3", "jpg"), "/download": ("zip", "pdf", "tar.gz")}
WORDS = (
    "users", "orders", "items", "list", "view", "edit", "create", "login", "index", "report",
    "latest", "archive", "popular", "settings", "profile", "status", "feed", "detail",
    "summary", "checkout", "pricing", "contact", "release", "guide", "faq", "team", "news",
    "update", "upload", "export", "compare", "reviews", "wishlist", "history", "help", "tags",
)
USER_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
              "judy", "mallory", "oscar", "peggy", "rupert", "sybil", "trent", "victor", "walter")

# (user agent, weight, is a robot: robots never log in)
AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", 30, False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", 12, False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", 12, False),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Mobile Safari/537.36", 10, False),
    ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", 7, False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", 6, False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 5, True),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 3, True),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 2, True),
    ("curl/8.5.0", 3, True),
    ("python-requests/2.31.0", 3, True),
    ("Go-http-client/1.1", 2, True),
    ("Prometheus/2.51.0", 1, True),
)
EXTERNAL_REFERERS = (
    ("https://www.google.com/", 10), ("https://www.bing.com/", 3), ("https://duckduckgo.com/", 2),
    ("https://news.ycombinator.com/", 1), ("https://t.co/x3Rk9QaZ", 1),
    ("https://www.reddit.com/r/sysadmin/", 1),
)

METHODS = (("GET", 0.86), ("POST", 0.09), ("HEAD", 0.02), ("PUT", 0.02), ("DELETE", 0.01))
PROTOCOLS = (("HTTP/1.1", 0.70), ("HTTP/2.0", 0.28), ("HTTP/1.0", 0.02))
SUCCESS_STATUSES = {
    "GET": ((200, 0.90), (304, 0.06), (301, 0.02), (302, 0.02)),
    "HEAD": ((200, 0.94), (304, 0.06)),
    "POST": ((200, 0.50), (201, 0.30), (302, 0.20)),
    "PUT": ((200, 0.60), (204, 0.40)),
    "DELETE": ((204, 0.80), (200, 0.20)),
}
ERROR_STATUSES = (
    (404, 0.40), (400, 0.12), (403, 0.12), (401, 0.08), (429, 0.08),
    (500, 0.10), (502, 0.04), (503, 0.05), (504, 0.01),
)
ERROR_BODY = {301: 230, 302: 215, 400: 310, 401: 420, 403: 380, 404: 520, 429: 180,
              500: 610, 502: 560, 503: 590, 504: 570}

SizeRule = Tuple[int, int]
"""How a response size is drawn: ``(base, jitter)``; the size is ``base + int(jitter * u)``."""


def zipf_cumulative(count: int, exponent: float) -> List[float]:
    """Cumulative weights ``1/k**exponent`` for ranks 1..count, for :meth:`Random.choices`."""
    return list(itertools.accumulate(1.0 / rank ** exponent for rank in range(1, count + 1)))


def _section_names(count: int, rng: Random) -> List[str]:
    names = list(SECTION_NAMES)
    rng.shuffle(names)
    names += [f"/section{number}" for number in range(len(names) + 1, count + 1)]
    return names[:count]


def _section_paths(section: str, count: int, rng: Random) -> List[Tuple[str, SizeRule]]:
    """``count`` distinct targets below ``section``, most popular first, with their size rule."""
    extensions = ASSET_SECTIONS.get(section)
    targets: Dict[str, SizeRule] = {}
    while len(targets) < count:
        word, other = rng.choice(WORDS), rng.choice(WORDS)
        if extensions:
            target = f"{section}/{word}-{rng.randrange(1000)}.{rng.choice(extensions)}"
            size = int(rng.lognormvariate(10.5 if extensions[0] in ("mp4", "zip") else 9.0, 1.0))
            targets.setdefault(target, (max(size, 200), 0))
            continue
        shape = rng.random()
        if shape < 0.35:
            target = f"{section}/{word}"
        elif shape < 0.65:
            target = f"{section}/{word}/{rng.randrange(1, 5000)}"
        elif shape < 0.85:
            target = f"{section}/{word}-{other}.html"
        else:
            target = f"{section}/{word}?{rng.choice(('page', 'id', 'q', 'sort'))}={rng.randrange(1, 50)}"
        size = max(int(rng.lognormvariate(8.5, 0.9)), 300)
        targets.setdefault(target, (size, size * 3 // 10))
    return list(targets.items())


def _client_address(rng: Random) -> str:
    if rng.random() < 0.05:
        return f"2001:db8:{rng.randrange(0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
    while True:
        first = rng.randrange(1, 224)
        if first not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _body_rule(method: str, status: int) -> int:
    """``-1`` for "the page's own size", else the fixed body size (0 = no body)."""
    if method == "HEAD" or status in (204, 304):
        return 0
    return -1 if status in (200, 201) else ERROR_BODY[status]


Outcome = Tuple[str, str, int, int, Tuple[str, int, int]]
"""Method, protocol, status, body rule, and the (method, status, body rule) used instead when
the target is a static asset: assets are only fetched (GET or HEAD) and never created."""


def _outcomes(error_rate: float) -> Tuple[List[Outcome], List[float]]:
    """Every :data:`Outcome` with its cumulative probability."""
    table: List[Outcome] = []
    weights: List[float] = []
    for method, p_method in METHODS:
        statuses = [(status, (1.0 - error_rate) * p) for status, p in SUCCESS_STATUSES[method]]
        statuses += [(status, error_rate * p) for status, p in ERROR_STATUSES]
        for protocol, p_protocol in PROTOCOLS:
            for status, p_status in statuses:
                if p_status <= 0.0:
                    continue
                asset_method = method if method in ("GET", "HEAD") else "GET"
                asset_status = 200 if status in (201, 204) else status
                table.append((method, protocol, status, _body_rule(method, status),
                              (asset_method, asset_status, _body_rule(asset_method, asset_status))))
                weights.append(p_method * p_protocol * p_status)
    return table, list(itertools.accumulate(weights))


class TrafficModel:
    """Precomputed pools of sections, paths, clients, outcomes and referers, and line formatting.

    :param rng: source of randomness for the pools (the model keeps no reference to it).
    :param sections: number of distinct sections.
    :param paths: number of distinct paths in each section.
    :param clients: number of distinct clients.
    :param error_rate: expected fraction of responses with status >= 400, in [0, 1].
    """

    def __init__(self, rng: Random, sections: int = 10, paths: int = 20, clients: int = 300,
                 error_rate: float = 0.05) -> None:
        if sections < 1 or paths < 1 or clients < 1:
            raise ValueError("sections, paths and clients must each be at least 1")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error rate must be between 0 and 1, not {error_rate}")
        self.sections: Tuple[str, ...] = tuple(_section_names(sections, rng))
        """Every section the generated targets fall in, most popular first."""

        section_weights = zipf_cumulative(sections, 1.1)
        path_weights = zipf_cumulative(paths, 1.0)
        pages: List[Tuple[str, str, str, int, int, bool]] = []
        page_weights: List[float] = []
        previous = 0.0
        for section, cumulative in zip(self.sections, section_weights):
            section_weight, previous = cumulative - previous, cumulative
            for (target, (base, jitter)), path_weight in zip(_section_paths(section, paths, rng),
                                                             _increments(path_weights)):
                stem, _, query = target.partition("?")
                pages.append((target, stem, query or "-", base, jitter, section in ASSET_SECTIONS))
                page_weights.append(section_weight * path_weight)
        self._pages = pages
        self._page_weights = list(itertools.accumulate(page_weights))

        agents = [agent for agent, _, _ in AGENTS]
        agent_weights = list(itertools.accumulate(weight for _, weight, _ in AGENTS))
        robots = {agent for agent, _, robot in AGENTS if robot}
        addresses: Dict[str, None] = {}
        while len(addresses) < clients:
            addresses[_client_address(rng)] = None
        self._clients: List[Tuple[str, str, str, str]] = []
        for address in addresses:
            agent = rng.choices(agents, cum_weights=agent_weights)[0]
            user = "-"
            if agent not in robots and rng.random() < 0.08:
                user = f"{rng.choice(USER_NAMES)}{rng.choice(('', '', str(rng.randrange(100))))}"
            self._clients.append((address, user, agent, agent.replace(" ", "+")))
        self._client_weights = zipf_cumulative(clients, 0.9)

        referers = [("-", 45.0)]
        popular = sorted(range(len(pages)), key=page_weights.__getitem__, reverse=True)[:20]
        referers += [(SITE + pages[index][0], 35.0 / len(popular)) for index in popular]
        external_total = sum(weight for _, weight in EXTERNAL_REFERERS)
        referers += [(url, 20.0 * weight / external_total) for url, weight in EXTERNAL_REFERERS]
        self._referers = [url for url, _ in referers]
        self._referer_weights = list(itertools.accumulate(weight for _, weight in referers))

        self._outcomes, self._outcome_weights = _outcomes(error_rate)

    def formatter(self, fmt: str) -> Callable[[Random, Sequence[float]], List[str]]:
        """The batch line maker for ``fmt``: ``make(rng, times)`` returns one line per time.

        ``times`` are seconds since the epoch in ascending order; lines have no newline.
        """
        if fmt not in WRITTEN_FORMATS:
            raise ValueError(f"unknown log format {fmt!r}: expected one of {', '.join(WRITTEN_FORMATS)}")
        writer: Callable[[Random, Sequence[float]], List[str]] = getattr(self, f"_{fmt}_lines")
        return writer

    def _draw(self, rng: Random, count: int) -> Tuple[List[Any], List[Any], List[Any], List[Any], List[float]]:
        """``count`` clients, pages, outcomes, referers and size draws."""
        return (
            rng.choices(self._clients, cum_weights=self._client_weights, k=count),
            rng.choices(self._pages, cum_weights=self._page_weights, k=count),
            rng.choices(self._outcomes, cum_weights=self._outcome_weights, k=count),
            rng.choices(self._referers, cum_weights=self._referer_weights, k=count),
            [rng.random() for _ in range(count)],
        )

    def _clf_lines(self, rng: Random, times: Sequence[float], combined: bool) -> List[str]:
        clients, pages, outcomes, referers, draws = self._draw(rng, len(times))
        lines: List[str] = []
        append = lines.append
        second, stamp = None, ""
        for time, (host, user, agent, _), (target, _, _, base, jitter, asset), \
                (method, protocol, status, body, as_asset), referer, draw in zip(times, clients, pages, outcomes,
                                                                                 referers, draws):
            if int(time) != second:
                second = int(time)
                stamp = clf_timestamp(second)
            if asset:
                method, status, body = as_asset
            size = base + int(jitter * draw) if body < 0 else body
            if combined:
                append(f'{host} - {user} [{stamp}] "{method} {target} {protocol}" {status} {size or "-"} '
                       f'"{referer}" "{agent}"')
            else:
                append(f'{host} - {user} [{stamp}] "{method} {target} {protocol}" {status} {size or "-"}')
        return lines

    def _common_lines(self, rng: Random, times: Sequence[float]) -> List[str]:
        return self._clf_lines(rng, times, combined=False)

    def _combined_lines(self, rng: Random, times: Sequence[float]) -> List[str]:
        return self._clf_lines(rng, times, combined=True)

    def _w3c_lines(self, rng: Random, times: Sequence[float]) -> List[str]:
        clients, pages, outcomes, referers, draws = self._draw(rng, len(times))
        lines: List[str] = []
        append = lines.append
        second, stamp = None, ""
        for time, (host, user, _, agent), (_, stem, query, base, jitter, asset), \
                (method, protocol, status, body, as_asset), referer, draw in zip(times, clients, pages, outcomes,
                                                                                 referers, draws):
            if int(time) != second:
                second = int(time)
                stamp = w3c_timestamp(second)
            if asset:
                method, status, body = as_asset
            size = base + int(jitter * draw) if body < 0 else body
            append(f"{stamp} {host} {user} {method} {stem} {query} {status} {size} {protocol} "
                   f"{agent} {referer}")
        return lines


def _increments(cumulative: Sequence[float]) -> List[float]:
    """The individual weights behind cumulative weights."""
    return [value - previous for previous, value in zip(itertools.chain((0.0,), cumulative), cumulative)]


def clf_timestamp(second: int) -> str:
    """``10/Oct/2000:13:55:36 -0700``: local time at ``second`` with the offset then in force."""
    moment = datetime.fromtimestamp(second, timezone.utc).astimezone()
    return moment.strftime(f"%d/{MONTHS[moment.month - 1]}/%Y:%H:%M:%S %z")


def w3c_timestamp(second: int) -> str:
    """``2000-10-10 20:55:36``: the UTC date and time at ``second``, as W3C logs write them."""
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
