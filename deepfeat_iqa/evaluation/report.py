"""HTML reports one looks at rather than reads: ``score_report`` (a contact sheet) and ``evaluation_report``.

Quality is judged by looking: a score of 43.1 means something once it sits beside the photo and its
neighbours, and a disappointing model is understood by the photos it gets most wrong. Each report is a
folder with one ``index.html`` and the files it shows (``thumbs/``, ``plots/``), readable offline in
any browser; see docs/reports.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.evaluation._html import esc, page, record, svg_histogram, table
from deepfeat_iqa.evaluation.thumbnails import thumbnails

REPORT_HTML = "index.html"
#: Above this many photos the contact sheet lets the browser load thumbnails as they scroll into view.
LAZY_ABOVE = 300

_SORT_SCRIPT = """
(function () {
  var sheet = document.getElementById("sheet"); if (!sheet) return;
  var cards = Array.prototype.slice.call(sheet.children);
  var sort = document.getElementById("sort"), filter = document.getElementById("filter"),
      uncertain = document.getElementById("uncertain"), count = document.getElementById("count");
  var keys = {
    worst: function (a, b) { return a.dataset.score - b.dataset.score; },
    best: function (a, b) { return b.dataset.score - a.dataset.score; },
    uncertain: function (a, b) { return (b.dataset.sd || 0) - (a.dataset.sd || 0); },
    name: function (a, b) { return a.dataset.name < b.dataset.name ? -1 : a.dataset.name > b.dataset.name ? 1 : 0; }
  };
  function apply() {
    var text = filter.value.toLowerCase(), shown = 0;
    cards.sort(keys[sort.value]);
    cards.forEach(function (card) {
      var hide = (text && card.dataset.name.toLowerCase().indexOf(text) < 0) ||
                 (uncertain && uncertain.checked && card.dataset.conf !== "low");
      card.hidden = !!hide; if (!hide) shown++;
      sheet.appendChild(card);
    });
    count.textContent = shown + " of " + cards.length + " photos";
  }
  [sort, filter, uncertain].forEach(function (el) { if (el) el.addEventListener("input", apply); });
  apply();
})();
"""


def score_report(scores: pd.DataFrame, out_dir: str | Path, *, failed: Mapping[str, str] | None = None,
                 title: str = "Photo quality", note: str = "") -> Path:  # fmt: skip
    """Write ``out_dir/index.html``: the scored photos as a sortable contact sheet, a histogram, the failures.

    Parameters
    ----------
    scores:
        :func:`deepfeat_iqa.score`'s table: ``id``, ``path``, ``score`` and, for models with one, ``sd``.
    out_dir:
        The report folder; thumbnails are cached in ``out_dir/thumbs`` and reused by the next report there.
    failed:
        Photos that have no score, ``{path: reason}`` (e.g. left out by ``on_error="skip"``); listed with the reason.
    note:
        One line under the title (which model scored the photos).

    Returns
    -------
    Path
        The ``index.html`` written.
    """
    out_dir = Path(out_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = scores.reset_index(drop=True)
    problems = dict(failed or {})
    scored = frame[np.isfinite(frame["score"].astype(float))]
    for path in frame.loc[~frame.index.isin(scored.index), "path"]:
        problems.setdefault(str(path), "no score was predicted")
    thumbs = thumbnails(list(scored["path"]), out_dir)
    has_sd = "sd" in scored and scored["sd"].notna().any()
    conf = _confidence(scored["sd"].to_numpy(dtype=float)) if has_sd else [""] * len(scored)
    lo, hi = (float(scored["score"].min()), float(scored["score"].max())) if len(scored) else (0.0, 1.0)
    lazy = ' loading="lazy"' if len(scored) > LAZY_ABOVE else ""
    cards = []
    order = np.argsort(scored["score"].to_numpy(dtype=float), kind="stable")
    for i in order:
        row, thumb = scored.iloc[i], thumbs[i]
        name = Path(str(row["path"])).name
        if thumb.error:
            problems.setdefault(str(row["path"]), f"scored, but no thumbnail: {thumb.error}")
        width = 100.0 * (float(row["score"]) - lo) / (hi - lo) if hi > lo else 100.0
        sd_text, mark = "", ""
        if has_sd:
            sd_text = f' data-sd="{float(row["sd"]):.6g}" data-conf="{conf[i]}"'
            label = {"high": "confident", "mid": "moderate", "low": "uncertain"}[conf[i]]
            mark = (f'<span class="conf conf-{conf[i]}" title="predictive sd {float(row["sd"]):.3g}: '
                    f'{label} relative to the other photos here">± {float(row["sd"]):.3g} {label}</span>')  # fmt: skip
        image = f'<img src="{esc(thumb.src)}" alt="{esc(name)}"{lazy}>' if thumb.src else '<div class="muted">no preview</div>'
        cards.append(
            f'<div class="card" data-score="{float(row["score"]):.6g}" data-name="{esc(name)}"{sd_text}>'
            f'<a href="{esc(Path(str(row["path"])).resolve().as_uri())}">{image}</a>'
            f'<div><span class="score">{float(row["score"]):.3g}</span>{mark}</div>'
            f'<div class="bar"><span style="width:{width:.1f}%"></span></div>'
            f'<div class="name" title="{esc(row["path"])}">{esc(name)}</div></div>'
        )
    controls = (
        '<div class="controls"><label>Sort <select id="sort"><option value="worst">worst first</option>'
        '<option value="best">best first</option>'
        + ('<option value="uncertain">most uncertain first</option>' if has_sd else "")
        + '<option value="name">by name</option></select></label>'
        '<label>Filter <input id="filter" type="search" placeholder="file name contains"></label>'
        + ('<label><input id="uncertain" type="checkbox"> only the most uncertain third</label>' if has_sd else "")
        + '<span id="count" class="muted"></span></div>'
    )
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="lead">{len(scored)} photos scored'
        + (f", {len(problems)} could not be" if problems else "")
        + (f" · scores {lo:.3g} to {hi:.3g}, median {float(scored['score'].median()):.3g}" if len(scored) else "")
        + "</p>",
        f'<p class="muted">{esc(note)}</p>' if note else "",
        "<h2>Score distribution</h2>",
        svg_histogram(scored["score"].to_numpy(dtype=float), xlabel="predicted quality score (higher is better)"),
        "<h2>Photos</h2>",
        '<p class="muted">Each card: the predicted score, a bar placing it between the lowest and highest score here'
        + (", and the model's confidence (predictive sd, in thirds of this report)" if has_sd else "")
        + ". Click a photo to open the original.</p>",
        controls,
        f'<div id="sheet" class="sheet">{"".join(cards)}</div>',
        _failures(problems),
    ]
    return _write(out_dir, title, "\n".join(body), script=_SORT_SCRIPT)


def evaluation_report(result: Any, out_dir: str | Path, *, plots: Sequence[Path] = (), worst: int = 8,
                      files: Sequence[str] = (), name: str = REPORT_HTML, up: tuple[str, str] | None = None) -> Path:  # fmt: skip
    """Write ``out_dir/<name>`` (``index.html``) for an evaluation (``result``: an ``EvaluationResult``, which calls this
    from ``save_report``; typed loosely so the two modules do not import each other): tables, diagnostic plots, the most
    misjudged photos, the record.

    ``plots`` are PNGs already written under ``out_dir`` (any of ``*_scatter``, ``*_residuals``, ``*_qq``);
    ``worst`` photos are shown for each direction of error; ``files`` are the other report files, linked.
    Several pages may share one ``out_dir`` under different ``name``s (a sweep's cell pages): they then share
    its ``thumbs/``, so a photo misjudged by many cells is one thumbnail. ``up`` is ``(href, text)`` of the
    page this one belongs to, linked above the title.
    """
    out_dir = Path(out_dir).expanduser()
    info = result.info
    title = f"Evaluation: {info.get('head', '?')} on {info.get('dataset', '?')}"
    captions = {
        "scatter": "Test predictions against the dataset's scores, with the 4-parameter logistic fitted from predictions to MOS (PLCC and RMSE are computed after it).",
        "residuals": "Residuals (MOS − prediction) with the maximum-likelihood normal: centred on zero means unbiased.",
        "qq": "Normal QQ plot of the residuals: points on the line mean normally distributed errors.",
    }
    figures = "".join(
        f'<figure><img src="{esc(Path(p).relative_to(out_dir).as_posix())}" alt="{esc(Path(p).stem)}">'
        f"<figcaption>{esc(captions.get(Path(p).stem.rpartition('_')[2], ''))}</figcaption></figure>"
        for p in plots
    )
    body = [f'<p class="muted"><a href="{esc(up[0])}">&larr; {esc(up[1])}</a></p>'] if up else []
    body += [
        f"<h1>{esc(title)}</h1>",
        f'<p class="lead">{esc(result.summary())}</p>',
    ]
    if result.n_splits > 1:
        body += ["<h2>Summary over splits</h2>", table(result.aggregate.rename_axis("over splits"))]
    body += [
        "<h2>Per split</h2>", table(result.per_split),
        "<h2>Diagnostics</h2>", f'<div class="figures">{figures}</div>',
        "<h2>Photos the model misjudges most</h2>", _misjudged(result, out_dir, worst),
        "<h2>Run record</h2>",
        record(info, ["head", "head_params", "feature_key", "protocol", "n_splits", "test_size", "seed", "head_seeds",
                      "dataset", "scale", "n_images", "train_dataset", "test_dataset", "labels", "weights_source",
                      "plcc_mapping", "versions"]),  # fmt: skip
    ]
    if files:
        body += ["<p class=\"muted\">Files: " + ", ".join(f'<a href="{esc(f)}">{esc(f)}</a>' for f in files) + "</p>"]
    return _write(out_dir, title, "\n".join(body), name=name)


def _misjudged(result: Any, out_dir: Path, worst: int) -> str:
    """Cards of the largest over- and under-predictions, each photo's predictions averaged over its test splits."""
    preds = result.predictions
    if preds.empty:
        return '<p class="muted">No predictions.</p>'
    columns = {"y_true": "mean", "y_pred": "mean", "split": "count"} | ({"path": "first"} if "path" in preds else {})
    per_photo = preds.groupby("id", sort=False).agg(columns).rename(columns={"split": "tests"})
    per_photo["error"] = per_photo["y_pred"] - per_photo["y_true"]
    per_photo = per_photo.sort_values("error")
    k = min(worst, math.ceil(len(per_photo) / 2))
    over, under = per_photo.iloc[::-1].head(k), per_photo.head(k)
    chosen = pd.concat([over, under])
    thumbs = thumbnails(list(chosen["path"]), out_dir) if "path" in chosen else [None] * len(chosen)
    sources = dict(zip(chosen.index, thumbs))

    def cards(rows: pd.DataFrame, kind: str) -> str:
        out = []
        for photo_id, row in rows.iterrows():
            thumb = sources.get(photo_id)
            image = f'<img src="{esc(thumb.src)}" alt="{esc(photo_id)}">' if thumb is not None and thumb.src else (
                f'<div class="muted">{esc(thumb.error) if thumb is not None else "no path recorded"}</div>')
            out.append(
                f'<div class="card">{image}<div class="{kind}">predicted {row["y_pred"]:.3g} · true {row["y_true"]:.3g} '
                f'(<b>{row["error"]:+.3g}</b>)</div><div class="name" title="{esc(photo_id)}">{esc(photo_id)}'
                f"{_tests_note(int(row['tests']))}</div></div>"
            )
        return '<div class="sheet">' + "".join(out) + "</div>"

    return (
        '<p class="muted">Raw head output against the dataset score, averaged over the splits a photo was tested in; '
        "the error is predicted − true.</p>"
        f"<h3>Predicted too high ({len(over)})</h3>{cards(over, 'over')}"
        f"<h3>Predicted too low ({len(under)})</h3>{cards(under, 'under')}"
    )


def _tests_note(tests: int) -> str:
    return "" if tests == 1 else f" · mean of {tests} splits"


def _confidence(sd: np.ndarray) -> list[str]:
    """``high``/``mid``/``low`` confidence: the photo's sd in the lowest, middle or highest third of the report."""
    finite = sd[np.isfinite(sd)]
    if finite.size == 0:
        return ["mid"] * sd.size
    low, high = np.quantile(finite, [1 / 3, 2 / 3])
    return ["high" if s <= low else "mid" if s <= high else "low" for s in np.nan_to_num(sd, nan=np.inf)]


def _failures(problems: Mapping[str, str]) -> str:
    if not problems:
        return ""
    rows = "".join(f'<tr><td class="text">{esc(p)}</td><td class="text">{esc(r)}</td></tr>' for p, r in sorted(problems.items()))
    return (f"<h2>Photos that could not be scored ({len(problems)})</h2>"
            f'<table><thead><tr><th class="text">photo</th><th class="text">reason</th></tr></thead><tbody>{rows}</tbody></table>')  # fmt: skip


def _write(out_dir: Path, title: str, body: str, *, script: str = "", name: str = REPORT_HTML) -> Path:
    """Write the page whole, then rename: a killed run never leaves a torn page that a rerun would reuse."""
    path = out_dir / name
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    partial.write_text(page(title, body, script=script), encoding="utf-8")
    os.replace(partial, path)
    return path
