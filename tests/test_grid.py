"""The dashboard's cell grid: what rich's Table draws for the same cells, at a tenth of the cost.

Where the columns fit, the grid's lines are compared, character and style, with those of the
rich ``Table`` the dashboard used before (borderless, cells one space padded inside, no padding
at the edges, no wrapping); where they do not, no line is wider than the grid is given and the
flexible column gives up width first.
"""

from __future__ import annotations

import io
import unittest
from typing import List, Optional, Sequence, Tuple

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from monilog.presentation.grid import CellGrid, Column

CELL = st.text(alphabet=st.sampled_from("ab xy-/.%é世"), max_size=12)
STYLES = st.sampled_from(["", "red", "dim", "bold"])


def draw(renderable: RenderableType, width: int) -> List[List[Tuple[str, Optional[Style]]]]:
    """Each line's runs of characters of one style (rich cuts them into segments its own way)."""
    console = Console(file=io.StringIO(), width=width)
    runs: List[List[Tuple[str, Optional[Style]]]] = []
    for line in console.render_lines(renderable, console.options.update(width=width)):
        runs.append([])
        for segment in line:
            style = segment.style or Style()  # no style and the null style draw the same
            if runs[-1] and runs[-1][-1][1] == style:
                runs[-1][-1] = (runs[-1][-1][0] + segment.text, style)
            else:
                runs[-1].append((segment.text, style))
    return runs


def plain(renderable: RenderableType, width: int) -> List[str]:
    console = Console(file=io.StringIO(), width=width, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue().split("\n")[:-1]  # type: ignore[attr-defined, no-any-return]


def rich_table(columns: Sequence[Tuple[str, str]], rows: Sequence[Tuple[Sequence[Text], str]], flexible: bool) -> Table:
    """The Table the dashboard's panels were: see the module documentation."""
    table = Table(box=None, expand=flexible, show_edge=False, pad_edge=False, padding=(0, 1), header_style="bold dim")
    for index, (header, justify) in enumerate(columns):
        if index == 0 and flexible:
            table.add_column(header, justify=justify, no_wrap=True, overflow="ellipsis", ratio=1)  # type: ignore[arg-type]
        else:
            table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for cells, style in rows:
        table.add_row(*cells, style=style)
    return table


def grid_of(columns: Sequence[Tuple[str, str]], rows: Sequence[Tuple[Sequence[Text], str]], flexible: bool) -> CellGrid:
    grid = CellGrid([Column(header, justify) for header, justify in columns], flexible=0 if flexible else None)
    for cells, style in rows:
        grid.add_row(*cells, style=style)
    return grid


@st.composite
def tables(draw_: st.DrawFn) -> Tuple[List[Tuple[str, str]], List[Tuple[List[Text], str]], bool]:
    count = draw_(st.integers(1, 5))
    columns = [(draw_(CELL), draw_(st.sampled_from(["left", "right"]))) for _ in range(count)]
    if not any(header for header, _ in columns):
        columns[0] = ("h", columns[0][1])
    rows = [([Text(draw_(CELL), draw_(STYLES)) for _ in range(count)], draw_(STYLES)) for _ in range(draw_(st.integers(0, 4)))]
    return columns, rows, draw_(st.booleans())


class CellGridTest(unittest.TestCase):
    @settings(max_examples=300, deadline=None)
    @given(tables(), st.integers(1, 90))
    def test_draws_what_richs_table_draws_where_the_columns_fit(
            self, table: Tuple[List[Tuple[str, str]], List[Tuple[List[Text], str]], bool], width: int) -> None:
        columns, rows, flexible = table
        grid = grid_of(columns, rows, flexible)
        widths = [max([cell_len(header)] + [cells[index].cell_len for cells, _ in rows])
                  for index, (header, _) in enumerate(columns)]
        lines = plain(grid, width)
        self.assertTrue(all(cell_len(line) <= width for line in lines), lines)
        reserved = 1 if flexible and not widths[0] else 0  # rich keeps a cell for an empty flexible column; the grid does not
        if sum(widths) + reserved + 2 * (len(columns) - 1) > width or any(cell.plain.strip() != cell.plain
                                                           for cells, _ in rows for cell in cells):
            return  # rich shrinks every column in proportion, and trims cells its own way
        self.assertEqual(plain(grid, width), plain(rich_table(columns, rows, flexible), width))

    def test_an_empty_flexible_column_takes_no_cell_where_the_others_just_fit(self) -> None:
        columns = [("", "left"), ("aa", "left"), ("aaaaaaaaaaaaa", "left")]
        self.assertEqual(plain(grid_of(columns, [], True), 19), ["  aa  aaaaaaaaaaaaa"])  # rich: "  aa  aaaaaaaaaaa…"

    def test_styles_are_richs_header_row_and_cell_styles(self) -> None:
        rows = [([Text("/api", "bold"), Text("12"), Text("0", "red")], ""), ([Text("errors"), Text("3"), Text("")], "red")]
        columns = [("section", "left"), ("hits", "right"), ("errors", "right")]
        self.assertEqual(draw(grid_of(columns, rows, True), 40), draw(rich_table(columns, rows, True), 40))

    def test_the_flexible_column_gives_up_width_first_then_the_last_ones(self) -> None:
        grid = CellGrid([Column("name"), Column("hits", "right"), Column("share", "right")])
        grid.add_row("/a-very-long-section-name", "1234", "12.5%")
        self.assertEqual(plain(grid, 40), ["name".ljust(29) + "hits  share", "/a-very-long-section-name".ljust(29) + "1234  12.5%"])
        narrow = plain(grid, 20)
        self.assertEqual([cell_len(line) for line in narrow], [20, 20])
        self.assertEqual(narrow[1], "/a-ver…  1234  12.5%")
        tiny = plain(grid, 8)
        self.assertTrue(all(cell_len(line) <= 8 for line in tiny), tiny)

    def test_a_flexible_column_other_than_the_first_and_a_column_style(self) -> None:
        grid = CellGrid([Column(style="dim"), Column()], flexible=1)
        grid.add_row("hits", "946  (47.30 req/s)")
        self.assertEqual(plain(grid, 30), ["hits  946  (47.30 req/s)      "])
        self.assertEqual(draw(grid, 30)[0][0], ("hits", Style(dim=True)))
        self.assertEqual(plain(grid, 12), ["hits  946  …"])

    def test_too_many_cells_is_an_error(self) -> None:
        grid = CellGrid([Column("a")])
        with self.assertRaises(ValueError):
            grid.add_row("x", "y")

    def test_missing_cells_are_empty(self) -> None:
        grid = CellGrid([Column("a"), Column("b", "right")], flexible=None)
        grid.add_row("xyz")
        self.assertEqual(plain(grid, 20), ["a    b", "xyz   "])
