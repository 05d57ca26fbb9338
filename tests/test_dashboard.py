"""The live dashboard rendered to fixed-size virtual consoles, and its sparkline."""

from __future__ import annotations

import dataclasses
import io
import re
import unittest
from typing import List
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console

from monilog.accumulation.alerter import Alerter
from monilog.accumulation.report import LiveView
from monilog.accumulation.statistics import Statistics
from monilog.presentation import dashboard as dashboard_module
from monilog.presentation.dashboard import BLOCKS, Dashboard, render_dashboard, sparkline_rows, sparkline_values
from monilog.presentation.text import format_seconds
from tests.presentation_samples import (
    PAGES_DURATION,
    alerter_with_history,
    earlier_run_events,
    live_view,
    report,
    sample_snapshot,
    state,
)

VHOSTS = ("www.example.com", "api.example.com", "static.example.org")


def emulated(output: str, height: int) -> List[str]:
    """The text a terminal shows after ``output``, for the controls the dashboard sends: a clear,
    then lines written from the start of a row (colours left out)."""
    rows: List[str] = [""] * 200  # more than any screen here
    row = None
    for part in re.split(r"(\x1b\[2J|\x1b\[\d+;1H)", output.split("\x1b[?1049h")[-1]):
        if part == "\x1b[2J":
            rows, row = [""] * 200, None
        elif re.fullmatch(r"\x1b\[\d+;1H", part):
            row = int(part[2:].split(";")[0]) - 1
        elif row is not None:
            rows[row] = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", part)
    return plain(rows[:height])


def plain(lines: List[str]) -> List[str]:
    return [line.rstrip() for line in lines]


def _screen(view: LiveView, width: int, height: int) -> List[str]:
    """The dashboard as the lines of a ``width`` × ``height`` plain console."""
    console = Console(file=io.StringIO(), width=width, height=height, force_terminal=False, record=True)
    console.print(render_dashboard(view))
    text = console.export_text()
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


class DashboardScreenTest(unittest.TestCase):
    def setUp(self) -> None:
        self.alerter, _ = alerter_with_history(ongoing=True)
        self.view = live_view(self.alerter, earlier=earlier_run_events())

    def _assert_fits(self, lines: List[str], width: int, height: int) -> None:
        self.assertLessEqual(len(lines), height)
        for line in lines:
            self.assertLessEqual(cell_len(line), width, line)

    def test_80x24_shows_state_traffic_sections_and_history(self) -> None:
        lines = _screen(self.view, 80, 24)
        self._assert_fits(lines, 80, 24)
        screen = "\n".join(lines)
        self.assertIn("/var/log/nginx/access.log", lines[0])
        self.assertIn("log 2024-05-01 ", lines[0])
        self.assertIn(" ALERT ", screen)
        self.assertIn("threshold 10/s", screen)
        self.assertIn("┄10/s", screen)  # the threshold on the chart's axis
        self.assertIn(f"avg {self.alerter.average:.2f}/s", screen)
        for section in ("/api", "/pages"):
            self.assertIn(section, screen)
        self.assertLess(screen.index("/api"), screen.index("/pages"))
        self.assertIn("200", screen)
        self.assertIn("192.168.1.9", screen)
        first_alert, first_recovery, ongoing = self.alerter.history
        history = [line for line in lines if ongoing.time.strftime("%H:%M:%S") in line and "ongoing" in line]
        self.assertEqual(len(history), 1)
        peak = self.alerter.peak_hits / self.alerter.window  # type: ignore[operator]
        self.assertIn(f" {peak:.1f}/s", history[0])  # the ongoing alert's exact peak so far
        self.assertTrue(any(first_alert.time.strftime("%H:%M:%S") in line
                            and first_recovery.time.strftime("%H:%M:%S") in line for line in lines))
        self.assertTrue(any("prev" in line and "04-30" in line for line in lines))
        self.assertIn("lines 1234", lines[-1])
        self.assertIn("skipped 3", lines[-1])

    def test_history_is_newest_first(self) -> None:
        screen = "\n".join(_screen(self.view, 80, 24))
        self.assertLess(screen.index("ongoing"), screen.index("04-30"))

    def test_160x48_uses_the_room(self) -> None:
        lines = _screen(self.view, 160, 48)
        self._assert_fits(lines, 160, 48)
        self.assertEqual(len(lines), 48)
        screen = "\n".join(lines)
        for text in ("Top clients", "since start", "Since start", "earlier", "peak hits", "-2m00s", "now"):
            self.assertIn(text, screen)
        self.assertIn("/x\\x1b[2J\\x1b]52;c;cHduZWQ=\\x07\\u202e[bold]", screen)
        chart_rows = [line for line in lines if "█" in line]
        self.assertGreater(len(chart_rows), 2)

    def test_recovered_state(self) -> None:
        alerter, _ = alerter_with_history(ongoing=False)
        screen = "\n".join(_screen(live_view(alerter), 80, 24))
        self.assertIn(" OK ", screen)
        self.assertNotIn("ALERT", screen)
        self.assertNotIn("ongoing", screen)
        self.assertNotIn("prev", screen)

    def test_small_and_odd_sizes_degrade_without_overflowing(self) -> None:
        for width, height in ((60, 20), (50, 16), (80, 12), (40, 8), (100, 40), (200, 60)):
            with self.subTest(width=width, height=height):
                lines = _screen(self.view, width, height)
                self._assert_fits(lines, width, height)
                self.assertIn("ALERT", "\n".join(lines))

    def test_explicit_size_overrides_the_console(self) -> None:
        console = Console(file=io.StringIO(), width=200, height=60, force_terminal=False, record=True)
        console.print(render_dashboard(self.view, width=80, height=24))
        lines = console.export_text().rstrip("\n").split("\n")
        self._assert_fits(lines, 80, 24)

    def test_nothing_reaches_the_terminal_raw(self) -> None:
        console = Console(file=io.StringIO(), width=160, height=48, force_terminal=True, color_system="truecolor")
        console.print(render_dashboard(self.view))
        output = console.file.getvalue()  # type: ignore[attr-defined]
        for raw in ("\x1b[2J", "\x1b]52", "\x07", "\u202e", "\x1b[31mevil"):
            self.assertNotIn(raw, output)
        self.assertIn("[bold]", output)  # markup in a path is shown, not applied

    def test_before_the_first_line(self) -> None:
        empty = Statistics().snapshot()
        alerter = Alerter(10, 120)
        view = LiveView(files=("-",), uptime=0.5, clock=None, current_rps=0.0, per_second=tuple(alerter.per_second()),
                        alert=state(alerter), last_report=None, current=empty, total=empty, history=(),
                        earlier_alerts=0, lines=0, parsed=0, top=5)
        lines = _screen(view, 80, 24)
        self._assert_fits(lines, 80, 24)
        screen = "\n".join(lines)
        self.assertIn("waiting for the first line", screen)
        self.assertIn("no alerts so far", screen)
        self.assertIn(" OK ", screen)


class DashboardLatencyVhostsTest(unittest.TestCase):
    SIZES = ((80, 24), (120, 40))

    def setUp(self) -> None:
        self.alerter, _ = alerter_with_history(ongoing=True)

    def screen(self, width: int, height: int, **options: object) -> List[str]:
        lines = _screen(live_view(self.alerter, earlier=earlier_run_events(), **options), width, height)
        self.assertLessEqual(len(lines), height)
        for line in lines:
            self.assertLessEqual(cell_len(line), width, line)
        return lines

    @staticmethod
    def row(lines: List[str], start: str) -> str:
        """The first line whose content (inside the panel border) starts with ``start``."""
        return next(line for line in lines if line.lstrip("│╭ ").startswith(start))

    def test_latency_panel_and_p95_column(self) -> None:
        stats = sample_snapshot(timed=True, upstream=True)
        assert stats.latency is not None and stats.upstream_latency is not None
        for width, height in self.SIZES:
            with self.subTest(width=width, height=height):
                lines = self.screen(width, height, timed=True, upstream=True)
                screen = "\n".join(lines)
                self.assertIn("Latency 12:00:00–12:00:10", screen)
                header = self.row(lines, "p50 ").split()
                self.assertEqual(header[header.index("p50"):header.index("count") + 1],
                                 ["p50", "p90", "p95", "p99", "max", "mean", "count"])
                summary = stats.latency.summary()
                assert summary is not None
                expected = [format_seconds(summary[key]) for key in ("p50", "p90", "p95", "p99", "max", "mean")]  # type: ignore[literal-required]
                self.assertEqual(self.row(lines, "request ").strip("│ ").split(), ["request", *expected, "900"])
                sections = self.row(lines, "section ")
                self.assertIn(" p95 ", sections)
                api = stats.section_latency["/api"].quantile(0.95)
                assert api is not None
                self.assertIn(f" {format_seconds(api)} ", self.row(lines, "/api "))
                self.assertIn(f" {format_seconds(PAGES_DURATION)} ", self.row(lines, "/pages "))
                self.assertRegex(self.row(lines, "/s0 "), r" - ")  # a section without durations
        upstream = self.row(self.screen(120, 40, timed=True, upstream=True), "upstream ")
        self.assertEqual(upstream.split("│")[1].split(), ["upstream", *["200ms"] * 6, "300"])

    def test_the_figures_are_those_of_the_period_shown(self) -> None:
        view = live_view(self.alerter, timed=True)
        untimed = view._replace(last_report=report(sample_snapshot(), alerting=True))  # the run had durations before
        lines = _screen(untimed, 120, 40)
        self.assertIn("no durations in this period", "\n".join(lines))
        self.assertRegex(self.row(lines, "/api "), r"\s-\s")

    def test_no_panel_nor_column_without_durations_or_vhosts(self) -> None:
        for width, height in (*self.SIZES, (60, 20), (160, 48)):
            with self.subTest(width=width, height=height):
                plain = self.screen(width, height)
                for text in ("Latency", "p95", "Virtual hosts", "vhost"):
                    self.assertNotIn(text, "\n".join(plain))
                self.assertEqual(self.screen(width, height, vhosts=VHOSTS[:1]), plain)  # one vhost is no news

    def test_vhosts_panel(self) -> None:
        stats = sample_snapshot(vhosts=VHOSTS)
        for width, height, listed in ((80, 24, 1), (100, 30, 3), (120, 40, 3)):
            with self.subTest(width=width, height=height):
                lines = self.screen(width, height, vhosts=VHOSTS)
                self.assertIn("Virtual hosts 12:00:00–12:00:10", "\n".join(lines))
                self.assertNotIn("Latency", "\n".join(lines))
                for name, vhost in stats.top_vhosts(listed):
                    self.assertEqual(self.row(lines, name + " ").split("│")[1].split(),
                                     [name, str(vhost.hits), str(vhost.errors)])

    def test_latency_and_vhosts_side_by_side_when_wide(self) -> None:
        lines = self.screen(120, 40, timed=True, upstream=True, vhosts=VHOSTS)
        self.assertTrue(any("Latency" in line and "Virtual hosts" in line for line in lines))
        upstream = self.row(lines, "upstream ")  # both latency rows stay, beside the vhosts
        self.assertTrue(any(name in upstream for name in VHOSTS), upstream)
        for name in VHOSTS:
            self.assertTrue(any(name in line for line in lines), name)

    def test_every_size_fits(self) -> None:
        for width, height in ((80, 24), (120, 40), (60, 20), (50, 16), (80, 12), (40, 8), (100, 40), (200, 60)):
            with self.subTest(width=width, height=height):
                lines = self.screen(width, height, timed=True, upstream=True, vhosts=VHOSTS)
                self.assertIn("ALERT", "\n".join(lines))
                self.assertIn("lines 1234", "\n".join(lines))  # the footer


class DashboardRulesTest(unittest.TestCase):
    def test_the_state_line_counts_the_rules_alerting(self) -> None:
        from monilog.accumulation.report import RuleState

        view = live_view(alerter_with_history()[0])
        plain = "\n".join(_screen(view, 120, 40))
        self.assertNotIn("rules", plain)
        rules = (RuleState("server_errors > 5% over 5m", 0.08, 0.05, ("",)), RuleState("rate by client > 5 over 1m", 2.0, 5.0, ()))
        assert view.last_report is not None
        view = view._replace(last_report=view.last_report._replace(rules=rules))
        wide = _screen(view, 120, 40)
        screen = "\n".join(wide)
        self.assertIn("rules 1/2 alerting", screen)
        row = next(line for line in wide if "server_errors > 5% over 5m" in line)
        self.assertRegex(row, r"0\.08\s.*0\.05\s.*ALERT")  # its value, its limit, its state
        self.assertRegex(next(line for line in wide if "rate by client > 5" in line), r"2\s.*5\s.*OK")
        for width, height in ((80, 24), (120, 40)):
            lines = _screen(view, width, height)
            self.assertLessEqual(len(lines), height)
            self.assertTrue(all(cell_len(line) <= width for line in lines))


def sparkline_cells(values: List[float], rows: int, threshold: float, scale: float) -> List[List[tuple]]:
    """The sparkline's (character, colour) cells, top row first, by its definition cell by cell."""
    threshold_row = min(rows - 1, int(threshold / scale * rows)) if scale > 0 else 0
    out = []
    for row in range(rows - 1, -1, -1):
        cells = []
        for value in values:
            level = value / scale * rows * 8 if scale > 0 else 0.0
            fill = min(8, max(0, round(level - row * 8)))
            if row == 0 and value > 0 and fill == 0:
                fill = 1
            if fill:
                cells.append((BLOCKS[fill], "red" if value > threshold else "green"))
            else:
                cells.append(("┄", "yellow") if row == threshold_row else (" ", ""))
        out.append(cells)
    return out


class SparklineTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.integers(0, 80).map(float), st.floats(0, 80), st.sampled_from([2.5, 12.5, 0.0625])), max_size=40),
           st.integers(1, 14), st.sampled_from([10.0, 0.5, 20.0, 33.3]), st.sampled_from([0.0, 10.0, 20.0, 62.5, 100.0]))
    def test_each_cell_as_defined(self, values: List[float], rows: int, threshold: float, scale: float) -> None:
        lines = sparkline_rows(values, rows, threshold, scale)
        drawn = [[(line.plain[index], next((str(span.style) for span in line.spans if span.start <= index < span.end), ""))
                  for index in range(len(line.plain))] for line in lines]
        self.assertEqual(drawn, sparkline_cells(values, rows, threshold, scale))

    def test_one_column_per_second_when_it_fits(self) -> None:
        self.assertEqual(sparkline_values([1, 2, 3], 10), [1.0, 2.0, 3.0])

    def test_seconds_are_averaged_from_the_newest_backwards(self) -> None:
        values = sparkline_values(list(range(120)), 67)
        self.assertEqual(len(values), 60)
        self.assertEqual(values[-1], (118 + 119) / 2)
        self.assertEqual(values[0], (0 + 1) / 2)
        self.assertEqual(sparkline_values([4, 1, 2, 3, 4], 2), [(4 + 1) / 2, 3.0])

    def test_empty(self) -> None:
        self.assertEqual(sparkline_values([], 10), [])

    def test_heights_colours_and_threshold_rule(self) -> None:
        rows = sparkline_rows([0.0, 1.0, 20.0, 40.0], rows=2, threshold=20.0, scale=40.0)
        top, bottom = (row.plain for row in rows)
        self.assertEqual(top, "┄┄┄█")  # 20/s is the top of the lower row: the rule is drawn above it
        self.assertEqual(bottom, " ▁██")
        def style_at(index: int) -> str:
            return next(str(span.style) for span in rows[1].spans if span.start <= index < span.end)

        self.assertEqual(style_at(2), "green")  # at the threshold is not above it
        self.assertEqual(style_at(3), "red")
        self.assertEqual(rows[0].plain[3], BLOCKS[-1])


class DashboardLiveTest(unittest.TestCase):
    def test_start_update_stop_on_the_alternate_screen(self) -> None:
        output = io.StringIO()
        console = Console(file=output, width=80, height=24, force_terminal=True, color_system="standard")
        alerter, _ = alerter_with_history()
        dashboard = Dashboard(console=console)
        dashboard.start()
        self.addCleanup(dashboard.stop)
        dashboard.update(live_view(alerter))
        self.assertIn("Top sections", output.getvalue())  # drawn at once, by the caller's thread
        dashboard.stop()
        text = output.getvalue()
        self.assertIn("\x1b[?1049h", text)  # alternate screen on...
        self.assertTrue(text.endswith("\x1b[?1049l"))  # ...and off again

    def test_it_draws_only_a_new_view_or_a_new_size(self) -> None:
        output = io.StringIO()
        console = Console(file=output, width=80, height=24, force_terminal=True, color_system="standard")
        dashboard = Dashboard(console=console)
        with dashboard:
            dashboard.update(live_view(alerter_with_history()[0]))
            drawn = len(output.getvalue())
            self.assertFalse(dashboard.redraw_if_resized())
            self.assertEqual(len(output.getvalue()), drawn)  # nothing changed: nothing drawn
            console.size = (100, 30)
            self.assertTrue(dashboard.redraw_if_resized())
            self.assertGreater(len(output.getvalue()), drawn)
            self.assertFalse(dashboard.redraw_if_resized())

    def test_a_new_view_rewrites_only_the_lines_that_changed_and_the_screen_shows_it(self) -> None:
        output = io.StringIO()
        console = Console(file=output, width=120, height=40, force_terminal=True, color_system="256")
        alerter = alerter_with_history()[0]
        first = live_view(alerter)
        later = first._replace(lines=first.lines + 1, uptime=first.uptime + 60)  # the header and footer change
        with Dashboard(console=console) as dashboard:
            dashboard.update(first)
            self.assertEqual(emulated(output.getvalue(), 40), plain(_screen(first, 120, 40)))
            drawn = len(output.getvalue())
            dashboard.update(first._replace())  # another view object, the same screen
            self.assertEqual(len(output.getvalue()), drawn)
            dashboard.update(later)
            rewritten = output.getvalue()[drawn:]
            self.assertEqual(emulated(output.getvalue(), 40), plain(_screen(later, 120, 40)))
            self.assertEqual(len(re.findall(r"\x1b\[\d+;1H", rewritten)), 2)  # the header's line and the footer's
            console.size = (120, 30)  # a new height: the screen is cleared, every line drawn again
            self.assertTrue(dashboard.redraw_if_resized())
            self.assertEqual(emulated(output.getvalue(), 30), plain(_screen(later, 120, 30)))

    def test_every_line_is_written_again_now_and_then_and_nothing_outside_start_and_stop(self) -> None:
        output = io.StringIO()
        console = Console(file=output, width=80, height=24, force_terminal=True, color_system="standard")
        view = live_view(alerter_with_history()[0])
        dashboard = Dashboard(console=console)
        dashboard.update(view)
        self.assertEqual(output.getvalue(), "")  # not started
        with mock.patch.object(dashboard_module, "FULL_DRAW_EVERY", 3):
            dashboard.start()
            dashboard.update(view)  # the second draw: the same screen, nothing written
            drawn = len(output.getvalue())
            dashboard.update(view)  # the third: every line again
            self.assertEqual(len(re.findall(r"\x1b\[\d+;1H", output.getvalue()[drawn:])), 24)
        dashboard.stop()
        stopped = len(output.getvalue())
        dashboard.update(view)
        self.assertEqual(len(output.getvalue()), stopped)  # stopped: nothing drawn on the normal screen
        dashboard.start()  # the alternate screen comes back empty: all of it is drawn again
        self.assertEqual(emulated(output.getvalue(), 24), plain(_screen(view, 80, 24)))
        dashboard.stop()

    def test_no_colour_when_the_console_has_none(self) -> None:
        output = io.StringIO()
        console = Console(file=output, width=80, height=24, force_terminal=True, color_system="256", no_color=True)
        with Dashboard(console=console) as dashboard:
            dashboard.update(live_view(alerter_with_history()[0]))
        self.assertIn("Top sections", output.getvalue())
        self.assertIsNone(re.search(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])(;|m)", output.getvalue()))  # no colour codes

    def test_panels_of_the_last_report_are_laid_out_again_only_when_it_changes(self) -> None:
        first = live_view(alerter_with_history()[0])  # its last alert is open
        closed = first._replace(history=first.history[:2], alert=first.alert._replace(alerting=False))
        views = [first, first._replace(lines=first.lines + 1),  # the same report, a second later
                 first._replace(last_report=first.last_report._replace(stats=dataclasses.replace(first.last_report.stats))),
                 closed, closed._replace(lines=closed.lines + 1)]  # no alert open: the history is kept too
        expected = [plain(_screen(view, 120, 40)) for view in views]
        output = io.StringIO()
        console = Console(file=output, width=120, height=40, force_terminal=True, color_system="256")
        calls = {}
        for name in ("_status_codes", "_clients", "_alerts", "_sections"):
            patcher = mock.patch.object(dashboard_module, name, wraps=getattr(dashboard_module, name))
            calls[name] = patcher.start()
            self.addCleanup(patcher.stop)
        counts = []
        with Dashboard(console=console) as dashboard:
            for view, screen in zip(views, expected):
                dashboard.update(view)
                self.assertEqual(emulated(output.getvalue(), 40), screen)
                counts.append(tuple(calls[name].call_count for name in ("_status_codes", "_clients", "_alerts", "_sections")))
            console.size = (100, 40)  # the same figures, less room: laid out again
            self.assertTrue(dashboard.redraw_if_resized())
            self.assertEqual(emulated(output.getvalue(), 40), plain(_screen(views[-1], 100, 40)))
        # status codes and clients: again with other figures (the closed views have the first ones);
        # alerts: at each screen while one is open, once for the closed history
        self.assertEqual(counts, [(1, 1, 1, 1), (1, 1, 2, 2), (2, 2, 3, 3), (3, 3, 4, 4), (3, 3, 4, 5)])

    def test_a_redraw_of_the_same_view_and_size_reuses_its_layout(self) -> None:
        screen = render_dashboard(live_view(alerter_with_history()[0], earlier=earlier_run_events()))
        drawn = []
        with mock.patch("monilog.presentation.dashboard._build", wraps=dashboard_module._build) as build:
            for width, height in ((120, 40), (120, 40), (100, 30), (100, 30), (120, 40)):
                console = Console(file=io.StringIO(), width=width, height=height, force_terminal=False, record=True)
                console.print(screen)
                drawn.append(console.export_text())
        self.assertEqual(build.call_count, 3)  # each change of size lays it out again, no redraw does
        self.assertEqual(drawn[0], drawn[1])
        self.assertEqual(drawn[0], drawn[4])
        self.assertNotEqual(drawn[0], drawn[2])
        self.assertEqual(drawn[2], drawn[3])


if __name__ == "__main__":
    unittest.main()
