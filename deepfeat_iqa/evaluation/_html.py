"""Building blocks of the HTML reports: the page shell, tables, an SVG histogram, the browser self-check.

The reports must open from a folder with no network and no framework (a photographer double-clicks
``index.html``; a lab archives the folder), so everything here is plain strings: one small stylesheet, no
external fonts, scripts or images, and a few lines of vanilla JavaScript. The page marks every ``<img>``
with ``data-loaded="yes"|"no"`` once it has loaded, which is what the headless-browser test reads.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1em 1.5em 3em;
       max-width: 1400px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 1.5em; margin: .3em 0; } h2 { font-size: 1.15em; margin: 1.6em 0 .5em; border-bottom: 1px solid #ddd; }
.lead { font-weight: 600; } .muted { color: #666; }
table { border-collapse: collapse; margin: .4em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; } th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; } .figures figure { margin: 0; flex: 0 1 360px; }
.figures.wide figure { flex: 0 1 auto; max-width: 100%; }
.figures img { width: 100%; height: auto; border: 1px solid #ddd; background: white; }
figcaption { font-size: .85em; color: #555; max-width: 600px; }
.controls { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: .6em 0; position: sticky; top: 0;
            background: #fafafa; padding: .4em 0; z-index: 1; }
.sheet { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: .8em; }
.card { background: white; border: 1px solid #ddd; border-radius: 4px; padding: .4em; overflow: hidden; }
.card img { width: 100%; height: 150px; object-fit: contain; background: #eee; display: block; }
.card .name { font-size: .8em; color: #444; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.score { font-size: 1.2em; font-weight: 600; } .bar { height: 5px; background: #eee; border-radius: 3px; }
.bar span { display: block; height: 5px; border-radius: 3px; background: #3b7dd8; }
.conf { font-size: .8em; padding: 0 .4em; border-radius: 8px; margin-left: .3em; }
.conf-high { background: #d9f2dd; color: #1e6b2a; } .conf-mid { background: #fff1c9; color: #7a5b00; }
.conf-low { background: #fbd9d6; color: #8c1d13; }
.over { color: #8c1d13; } .under { color: #1e4f8c; }
pre { background: #f3f3f3; padding: .6em; overflow-x: auto; font-size: .85em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; } dt { font-weight: 600; } dd { margin: 0; }
"""

#: Marks every image as loaded or broken once the page has loaded (read by tests and usable by anyone).
_SELF_CHECK = """
window.addEventListener("load", function () {
  var images = document.images, broken = 0;
  for (var i = 0; i < images.length; i++) {
    var ok = images[i].complete && images[i].naturalWidth > 0;
    images[i].setAttribute("data-loaded", ok ? "yes" : "no");
    if (!ok) broken++;
  }
  document.body.setAttribute("data-images", images.length + " images, " + broken + " broken");
});
"""


def esc(value: Any) -> str:
    """Text escaped for HTML element content and quoted attributes."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, script: str = "") -> str:
    """A whole HTML document: the stylesheet, ``body`` and the scripts, inline."""
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n"
        f"<script>{_SELF_CHECK}{script}</script>\n</body></html>\n"
    )


def table(frame: pd.DataFrame, *, floatfmt: str = ".4f", index: bool = True,
          links: Mapping[str, Sequence[str | None]] | None = None) -> str:  # fmt: skip
    """``frame`` as an HTML table; numbers right-aligned in ``floatfmt``, text left-aligned, NaN empty.

    ``links`` maps a column to one href per row (``None``: no link): that column's cells become links
    (a sweep's table links each cell's row to its evaluation page).
    """
    flat = frame.reset_index() if index and (any(n is not None for n in frame.index.names) or not isinstance(frame.index, pd.RangeIndex)) else frame
    head = "".join(f"<th class=\"{'' if _numeric(flat[c]) else 'text'}\">{esc(c)}</th>" for c in flat.columns)
    hrefs = {flat.columns.get_loc(column): list(targets) for column, targets in (links or {}).items()}
    rows = []
    for position, (_, row) in enumerate(flat.astype(object).iterrows()):  # object rows keep each cell's type (ints stay ints)
        cells = []
        for column, value in enumerate(row):
            if isinstance(value, (float, np.floating)):
                text, align = ("" if not np.isfinite(value) else format(float(value), floatfmt)), ""
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                text, align = str(int(value)), ""
            else:
                text, align = ("" if value is None else esc(value)), ' class="text"'
            target = hrefs[column][position] if column in hrefs else None
            cells.append(f'<td{align}><a href="{esc(target)}">{text}</a></td>' if target else f"<td{align}>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def record(info: Mapping[str, Any], keys: Iterable[str] | None = None) -> str:
    """A definition list of a run record; nested values as compact JSON."""
    items = []
    for key in keys or info.keys():
        if key not in info or info[key] in (None, "", [], {}):
            continue
        value = info[key]
        shown = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=False)
        items.append(f"<dt>{esc(key)}</dt><dd><code>{esc(shown)}</code></dd>")
    return "<dl>" + "".join(items) + "</dl>"


def svg_histogram(values: np.ndarray, *, xlabel: str, ylabel: str = "photos", width: int = 640, height: int = 220) -> str:
    """An inline SVG histogram with labelled axes (no image file, no plotting library at report time)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "<p class=\"muted\">No scores to draw.</p>"
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=int(np.clip(np.sqrt(values.size) * 2, 5, 40)), range=(lo, hi))
    left, right, top, bottom = 48, 12, 10, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(int(counts.max()), 1)
    x = lambda v: left + (v - lo) / (hi - lo) * plot_w  # noqa: E731
    y = lambda c: top + plot_h - c / peak * plot_h  # noqa: E731
    bars = "".join(
        f"<rect x=\"{x(a):.1f}\" y=\"{y(c):.1f}\" width=\"{max(x(b) - x(a) - 1, 1):.1f}\" height=\"{plot_h + top - y(c):.1f}\" "
        f"fill=\"#3b7dd8\"><title>{a:.3g} – {b:.3g}: {c}</title></rect>"
        for a, b, c in zip(edges[:-1], edges[1:], counts)
    )
    ticks = "".join(
        f"<line x1=\"{x(t):.1f}\" x2=\"{x(t):.1f}\" y1=\"{top + plot_h}\" y2=\"{top + plot_h + 4}\" stroke=\"#333\"/>"
        f"<text x=\"{x(t):.1f}\" y=\"{top + plot_h + 17}\" text-anchor=\"middle\">{t:.3g}</text>"
        for t in np.linspace(lo, hi, 6)
    )
    yticks = "".join(
        f"<text x=\"{left - 6}\" y=\"{y(c) + 4:.1f}\" text-anchor=\"end\">{c}</text>" for c in sorted({0, peak // 2, peak})
    )
    return (
        f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" "
        f"font-size=\"11\" font-family=\"sans-serif\" role=\"img\" aria-label=\"histogram of {esc(xlabel)}\">"
        f"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>{bars}"
        f"<line x1=\"{left}\" x2=\"{left + plot_w}\" y1=\"{top + plot_h}\" y2=\"{top + plot_h}\" stroke=\"#333\"/>"
        f"<line x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{top + plot_h}\" stroke=\"#333\"/>{ticks}{yticks}"
        f"<text x=\"{left + plot_w / 2:.0f}\" y=\"{height - 6}\" text-anchor=\"middle\">{esc(xlabel)}</text>"
        f"<text transform=\"translate(12 {top + plot_h / 2:.0f}) rotate(-90)\" text-anchor=\"middle\">{esc(ylabel)}</text></svg>"
    )


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
