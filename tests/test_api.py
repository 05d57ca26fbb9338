"""The public API: every documented name importable from ``monilog``, and the import is light."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import unittest

import monilog


class PublicApiTest(unittest.TestCase):
    def test_every_public_name_is_importable_from_the_package(self) -> None:
        self.assertIn("Alerter", dir(monilog))
        for name in monilog.__all__:
            with self.subTest(name=name):
                self.assertIsNotNone(getattr(monilog, name))
        self.assertEqual(set(monilog.__all__), set(monilog._HOMES) | {"__version__"})
        with self.assertRaises(AttributeError):
            monilog.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018

    def test_names_are_the_objects_of_their_home_modules(self) -> None:
        from monilog.accumulation.alerter import ALERT, RECOVER, Alerter
        from monilog.outputs.sink import Sink
        from monilog.replayer import replay
        from monilog.run import follow

        self.assertIs(monilog.Alerter, Alerter)
        self.assertIs(monilog.Sink, Sink)
        self.assertIs(monilog.replay, replay)
        self.assertIs(monilog.follow, follow)
        self.assertEqual((monilog.ALERT, monilog.RECOVER), (ALERT, RECOVER))

    def test_importing_the_alert_rule_loads_no_terminal_library_or_threads(self) -> None:
        code = ("import sys; from monilog import Alerter; Alerter(10, 120).observe(0); "
                "print(sorted(m for m in ('rich', 'threading', 'monilog.monitor', 'dateutil') if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(done.stdout.strip(), "[]")

    def test_the_monitoring_command_line_is_read_without_loading_the_monitor_or_its_outputs(self) -> None:
        # --version, --help and argument errors must start fast: nothing heavy before parse_args
        heavy = ("monilog.monitor", "monilog.replayer", "monilog.watcher", "monilog.run", "monilog.outputs.webhook",
                 "monilog.parsing.parser", "http.client", "ssl", "rich")
        code = ("import contextlib, io, sys; from monilog.cli.monitoring import build_parser, main; build_parser(); "
                "error = io.StringIO()\n"
                "with contextlib.redirect_stderr(error): status = main(['--window', '0'])\n"
                "assert status == 2 and error.getvalue().count('\\n') == 1, (status, error.getvalue())\n"
                f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertEqual(done.stdout.strip(), "[]")

    def test_version_and_help_load_only_the_command_lines_modules(self) -> None:
        # what --help names (formats, presets, webhook timeouts, the generator's formats) comes from
        # plain constants: not from the format compiler, the filters, the outputs or the generator
        light = {"monilog", "monilog.lazy", "monilog.version", "monilog.cli", "monilog.cli.command",
                 "monilog.parsing", "monilog.parsing.formats"}
        commands = {
            # --version says whether the C accelerator is used: its loader and the small extension
            "monitoring": light | {"monilog.cli.monitoring", "monilog.cli.demo", "monilog.cli.integrations",
                                   "monilog.outputs", "monilog.outputs.sink", "monilog.outputs.webhooktimes",
                                   "monilog.accelerator", "monilog._speedups"},
            "log_generator": light | {"monilog.cli.log_generator", "monilog.generator", "monilog.generator.choices"},
        }
        for command, allowed in commands.items():
            for option in ("--version", "--help"):
                with self.subTest(command=command, option=option):
                    code = (f"import contextlib, io, sys; from monilog.cli.{command} import main\n"
                            "with contextlib.redirect_stdout(io.StringIO()):\n"
                            "    try:\n"
                            f"        main([{option!r}])\n"
                            "    except SystemExit as end:\n"
                            "        assert end.code == 0, end.code\n"
                            "print(sorted(m for m in sys.modules if m.startswith('monilog') or m in ('dateutil', 'rich')))")
                    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
                    self.assertEqual((done.returncode, done.stderr), (0, ""))
                    self.assertEqual(set(ast.literal_eval(done.stdout)) - allowed, set())

    def test_the_log_generator_command_line_is_read_without_loading_dateutil(self) -> None:
        code = ("import sys; from monilog.cli.log_generator import build_parser; build_parser(); "
                "print(sorted(m for m in ('dateutil', 'monilog.accumulation.alerter', 'rich') if m in sys.modules))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(done.stdout.strip(), "[]")

    def test_version_has_its_own_module_and_the_package_is_typed(self) -> None:
        version = importlib.import_module("monilog.version")
        self.assertEqual(monilog.__version__, version.__version__)
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(monilog.__file__), "py.typed")))


if __name__ == "__main__":
    unittest.main()
