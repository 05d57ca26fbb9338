"""Log-derived strings never reach the terminal with control or layout-changing characters."""

from __future__ import annotations

import io
import unittest

from rich.cells import cell_len
from rich.console import Console

from monilog.presentation.sanitize import UNSAFE_CHARACTERS, clean, clean_text


def _has_raw_controls(text: str) -> bool:
    return any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in text)


class CleanTest(unittest.TestCase):
    def test_plain_text_is_unchanged(self) -> None:
        for text in ("/api/users", "", "GET", "10.0.0.1", "/caf\u00e9/\u65e5\u672c", "C:\\dir\\file"):
            self.assertEqual(clean(text), text)

    def test_clear_screen_sequence_is_shown_escaped(self) -> None:
        self.assertEqual(clean("/a\x1b[2J/b"), "/a\\x1b[2J/b")

    def test_osc52_clipboard_write_is_neutralised(self) -> None:
        cleaned = clean("/x\x1b]52;c;ZWNobyBwd25lZA==\x07")
        self.assertEqual(cleaned, "/x\\x1b]52;c;ZWNobyBwd25lZA==\\x07")
        self.assertFalse(_has_raw_controls(cleaned))

    def test_c1_csi_and_osc_are_escaped(self) -> None:
        self.assertEqual(clean("a\x9b31mb\x9dc"), "a\\x9b31mb\\x9dc")

    def test_newlines_and_tabs_in_a_path_stay_on_one_line(self) -> None:
        cleaned = clean("/evil\nFAKE LOG LINE\r\tend")
        self.assertEqual(cleaned, "/evil\\nFAKE LOG LINE\\r\\tend")
        self.assertEqual(len(cleaned.splitlines()), 1)

    def test_every_c0_c1_and_del_is_escaped(self) -> None:
        controls = "".join(map(chr, list(range(0x20)) + list(range(0x7F, 0xA0))))
        self.assertFalse(_has_raw_controls(clean(controls)))

    def test_bidi_overrides_and_isolates_are_escaped(self) -> None:
        self.assertEqual(clean("/gpj\u202eexe."), "/gpj\\u202eexe.")
        for char in "\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c":
            self.assertNotIn(char, clean(f"a{char}b"))

    def test_invisible_and_line_separator_characters_are_escaped(self) -> None:
        for char in "\u200b\u200d\ufeff\u2028\u2029\u00ad\U000e0041":
            cleaned = clean(f"a{char}b")
            self.assertNotIn(char, cleaned)
            self.assertIn("\\", cleaned)

    def test_undecodable_byte_is_shown_as_that_byte(self) -> None:
        raw = b"/caf\xe9".decode("utf-8", "surrogateescape")
        cleaned = clean(raw)
        self.assertEqual(cleaned, "/caf\\xe9")
        cleaned.encode("utf-8")  # would raise on a lone surrogate

    def test_cut_to_max_length_with_ellipsis(self) -> None:
        self.assertEqual(clean("/abcdefghij", 6), "/abcd…")
        self.assertEqual(clean("/abc", 4), "/abc")
        self.assertEqual(clean("/abcd", 1), "…")

    def test_cut_counts_terminal_cells_and_escapes(self) -> None:
        cut = clean("\u65e5\u672c\u8a9e\u65e5\u672c\u8a9e", 7)
        self.assertLessEqual(cell_len(cut), 7)
        self.assertTrue(cut.endswith("…"))
        cut = clean("\x1b\x1b\x1b", 6)
        self.assertEqual(cut, "\\x1b\\…")

    def test_bad_max_length_is_rejected(self) -> None:
        with self.assertRaises(ValueError):
            clean("x", 0)

    def test_unsafe_pattern_leaves_printable_text_alone(self) -> None:
        self.assertIsNone(UNSAFE_CHARACTERS.search("GET /index.html HTTP/1.1 \u00e9\u4e2d \U0001f600"))


class CleanTextTest(unittest.TestCase):
    def _render(self, text: str) -> str:
        console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system="truecolor")
        console.print(clean_text(text))
        return console.file.getvalue()  # type: ignore[attr-defined]

    def test_markup_in_log_content_is_literal(self) -> None:
        self.assertEqual(clean_text("/[bold red]x[/]").plain, "/[bold red]x[/]")
        self.assertIn("[bold red]x[/]", self._render("/[bold red]x[/]"))

    def test_escape_sequence_never_reaches_the_terminal(self) -> None:
        output = self._render("/a\x1b[2J\x1b]52;c;AAAA\x07")
        self.assertNotIn("\x1b[2J", output)
        self.assertNotIn("\x1b]52", output)
        self.assertIn("\\x1b[2J", output)


if __name__ == "__main__":
    unittest.main()
