"""The README is the front door: its example runs and prints what it says, its commands are real."""

from __future__ import annotations

import contextlib
import io
import os
import re
import unittest

from monilog.parsing.formats import FORMATS
from monilog.parsing.logformat import ALIASES, PRESETS, compile_format

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name: str) -> str:
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return handle.read()


class ReadmeTest(unittest.TestCase):
    def test_library_example_prints_what_the_readme_says(self) -> None:
        readme = read("README.md")
        match = re.search(r"```python\n(.*?)```\n\nprints\n\n```text\n(.*?)```", readme, re.S)
        self.assertIsNotNone(match, "the README lost its library example")
        code, expected = match.group(1), match.group(2)  # type: ignore[union-attr]
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
        self.assertEqual(output.getvalue(), expected)

    def test_the_quick_start_is_two_commands_the_first_running_the_demo(self) -> None:
        match = re.search(r"## Quick start\n.*?```sh\n(.*?)```", read("README.md"), re.S)
        assert match is not None, "the README lost its quick start"
        commands = [line for line in match.group(1).splitlines() if line and not line.startswith("#")]
        self.assertEqual(len(commands), 2)
        self.assertTrue(commands[0].startswith("python3 -m venv .venv && "))
        self.assertTrue(commands[0].endswith("pip install . && monitoring --demo"))
        self.assertIn("pip install -e '.[test]' && nosetests", commands[1])
        from monilog.cli.monitoring import build_parser

        self.assertTrue(build_parser().parse_args(["--demo"]).demo)

    def test_ci_runs_exactly_the_readme_test_command(self) -> None:
        match = re.search(r"pip install -e '\.\[test\]' && (nosetests[^\n`]*)", read("README.md"))
        self.assertIsNotNone(match, "the README gives no nosetests command")
        command = match.group(1).strip()  # type: ignore[union-attr]
        self.assertIn("--with-coverage --cover-package=monilog", command)
        ci_lines = [line.strip() for line in read(".ci/run").splitlines()]
        self.assertIn(command, ci_lines)


class ReadmePresetsTest(unittest.TestCase):
    def test_every_preset_the_readme_names_compiles_and_every_preset_is_named(self) -> None:
        readme = read("README.md")
        row = re.search(r"^\| `--log-format FORMAT`[^|]*\| a preset \(([^)]*)\)", readme, re.M)
        listing = re.search(r"^- \*\*Presets\*\*.*?(?=^- )", readme, re.M | re.S)
        assert row is not None, "the README lost its --log-format row"
        assert listing is not None, "the README lost its Presets list"
        heads = re.findall(r"^  - ((?:`\w+`(?:, |/| with | and | as other names)*)+)", listing.group(0), re.M)
        named = set(re.findall(r"`(\w+)`", row.group(1) + " ".join(heads)))
        for name in sorted(named - set(FORMATS)):
            with self.subTest(name=name):
                compile_format(name)  # FormatError if the README names a preset that is not one
        presets = set(PRESETS) | set(ALIASES) | {"json"}
        self.assertEqual(presets | set(FORMATS), named)
        self.assertEqual({name for name in presets if f"`{name}`" not in listing.group(0)}, set())
