"""The section rule, case by case."""

from __future__ import annotations

import json
import subprocess
import sys
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


ONE_HOME = r"""
import io, json, os, sys, tempfile
import monilog.parsing.section as rule
rule.section_of = lambda target: "/changed" if len(target) % 2 else "/unchanged"
from monilog.generator import LogGenerator
from monilog.monitor import Monitor
from monilog.outputs.console import JsonSink
from monilog.replayer import ReplayTuning, replay

lines = [line for _, line in LogGenerator([50], [200], seed=2, start=1_714_560_000).timeline()]
lines.append('10.0.0.1 - - [01/May/2024:10:03:20 +0000] "GET http://x/pages/a HTTP/1.1" 200 5')  # reference parser
path = os.path.join(tempfile.mkdtemp(), "access.log")
with open(path, "w") as stream:
    stream.write("\n".join(lines) + "\n")
outputs = []
for way in ("live", "replay"):
    output = io.StringIO()
    monitor = Monitor(10, 120, 10, sinks=[JsonSink(output, top=100)])
    if way == "live":
        for start in range(0, len(lines), 97):
            monitor.feed(path, [line.encode() for line in lines[start:start + 97]])
        monitor.finish()
    else:
        replay(monitor, [path], tuning=ReplayTuning(workers=2, in_process_bytes=0, chunk_bytes=100_000,
                                                   min_chunk_bytes=100_000))
    summary = json.loads(output.getvalue().splitlines()[-1])
    outputs.append(sorted((entry["section"], entry["hits"]) for entry in summary["sections"]))
print(json.dumps(outputs))
"""


class OneHomeTest(unittest.TestCase):
    def test_changing_the_rule_in_its_module_changes_live_and_replay_alike(self) -> None:
        done = subprocess.run([sys.executable, "-c", ONE_HOME], capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        live, replayed = json.loads(done.stdout)
        self.assertEqual(live, replayed)
        self.assertEqual({section for section, _ in live}, {"/changed", "/unchanged"})


if __name__ == "__main__":
    unittest.main()
