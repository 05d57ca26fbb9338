"""A borderless table of one-line cells: the grid of the dashboard's panels.

Why in-house: rich's :class:`~rich.table.Table` measures every cell as a renderable that may
wrap (about 2 ms for the dashboard's 6 by 5 sections table, most of a layout's 10 ms, redone
every second). The dashboard's cells never wrap: each is a short :class:`~rich.text.Text` cut
with an ellipsis when its column is too narrow. So :class:`CellGrid` measures each cell once
(``Text.cell_len``), gives the slack to (or takes the shortage from) one flexible column, and
aligns and cuts the cells with rich's own ``Text.align`` and ``Text.truncate``: rich still draws
every character and style; only the column arithmetic is here.

Widths: each column is as wide as its widest cell (header included), columns are ``gap`` cells
apart. When the grid expands, the flexible column takes the width left; when the columns do not
fit, the flexible column gives up width first (down to one cell), then the columns from the
right. No line is ever wider than the width the grid is given. Unlike rich's Table, an empty
flexible column takes no cell: where the other columns just fit, they are drawn whole.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Union

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import StyleType
from rich.text import Text

Cell = Union[str, Text]
"""A cell: plain text, or text with its own styles."""


class Column(NamedTuple):
    """A column of a :class:`CellGrid`."""

    header: str = ""
    justify: str = "left"
    """``left`` or ``right``."""
    style: StyleType = ""
    """The style under each of its cells."""


class CellGrid:
    """A borderless table of one-line cells (see the module documentation).

    :param columns: the columns, in order.
    :param flexible: the index of the column that takes the slack or gives up width first; None:
        every column keeps its natural width (the grid does not expand).
    :param gap: cells between two columns.
    :param header_style: the style of the header row; no header row when every header is empty.
    """

    def __init__(self, columns: Sequence[Column], flexible: Optional[int] = 0, gap: int = 2,
                 header_style: StyleType = "bold dim") -> None:
        self.columns = list(columns)
        self.flexible = flexible
        self.gap = gap
        self.header_style = header_style
        self.rows: List[List[Text]] = []
        self.row_styles: List[StyleType] = []
        if any(column.header for column in self.columns):
            self.add_row(*(Text(column.header) for column in self.columns), style=header_style)

    def add_row(self, *cells: Cell, style: StyleType = "") -> None:
        """Add a row; missing cells are empty, cells past the last column are an error."""
        if len(cells) > len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        texts = [cell if isinstance(cell, Text) else Text(cell) for cell in cells]
        self.rows.append(texts + [Text("")] * (len(self.columns) - len(texts)))
        self.row_styles.append(style)

    def _natural(self) -> List[int]:
        widths = [0] * len(self.columns)
        for row in self.rows:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], cell.cell_len)
        return widths

    def widths(self, width: int) -> List[int]:
        """Each column's width in a grid ``width`` cells wide (see the module documentation)."""
        widths = self._natural()
        spare = width - sum(widths) - self.gap * max(len(widths) - 1, 0)
        flexible = self.flexible
        if flexible is not None and spare > 0:
            widths[flexible] += spare
        elif spare < 0:
            if flexible is not None:
                given = min(-spare, max(widths[flexible] - 1, 0))
                widths[flexible] -= given
                spare += given
            for index in reversed(range(len(widths))):
                if spare >= 0:
                    break
                given = min(-spare, widths[index])
                widths[index] -= given
                spare += given
        return widths

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        natural = sum(self._natural()) + self.gap * max(len(self.columns) - 1, 0)
        return Measurement(min(natural, options.max_width), options.max_width if self.flexible is not None else natural)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        widths = self.widths(width)
        gap = " " * self.gap
        new_line = Segment.line()
        for row, row_style in zip(self.rows, self.row_styles):
            line = Text(no_wrap=True, end="")
            for index, (cell, column, size) in enumerate(zip(row, self.columns, widths)):
                if index:
                    line.append(gap)
                if column.style:  # under the cell's own styles
                    styled = Text(style=column.style, no_wrap=True, end="")
                    styled.append_text(cell)
                    cell = styled
                else:
                    cell = cell.copy()
                if column.justify == "right":
                    cell.rstrip()  # as rich justifies text to the right
                cell.truncate(size, overflow="ellipsis")
                cell.align("right" if column.justify == "right" else "left", size)
                line.append_text(cell)
            line.truncate(width)
            segments = line.render(console)
            yield from Segment.apply_style(segments, console.get_style(row_style)) if row_style else segments
            yield new_line
