"""``Study``: what a sweep computed, read back from the results store as tables, a heatmap and results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa._json import json_safe
from deepfeat_iqa.evaluation.results import METRICS, EvaluationResult
from deepfeat_iqa.studies._results_store import ResultsStore

#: Columns that name a cell, in table order.
CELL_COLUMNS = ("dataset", "backbone", "weights", "layer", "paper_layer", "truncate", "pooling", "views", "head")

#: Note printed with every table that holds random-weight rows, so none is read as a result.
RANDOM_NOTE = "weights=random rows use untrained (random-init) backbones: a smoke check of the pipeline, not a result."


class Study:
    """The cells of one sweep definition and their recorded outcomes.

    Built by :func:`deepfeat_iqa.sweep` (or :func:`deepfeat_iqa.studies.open_study`); everything is read
    from the results store, so a Study of a finished sweep costs no computation.
    """

    def __init__(self, db: ResultsStore, definition_id: str):
        self.db = db
        self.definition_id = definition_id
        self.spec = db.definitions()[definition_id]
        self._cells = db.study_cells(definition_id)

    @property
    def cell_ids(self) -> list[str]:
        return [cell_id for cell_id, _ in self._cells]

    def table(self) -> pd.DataFrame:
        """One row per cell: what it is, its dim, mean and sd of each metric, fit seconds, status and error.

        Failed cells are kept with ``status="failed"`` and their ``error``; cells not computed yet (a
        sweep still running elsewhere) have ``status="missing"``.
        """
        from deepfeat_iqa.evaluation.metrics import aggregate  # scipy: only when a table is asked for

        rows = self.db.rows(self.cell_ids)
        records = []
        for cell_id, display in self._cells:
            row = rows.get(cell_id)
            record = {name: display.get(name) for name in CELL_COLUMNS}
            record["random_weights"] = bool(display.get("random_weights"))
            record.update({"dim": None, "n_splits": None, "fit_s": None, "status": "missing", "error": None, "cell_id": cell_id})
            if row is not None:
                record.update(status=row["status"], error=row["error"], dim=row["dim"], fit_s=row["fit_seconds"])
                if row["status"] == "done":
                    # the same mean/sd (NaN when a split's correlation is undefined) as EvaluationResult.aggregate
                    agg = aggregate([{m: split.get(m) for m in METRICS} for split in row["per_split"]])
                    record["n_splits"] = len(row["per_split"])
                    for metric in METRICS:
                        record[metric] = float(agg.loc["mean", metric])
                        record[f"{metric}_sd"] = float(agg.loc["sd", metric])
            records.append(record)
        columns = [*CELL_COLUMNS, "random_weights", "dim", *[c for m in METRICS for c in (m, f"{m}_sd")], "n_splits", "fit_s", "status", "error", "cell_id"]
        table = pd.DataFrame(records).reindex(columns=columns)
        if table["truncate"].isna().all():
            table = table.drop(columns="truncate")
        return table

    def best(self, k: int = 3, metric: str = "srocc") -> pd.DataFrame:
        """The ``k`` best layers per (dataset, backbone, weights, head, pooling, views): seed 003 Table 1's shape."""
        table = self._done(metric)
        higher = not metric.startswith("rmse")
        keys = ["dataset", "backbone", "weights", "pooling", "views", "head"]
        ranked = table.sort_values(metric, ascending=not higher, kind="stable")
        return ranked[ranked.groupby(keys, sort=False).cumcount() < k].reset_index(drop=True)

    def _done(self, metric: str) -> pd.DataFrame:
        if metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
        table = self.table()
        return table[table["status"] == "done"]

    def result(self, cell_id: str | None = None, **where: Any) -> EvaluationResult:
        """One cell's :class:`EvaluationResult`, by id or by column values (``backbone=..., layer=..., head=...``)."""
        if cell_id is None:
            chosen = self.select(**where)
            if len(chosen) != 1:
                raise ConfigError(f"{len(chosen)} cells match {where}; narrow the selection to one (or pass cell_id).")
            cell_id = chosen["cell_id"].iloc[0]
        return self.db.result(cell_id)

    def results(self, **where: Any) -> dict[str, EvaluationResult]:
        """Results of the finished cells matching ``where``, keyed by a readable label."""
        chosen = self.select(**where)
        chosen = chosen[chosen["status"] == "done"]
        return {_label(row): self.db.result(row["cell_id"]) for _, row in chosen.iterrows()}

    def select(self, **where: Any) -> pd.DataFrame:
        """Table rows whose columns equal the given values (a list/tuple value means any of them)."""
        table = self.table()
        for column, value in where.items():
            if column not in table.columns:
                raise ConfigError(f"Unknown column {column!r}; the study table has {', '.join(table.columns)}.")
            table = table[table[column].isin(value if isinstance(value, (list, tuple, set)) else [value])]
        return table

    def to_markdown(self, metric_columns: tuple[str, ...] = METRICS) -> str:
        """The table as Markdown, metrics as ``mean ± sd``, failed cells marked, random weights flagged."""
        table = self.table()
        shown = table[[c for c in table.columns if c in CELL_COLUMNS or c == "dim"]].copy()
        shown["weights"] = [w + (" (untrained)" if r else "") for w, r in zip(table["weights"], table["random_weights"])]
        for metric in metric_columns:
            shown[metric.upper()] = [_cell_text(row, metric) for _, row in table.iterrows()]
        shown["fit s"] = [f"{s:.2f}" if s is not None and np.isfinite(s) else "" for s in table["fit_s"].astype(float)]
        if (table["status"] == "failed").any():
            shown["error"] = [str(e) if s == "failed" else "" for s, e in zip(table["status"], table["error"])]
        lines = [shown.to_markdown(index=False)]
        if table["random_weights"].any():
            lines += ["", f"Note: {RANDOM_NOTE}"]
        return "\n".join(lines) + "\n"

    def to_json(self, path: str | Path | None = None) -> str:
        """The sweep definition and the table as JSON (written to ``path`` when given)."""
        document = {
            "definition_id": self.definition_id,
            "definition": self.spec,
            "note": RANDOM_NOTE if self.table()["random_weights"].any() else None,
            "cells": self.table().to_dict("records"),
        }
        text = json.dumps(json_safe(document, fallback=str, finite=True), indent=2, allow_nan=False)
        if path is not None:
            Path(path).expanduser().write_text(text)
        return text

    def heatmap(self, path: str | Path, metric: str = "srocc", title: str | None = None) -> Path:
        """A PNG heatmap of ``metric``: one row per backbone/layer (stage order), one column per head (and dataset)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        table = self._done(metric)
        if table.empty:
            raise ConfigError("No finished cell to draw; run the sweep first (failed cells have no metric).")
        rows = [f"{b}{' (random)' if r else ''} / {l}" for b, r, l in zip(table["backbone"], table["random_weights"], table["layer"])]
        cols = [h if table["dataset"].nunique() == 1 else f"{d}: {h}" for d, h in zip(table["dataset"], table["head"])]
        frame = pd.DataFrame({"row": rows, "col": cols, "value": table[metric].astype(float)})
        grid = frame.pivot_table(index="row", columns="col", values="value", aggfunc="max", sort=False)
        label_inches = 0.075 * max(len(str(r)) for r in grid.index)  # room for the longest row label
        fig, ax = plt.subplots(figsize=(3.2 + label_inches + 1.2 * grid.shape[1], 1.4 + 0.32 * grid.shape[0]))
        image = ax.imshow(grid.to_numpy(), cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right")
        ax.set_yticks(range(grid.shape[0]), grid.index)
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value < np.nanmean(grid.to_numpy()) else "black", fontsize=8)
        fig.colorbar(image, ax=ax, label=f"{metric.upper()} (mean over splits)")
        ax.set_xlabel("head" if table["dataset"].nunique() == 1 else "dataset: head")
        ax.set_ylabel("backbone / layer")
        import textwrap

        wrap = max(30, int((3.2 + label_inches + 1.2 * grid.shape[1]) * 72 / 7.5))  # characters per title line
        ax.set_title("\n".join(textwrap.wrap(title or f"{metric.upper()} per layer and head", width=wrap)))
        from deepfeat_iqa.evaluation.plots import save_figure

        path = save_figure(fig, path, dpi=110)
        plt.close(fig)
        return path

    def __repr__(self) -> str:
        table = self.table()
        counts = table["status"].value_counts().to_dict()
        return f"Study({self.definition_id}, {len(table)} cells: {counts})"


def _cell_text(row: pd.Series, metric: str) -> str:
    if row["status"] == "failed":
        return "failed"
    if row["status"] != "done":
        return "missing"
    sd = row[f"{metric}_sd"]
    return f"{row[metric]:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{row[metric]:.3f}"


def _label(row: pd.Series) -> str:
    weights = "" if row["weights"] in ("imagenet", "none") else f"[{row['weights']}]"
    return f"{row['dataset']}/{row['backbone']}{weights}/{row['layer']}/{row['head']}"
