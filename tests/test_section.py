"""The section rule, case by case."""

from __future__ import annotations

import unittest

from hypothesis import given
from hypothesis import strategies as st

from monilog.parsing import section_of

CASES = (
    # the rule as specified
    ("/pages/create", "/pages"),
    ("/report", "/report"),
    ("/", "/"),
    ("/api?x=1", "/api"),
    ("http://my.site.com/pages/create", "http://my.site.com/pages"),
    # query and fragment never count, even when they contain slashes
    ("/api?next=/a/b", "/api"),
    ("/api/v1?x=1", "/api"),
    ("/docs#part/2", "/docs"),
    ("/docs/intro#top", "/docs"),
    ("/?x=/y", "/"),
    ("/#/route", "/"),
    ("/a?b#c/d", "/a"),
    # trailing slash and empty segments
    ("/pages/", "/pages"),
    ("/pages//x", "/pages"),
    ("//x/y", "/"),
    # absolute URLs
    ("http://my.site.com", "http://my.site.com/"),
    ("http://my.site.com/", "http://my.site.com/"),
    ("http://my.site.com?q=/a/b", "http://my.site.com/"),
    ("https://my.site.com:8443/pages/", "https://my.site.com:8443/pages"),
    ("http://my.site.com/report?x=1", "http://my.site.com/report"),
    ("HTTP://My.Site.com/Pages/x", "HTTP://My.Site.com/Pages"),
    # other request-target forms
    ("*", "*"),
    ("host:443", "host:443"),
    ("example.com:443", "example.com:443"),
    ("\\x16\\x03\\x01\\x00", "\\x16\\x03\\x01\\x00"),
    ("foo/bar/baz", "foo"),
    # kept as logged: percent-encoding, case, odd characters
    ("/a%2Fb/c", "/a%2Fb"),
    ("/%7Euser/index.html", "/%7Euser"),
    ("/Pages/create", "/Pages"),
    ("/caf\u00e9/menu", "/caf\u00e9"),
    ("/a b/c", "/a b"),
    # nothing to name
    ("", "-"),
    ("-", "-"),
    ("?x=1", "-"),
    ("#top", "-"),
)


class SectionTest(unittest.TestCase):
    def test_table(self) -> None:
        for target, section in CASES:
            with self.subTest(target=target):
                self.assertEqual(section_of(target), section)

    @given(st.text(alphabet=st.characters(blacklist_characters="/?#"), min_size=1), st.text())
    def test_first_segment_of_a_path(self, segment: str, rest: str) -> None:
        self.assertEqual(section_of(f"/{segment}/{rest}"), f"/{segment}")
        self.assertEqual(section_of(f"/{segment}?{rest}"), f"/{segment}")

    @given(st.text())
    def test_section_is_a_prefix_of_the_target_or_a_marker(self, target: str) -> None:
        section = section_of(target)
        self.assertTrue(section)
        self.assertTrue(
            target.startswith(section) or section == "-" or section == target.split("?")[0].split("#")[0] + "/",
            (target, section),
        )


if __name__ == "__main__":
    unittest.main()
