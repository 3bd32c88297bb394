"""``<name>.html`` beside a sweep's or cross run's Markdown: the heatmap with its tables, readable in a browser.

The Markdown stays the record to diff and paste; the page is for looking (the heatmap next to the numbers
it colours), with the same stylesheet and offline rules as the score and evaluation reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from deepfeat_iqa.evaluation._html import esc, page, table


def experiment_page(path: Path, title: str, *, heatmap: Path | None, tables: Sequence[tuple[str, pd.DataFrame]],
                    notes: Sequence[str] = ()) -> Path:  # fmt: skip
    """Write ``path``: title, notes, the heatmap (a PNG beside it) and one titled table per entry."""
    body = [f"<h1>{esc(title)}</h1>", *(f'<p class="muted">{esc(n)}</p>' for n in notes)]
    if heatmap is not None:
        source = Path(heatmap).relative_to(path.parent).as_posix()
        body.append(f'<div class="figures wide"><figure><img src="{esc(source)}" alt="heatmap"></figure></div>')
    for heading, frame in tables:
        body += [f"<h2>{esc(heading)}</h2>", table(frame, floatfmt=".3f")]
    path.write_text(page(title, "\n".join(body)), encoding="utf-8")
    return path
