"""Console layout of ``gridsim report``: every table fits the terminal and no figure is cut.

A figure (a mean ± CI, a count, a p-value) is never wrapped or truncated; text (labels,
headers, error messages) wraps at word boundaries. Each table is laid out at the console's
width: as a table when its columns fit, otherwise as one block per row (label: value). The
summary by design point tries, in order: points as rows; KPIs as rows with the points as
columns (in as many groups of columns as needed, with a legend of the points); one block per
point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

PAD = 2  # one space either side of every cell


@dataclass
class Col:
    header: str
    figure: bool = True  # a number: kept on one line, never cut; else text that may wrap
    right: bool = True


@dataclass
class Grid:
    title: str
    cols: list[Col]
    rows: list[list[str]] = field(default_factory=list)


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def column_widths(grid: Grid, width: int) -> list[int] | None:
    """Widths (without padding) that fit ``width``, or None when the columns cannot fit."""
    n = len(grid.cols)
    lo, hi = [], []
    for j, c in enumerate(grid.cols):
        cells = [r[j] for r in grid.rows]
        need = max([_longest_word(c.header)] + [(_widest_line if c.figure else _longest_word)(x)
                                                 for x in cells])
        lo.append(max(1, need))
        hi.append(max([need, _widest_line(c.header)] + [_widest_line(x) for x in cells]))
    room = width - (n + 1) - PAD * n  # borders and padding
    if sum(lo) > room:
        return None
    widths = list(lo)
    spare = room - sum(widths)
    while spare > 0:  # give the spare columns to the cells that would otherwise wrap
        short = [j for j in range(n) if widths[j] < hi[j]]
        if not short:
            break
        for j in short:
            if spare == 0:
                break
            widths[j] += 1
            spare -= 1
    return widths


def rich_table(grid: Grid, widths: list[int]) -> Table:
    t = Table(title=grid.title or None, title_justify="left", box=box.HEAVY_HEAD)
    for c, w in zip(grid.cols, widths):
        t.add_column(c.header, width=w, justify="right" if c.right else "left",
                     overflow="fold", no_wrap=False)
    for r in grid.rows:
        t.add_row(*[Text(x, no_wrap=c.figure, overflow="ellipsis") if c.figure else Text(x)
                    for c, x in zip(grid.cols, r)])
    return t


def records(grid: Grid, width: int, head: int = 0) -> RenderableType:
    """One block per row, ``header  value`` lines; the first ``head`` cells make its title."""
    parts: list[RenderableType] = [Text(grid.title, style="italic")] if grid.title else []
    label_w = max(1, min(max(cell_len(c.header) for c in grid.cols), width // 2))
    for r in grid.rows:
        title = ", ".join(f"{c.header} {x}" for c, x in zip(grid.cols[:head], r[:head]))
        t = Table.grid(padding=(0, 2))
        t.add_column(width=label_w, overflow="fold")
        t.add_column(overflow="fold")
        for c, x in list(zip(grid.cols, r))[head:]:
            t.add_row(c.header, Text(x, overflow="fold"))
        parts += [Text(title, style="bold")] if title else []
        parts.append(t)
    return Group(*parts)


def layout(grid: Grid, width: int, head: int = 1) -> RenderableType:
    widths = column_widths(grid, width)
    return rich_table(grid, widths) if widths is not None else records(grid, width, head)


def summary_layout(title: str, point_cols: list[Col], points: list[list[str]],
                   kpi_labels: list[str], values: list[list[str]], width: int
                   ) -> RenderableType:
    """The table of KPI means by design point, in the first layout that fits ``width``.

    ``points[i]`` are the cells describing point i (id, factor values, n); ``values[i][k]``
    the figure of KPI k at point i.
    """
    wide = Grid(title, point_cols + [Col(k) for k in kpi_labels],
                [p + v for p, v in zip(points, values)])
    widths = column_widths(wide, width)
    if widths is not None:
        return rich_table(wide, widths)
    legend = Grid(f"{title}: design points", point_cols, points)
    ids = [p[0] for p in points]
    n = len(points)
    lw = column_widths(legend, width)
    for groups in range(1, n // 2 + 1):  # KPIs as rows, points as columns, in balanced groups
        per = -(-n // groups)
        chunks = [list(range(i, min(i + per, n))) for i in range(0, n, per)]
        grids = [Grid("", [Col("KPI", figure=False, right=False)]
                      + [Col(f"point {ids[i]}") for i in ch],
                      [[lab] + [values[i][k] for i in ch] for k, lab in enumerate(kpi_labels)])
                 for ch in chunks]
        ws = [column_widths(g, width) for g in grids]
        if lw is not None and all(w is not None for w in ws):
            grids[0].title = title
            return Group(rich_table(legend, lw),
                         *[rich_table(g, w) for g, w in zip(grids, ws)])  # type: ignore[arg-type]
    blocks: list[RenderableType] = [Text(title, style="italic")]
    for p, v in zip(points, values):
        g = Grid(", ".join(f"{c.header} {x}" for c, x in zip(point_cols, p)),
                 [Col("KPI", figure=False, right=False), Col("mean ± 95% CI")],
                 [[lab, x] for lab, x in zip(kpi_labels, v)])
        w = column_widths(g, width)
        blocks.append(rich_table(g, w) if w is not None else records(g, width, 0))
    return Group(*blocks)
