"""Make log-derived strings safe to show on a terminal.

Anything read from a log (paths, sections, hosts, users, agents, methods) is attacker-controlled:
a request for ``/\\x1b]52;c;...\\x07`` would write the viewer's clipboard, ``/\\x1b[2J`` would
clear the screen, a right-to-left override would make ``/gpj.exe`` read as ``/exe.jpg``.
Every such string goes through :func:`clean` (plain text) or :func:`clean_text` (rich) before
it is shown.

Decisions
---------
* Unsafe characters are replaced by a visible escape, never dropped silently, so the reader sees
  that something odd was logged and what: ``\\t``, ``\\n``, ``\\r``, ``\\xNN`` for the other C0
  controls, DEL and the C1 controls (0x80–0x9f, among them the one-character CSI 0x9b and
  OSC 0x9d), ``\\uNNNN`` / ``\\UNNNNNNNN`` for the rest.
* Only the introducer of an escape sequence is a control character; the printable remainder
  (``[2J``, ``]52;c;...``) is shown as it is, so ``ESC[2J`` appears as ``\\x1b[2J``: harmless,
  and exactly what was sent.
* Unsafe beyond the controls: every invisible or layout-changing character (Unicode "format"
  characters, among them the bidi embeddings, overrides and isolates U+202A–U+202E and
  U+2066–U+2069, the marks U+200E/U+200F/U+061C, zero-width characters, the BOM, the soft hyphen
  and the tag characters), the line and paragraph separators U+2028/U+2029, and lone surrogates.
* A lone surrogate U+DC80–U+DCFF is how Python's ``surrogateescape`` carries an undecodable byte;
  it is shown as that byte, ``\\xNN``. Other lone surrogates (which cannot even be encoded for
  output) are shown as ``\\udNNN``.
* A backslash is left as it is: escapes are for reading, not for decoding back, and doubling
  every backslash would make Windows paths and ``%5C`` decoders' output harder to read.
* Lengths are measured in terminal cells (a CJK character takes two), because their purpose is
  to keep columns aligned. A string cut to ``max_length`` ends with ``…``; the cut is made
  after escaping, so the result never exceeds ``max_length`` cells.
* :func:`clean_text` returns a :class:`rich.text.Text`, which rich never parses as markup:
  ``[bold red]`` in a path stays literal text.
* rich is imported only when a string is cut or a :class:`~rich.text.Text` is made, so that
  :func:`clean` without ``max_length`` (the console scripts' error messages) loads no terminal
  library.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from rich.text import Text

ELLIPSIS = "…"

UNSAFE_CHARACTERS = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 controls
    "\u00ad\u061c\u180e"  # soft hyphen, Arabic letter mark, Mongolian vowel separator
    "\u200b-\u200f"  # zero-width space/non-joiner/joiner, LRM, RLM
    "\u2028-\u202e"  # line/paragraph separators, bidi embeddings and overrides
    "\u2060-\u206f"  # word joiner, invisible operators, bidi isolates, deprecated formats
    "\ufeff\ufff9-\ufffb"  # BOM / zero-width no-break space, interlinear annotation
    "\ud800-\udfff"  # lone surrogates (undecodable bytes under surrogateescape)
    "\U000e0000-\U000e007f"  # tag characters
    "]"
)
"""Characters that must never reach a terminal raw (see the module documentation)."""

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _cut(text: str, max_length: int) -> str:
    """``text`` cut to at most ``max_length`` terminal cells, ending in an ellipsis when cut."""
    from rich.cells import cell_len, get_character_cell_size

    if cell_len(text) <= max_length:
        return text
    budget = max_length - 1
    width = 0
    for index, char in enumerate(text):
        width += get_character_cell_size(char)
        if width > budget:
            return text[:index] + ELLIPSIS
    return text  # pragma: no cover - cell_len said it was too long


def clean(text: str, max_length: Optional[int] = None) -> str:
    """``text`` with every unsafe character replaced by a visible escape, optionally cut.

    :param max_length: at most this many terminal cells (at least 1); a longer result is cut
        and ends with ``…``. None keeps the whole string.
    :raises ValueError: for a ``max_length`` below 1.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, not {max_length!r}")
    if UNSAFE_CHARACTERS.search(text) is not None:
        text = UNSAFE_CHARACTERS.sub(_escape, text)
    return text if max_length is None else _cut(text, max_length)


def clean_text(text: str, max_length: Optional[int] = None, style: str = "") -> Text:
    """:func:`clean` as a rich :class:`~rich.text.Text` in ``style``: never read as markup."""
    from rich.text import Text

    return Text(clean(text, max_length), style=style, no_wrap=True, overflow="ellipsis")
