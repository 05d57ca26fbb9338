"""The traffic section of a request target: what the reports group hits by.

The section is the target up to its second ``/``, ignoring the query and fragment::

    /pages/create                    → /pages
    /report                          → /report
    /                                → /
    /api?x=1                         → /api
    http://my.site.com/pages/create  → http://my.site.com/pages

Decisions for the other cases:

- A trailing slash is dropped with the rest: ``/pages/`` → ``/pages`` (the same
  section as ``/pages/create``); an empty first segment gives the root: ``//x`` → ``/``.
- An absolute URL keeps its ``scheme://authority`` and then follows the same rule on
  its path; without a path it gets the root: ``http://host`` and ``http://host?q`` →
  ``http://host/``. Scheme and host are not lower-cased or otherwise normalised.
- Other targets — ``*`` (``OPTIONS *``), the authority of ``CONNECT host:443``, or
  garbage a scanner sent — are their own section, cut at the first ``/``, query or
  fragment: ``*`` → ``*``, ``host:443`` → ``host:443``.
- Percent-encoding is kept as logged, not decoded (``/a%2Fb/c`` → ``/a%2Fb``): decoding
  would merge targets the server saw as different and could inject control characters.
- Case is kept: ``/Pages`` and ``/pages`` are different sections, as they are to most
  servers.
- A missing target — empty, ``-`` (the ``"-"`` request of a client that sent nothing),
  or nothing left once the query is removed — is the section ``-``.
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Tuple

from monilog.accelerator import speedups

NO_SECTION = "-"
"""The section of a missing or empty target."""

_PATH_STOPS = "/?#"
"""What ends the section of a target that starts with ``/``: the next ``/``, query or fragment."""
_PATH_SECTION = re.compile(f"/[^{re.escape(_PATH_STOPS)}]*").match
"""The section of a target that starts with ``/`` (the usual case)."""


def section_of(target: str) -> str:
    """The section of a request target (see the module documentation for the rule)."""
    if target[:1] == "/":  # the usual case, first and in one call: a log of random paths makes one per line
        return _PATH_SECTION(target).group()  # type: ignore[union-attr]  # it starts with "/"
    end = target.find("?")
    if end < 0:
        end = len(target)
    fragment = target.find("#", 0, end)
    if fragment >= 0:
        end = fragment
    scheme = target.find("://", 0, end)
    if scheme > 0 and target.find("/", 0, scheme) < 0:
        path = target.find("/", scheme + 3, end)
        if path < 0:
            return target[:end] + "/"
        second = target.find("/", path + 1, end)
        return target[:second] if second > 0 else target[:end]
    first = target.find("/", 0, end)
    section = target[:first] if first >= 0 else target[:end]
    return section if section and section != NO_SECTION else NO_SECTION


def sections_of(targets: List[str]) -> List[str]:
    """:func:`section_of` of each target, in order (the distinct targets of a block at once).

    When the C accelerator is built, targets that start with ``/`` are cut by it at
    :data:`_PATH_STOPS`, the usual case of :func:`section_of` as written here (a log of random
    paths has a new target on every line); the others go through :func:`section_of`. When
    ``section_of`` was replaced (a program or a test changing the rule), every target goes
    through the replacement. A test holds the two ways together on generated targets.
    """
    usual = usual_case()
    if speedups is None or usual is None:
        return list(map(section_of, targets))
    return speedups.prefixes(targets, *usual, section_of)  # type: ignore[no-any-return]


_SECTION_OF = section_of
"""The rule as written, whose usual case :func:`sections_of` and the C accelerator's counting cut in C."""


def usual_case() -> Optional[Tuple[str, str]]:
    """``(lead, stops)`` of the rule's usual case as written: a target that starts with ``lead``
    has the section up to the first of ``stops`` after it (what the C accelerator is given,
    knowing no rule itself); None when :func:`section_of` was replaced (a program or a test
    changing the rule), whose replacement then cuts every target."""
    return ("/", _PATH_STOPS) if section_of is _SECTION_OF else None


def prefixes_python(keys: List[str], lead: str, stops: str, other: Callable[[str], str]) -> List[str]:
    """Each key that starts with ``lead``, cut before the first of ``stops`` after its first
    character; ``other(key)`` for the other keys.

    This is the reference of the C accelerator's ``prefixes``, which :func:`sections_of` gives
    the section rule's usual case (lead ``/``, stops ``/?#``): the accelerator knows no rule.
    """
    def cut(key: str) -> str:
        if key[:1] != lead:
            return other(key)
        ends = [index for index in map(key.find, stops, [1] * len(stops)) if index >= 0]
        return key[:min(ends)] if ends else key
    return list(map(cut, keys))
