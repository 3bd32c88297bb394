"""One evaluation page per finished sweep cell, linked from the sweep's page (issue 21).

A sweep page says which layer wins; why a cell scores what it does is in its predictions: the per-split
metrics, the scatter against MOS and the photos it misjudges. Each done cell gets that page, beside the
sweep page in ``<name>_cells/``:

* ``<cell_id>.html``: :func:`~deepfeat_iqa.evaluation.report.evaluation_report` of the cell's result;
* ``plots/<cell_id>_scatter.png``: the scatter only (the residual and QQ plots would triple a sweep's
  figures and its first-write time for little);
* ``<cell_id>.csv``: the test predictions, linked rather than inlined (a 10,000-photo dataset's would
  make the page megabytes);
* ``thumbs/``: thumbnails of misjudged photos, shared by every cell page of the folder.

A cell id is the hash of the cell's definition and a recorded cell is never rewritten, so a page that
exists is reused: a rerun writes pages only for cells finished since, and a no-op rerun writes none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepfeat_iqa.studies._study import Study

#: The folder of cell pages is ``<stem of the sweep page>`` + this.
CELLS_SUFFIX = "_cells"


def cell_pages(study: Study, sweep_page: Path) -> dict[str, str]:
    """``cell_id -> href`` (relative to ``sweep_page``'s folder) of every done cell's page; missing pages are written."""
    folder = sweep_page.with_name(sweep_page.stem + CELLS_SUFFIX)
    table = study.table()
    links = {}
    for cell_id in table.loc[table["status"] == "done", "cell_id"]:
        page = folder / f"{cell_id}.html"
        if not page.is_file():
            _write_page(study, cell_id, page, up=(f"../{sweep_page.name}", f"sweep {sweep_page.stem}"))
        links[cell_id] = page.relative_to(sweep_page.parent).as_posix()
    return links


def _write_page(study: Study, cell_id: str, page: Path, *, up: tuple[str, str]) -> None:
    """The cell's scatter, predictions CSV and page, the page last: its presence means the rest is there."""
    from deepfeat_iqa.evaluation.report import evaluation_report

    result = study.result(cell_id)
    folder = page.parent
    plots = result.plot(folder / "plots", stem=cell_id, kinds=("scatter",))
    predictions = folder / f"{cell_id}.csv"
    result.predictions.to_csv(predictions, index=False)
    evaluation_report(result, folder, plots=plots, files=[predictions.name], name=page.name, up=up)
