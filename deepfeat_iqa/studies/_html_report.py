"""``<name>.html`` beside a sweep's or cross run's Markdown: the heatmap with its tables, readable in a browser.

The Markdown stays the record to diff and paste; the page is for looking (the heatmap next to the numbers
it colours), with the same stylesheet and offline rules as the score and evaluation reports. On a sweep's
page the heatmap is an HTML grid rather than the PNG (which is linked): each of its cells, and each row
of the tables, links to that cell's evaluation page (``studies/_cell_pages.py``), which a picture cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from deepfeat_iqa.evaluation._html import esc, page, table

if TYPE_CHECKING:
    from deepfeat_iqa.studies._study import Study

#: A titled table, optionally with ``column -> one href per row`` links.
Section = tuple[str, pd.DataFrame] | tuple[str, pd.DataFrame, Mapping[str, Sequence[str | None]]]
#: viridis at 0, 1/4, 1/2, 3/4 and 1, as the PNG heatmap colours its cells.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)


def experiment_page(path: Path, title: str, *, heatmap: Path | None, tables: Sequence[Section], notes: Sequence[str] = (),
                    grid: str = "") -> Path:  # fmt: skip
    """Write ``path``: title, notes, the heatmap and one titled table per entry.

    The heatmap is ``grid`` (HTML) when given, with the PNG ``heatmap`` linked beneath; otherwise the PNG is shown.
    """
    body = [f"<h1>{esc(title)}</h1>", *(f'<p class="muted">{esc(n)}</p>' for n in notes)]
    source = Path(heatmap).relative_to(path.parent).as_posix() if heatmap is not None else None
    if grid:
        body.append(grid)
        if source:
            body.append(f'<p class="muted">The same heatmap as a picture: <a href="{esc(source)}">{esc(source)}</a></p>')
    elif source:
        body.append(f'<div class="figures wide"><figure><img src="{esc(source)}" alt="heatmap"></figure></div>')
    for heading, frame, *links in tables:
        body += [f"<h2>{esc(heading)}</h2>", table(frame, floatfmt=".3f", links=links[0] if links else None)]
    path.write_text(page(title, "\n".join(body)), encoding="utf-8")
    return path


def sweep_page(study: Study, path: Path, title: str, *, best: tuple[str, pd.DataFrame], heatmap: Path | None,
               notes: Sequence[str] = (), metric: str = "srocc") -> Path:  # fmt: skip
    """Write a sweep's page: the linked heatmap grid, the ``best`` table (heading, rows with ``cell_id``) and all
    cells, each done cell's row linked to its page."""
    from deepfeat_iqa.studies._cell_pages import cell_pages

    links = cell_pages(study, path)
    cells = study.table()
    heading, rows = best
    shown = cells[[c for c in cells.columns if c in (*rows.columns, "status", "fit_s", "error") and c != "cell_id"]]
    tables: list[Section] = [
        (heading, rows.drop(columns="cell_id"), {"layer": [links.get(c) for c in rows["cell_id"]]}),
        ("All cells", shown, {"layer": [links.get(c) for c in cells["cell_id"]]}),
    ]
    return experiment_page(path, title, heatmap=heatmap, tables=tables, notes=notes, grid=cell_grid(cells, links, metric))


def cell_grid(cells: pd.DataFrame, links: Mapping[str, str], metric: str = "srocc") -> str:
    """The heatmap as an HTML table: a row per backbone/layer, a column per head (and dataset), each cell linked.

    Axes that vary besides those (weights, pooling, views) join the row label, so no two cells share a square.
    """
    varying = [c for c in ("weights", "pooling", "views") if c in cells and cells[c].nunique() > 1]
    rows, cols, squares = [], [], {}
    for _, cell in cells.iterrows():
        row = " / ".join([f"{cell['backbone']}{' (random)' if cell['random_weights'] else ''}", str(cell["layer"]),
                          *(str(cell[c]) for c in varying)])  # fmt: skip
        col = str(cell["head"]) if cells["dataset"].nunique() == 1 else f"{cell['dataset']}: {cell['head']}"
        while (row, col) in squares:  # the same head label with other options: a column of its own
            col += "′"
        rows += [row] if row not in rows else []
        cols += [col] if col not in cols else []
        squares[row, col] = cell
    values = cells.loc[cells["status"] == "done", metric].astype(float)
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    head = "".join(f'<th class="text">{esc(c)}</th>' for c in ["backbone / layer", *cols])
    body = []
    for row in rows:
        tds = [f'<th class="text">{esc(row)}</th>']
        for col in cols:
            cell = squares.get((row, col))
            tds.append("<td></td>" if cell is None else _square(cell, links.get(cell["cell_id"]), metric, lo, hi))
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (f'<p class="muted">{esc(metric.upper())}, mean over splits; click a cell for its evaluation page.</p>'
            f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')  # fmt: skip


def _square(cell: pd.Series, href: str | None, metric: str, lo: float, hi: float) -> str:
    if cell["status"] != "done" or href is None:
        error = cell["error"] if isinstance(cell["error"], str) else ""
        return f'<td class="text" title="{esc(error)}">{esc(cell["status"])}</td>'
    value = float(cell[metric])
    share = (value - lo) / (hi - lo) if hi > lo else 0.5
    red, green, blue = (np.interp(share, np.linspace(0, 1, len(_VIRIDIS)), _VIRIDIS[:, k]) for k in range(3))
    ink = "white" if share < 0.5 else "black"
    return (f'<td style="background: rgb({red:.0f},{green:.0f},{blue:.0f})"><a style="color: {ink}" href="{esc(href)}" '
            f'title="{esc(cell["backbone"])} / {esc(cell["layer"])} / {esc(cell["head"])}">{value:.3f}</a></td>')  # fmt: skip
