"""``cross``: train on each database (or a named union of them), test on every other, on z-scored MOS.

Seed 003 (Eq. 4, Tables 5-7) and seed 002 (Table 3) judge generalization this way. Scores are z-scored
per database (DMOS flipped so higher is better, :func:`deepfeat_iqa.datasets.splits.zscore`); a union is the
concatenation of its members' z-scored sets, the paper's "category" training sets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepfeat_iqa.api import Features, as_layer_features
from deepfeat_iqa.datasets import Dataset, Scale
from deepfeat_iqa.errors import ConfigError, DataError
from deepfeat_iqa.features._sets import LayerFeatures
from deepfeat_iqa._json import json_safe
from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.evaluation.results import METRICS, EvaluationResult
from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE


@dataclass
class CrossStudy:
    """Every (train, test) result of a cross-dataset run; :meth:`matrix` is the seeds' table."""

    results: dict[tuple[str, str], EvaluationResult]
    unions: dict[str, list[str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def matrix(self, metric: str = "srocc") -> pd.DataFrame:
        """Train sets as rows, test sets as columns, ``metric`` in the cells (empty where not tested)."""
        if metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
        trains = list(dict.fromkeys(t for t, _ in self.results))
        tests = list(dict.fromkeys(t for _, t in self.results))
        frame = pd.DataFrame(np.nan, index=pd.Index(trains, name="train"), columns=pd.Index(tests, name="test"))
        for (train, test), result in self.results.items():
            frame.loc[train, test] = float(result.per_split[metric].iloc[0])
        return frame

    def to_frame(self) -> pd.DataFrame:
        """One row per (train, test) pair with every metric."""
        rows = [
            {"train": train, "test": test, **{m: float(r.per_split[m].iloc[0]) for m in METRICS}, "n_train": int(r.per_split["n_train"].iloc[0]), "n_test": int(r.per_split["n_test"].iloc[0])}
            for (train, test), r in self.results.items()
        ]
        return pd.DataFrame(rows)

    def to_markdown(self, metrics: Sequence[str] = ("srocc", "plcc")) -> str:
        lines = []
        if self.unions:
            lines += ["Unions: " + "; ".join(f"{u} = {' + '.join(m)}" for u, m in self.unions.items()), ""]
        for metric in metrics:
            lines += [f"{metric.upper()} (rows: trained on, columns: tested on; z-scored MOS)", "", self.matrix(metric).to_markdown(floatfmt=".3f"), ""]
        return "\n".join(lines)

    def to_json(self, path: str | Path | None = None) -> str:
        document = {"info": self.info, "unions": self.unions, "pairs": self.to_frame().to_dict("records")}
        text = json.dumps(json_safe(document, fallback=str, finite=True), indent=2, allow_nan=False)
        if path is not None:
            Path(path).expanduser().write_text(text)
        return text

    def heatmap(self, path: str | Path, metric: str = "srocc") -> Path:
        """A PNG of :meth:`matrix`."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        grid = self.matrix(metric)
        fig, ax = plt.subplots(figsize=(1.8 + 1.1 * grid.shape[1], 1.4 + 0.5 * grid.shape[0]))
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right")
        ax.set_yticks(range(grid.shape[0]), grid.index)
        values = grid.to_numpy(dtype=float)
        middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):  # dark text on the light (high) end of viridis, white on the dark end
                ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white" if value <= middle else "black", fontsize=8)
        ax.set_xlabel("tested on")
        ax.set_ylabel("trained on")
        ax.set_title(f"{metric.upper()} on z-scored MOS", fontsize=10)
        fig.colorbar(image, ax=ax, label=metric.upper())
        from deepfeat_iqa.evaluation.plots import save_figure

        path = save_figure(fig, path, dpi=110)
        plt.close(fig)
        return path


def check_zscorable(name: str, ds: Dataset) -> None:
    """Refuse a database whose scores cannot be z-scored, before any extraction."""
    if ds.mos is None:
        raise DataError(f"Dataset {name!r} has no quality scores; cross-dataset evaluation needs labeled databases.")
    if ds.scale is None:
        raise DataError(f"Dataset {name!r} has no score scale, so DMOS cannot be told from MOS for z-scoring; set dataset.scale.")
    values = np.asarray(ds.mos, dtype=np.float64)
    if values.size < 2 or float(np.std(values)) == 0:
        shown = f"{values[0]:g}" if values.size else "none"
        raise DataError(
            f"Dataset {name!r}: all {values.size} scores are equal ({shown}), so they cannot be z-scored (seed 003 Eq. 4 "
            "divides by their standard deviation); a cross-dataset matrix needs varying scores."
        )


def union_features(name: str, members: dict[str, LayerFeatures]) -> LayerFeatures:
    """The members' features stacked, each member's scores z-scored on its own (a seed-003 "category")."""
    from deepfeat_iqa.datasets.splits import zscore

    parts = list(members.items())
    key = parts[0][1].key
    for member, lf in parts[1:]:
        key.check_matches(lf.key)
    ids, paths, mos, groups, blocks = [], [], [], [], parts[0][1].blocks
    for member, lf in parts:
        z_ds, _ = zscore(lf.dataset)
        ids += [f"{member}/{i}" for i in z_ds.ids]
        paths += list(z_ds.paths)
        mos.append(z_ds.mos)
        groups += [f"{member}/{g}" for g in z_ds.group_ids]
    joined = np.concatenate(mos)
    dataset = Dataset(ids=ids, paths=paths, mos=joined, scale=Scale(float(joined.min()), float(joined.max()), True, "z-MOS"),
                      groups=np.asarray(groups), name=name)  # fmt: skip
    per_view = np.concatenate([lf.X for _, lf in parts], axis=0)[:, None, :]
    return LayerFeatures(key=key, per_view=per_view, dataset=dataset, blocks=blocks)


@renamed_keywords(model="backbone", layer="layers", crops="views")
def cross(
    datasets: Mapping[str, Dataset | Features],
    head: Any = "gpr",
    *,
    backbone: str = DEFAULT_BACKBONE,
    layers: str | Sequence[str] | None = None,
    pooling: str = "avg",
    views: str = "center",
    weights: str = "imagenet",
    unions: Mapping[str, Sequence[str]] | None = None,
    train: Sequence[str] | None = None,
    test: Sequence[str] | None = None,
    store: Any = "cache",
    seed: int = 0,
    precision: str | None = None,
    client: Any = None,
    progress: bool = True,
    **head_options: Any,
) -> CrossStudy:
    """Train on each database (or union) and test on every other database, on z-scored MOS.

    Parameters
    ----------
    datasets:
        Name -> Dataset (features are extracted with ``backbone``/``layers``/... through the store) or
        name -> features already extracted (a FeatureSet or LayerFeatures; all of one kind).
    head, **head_options:
        The head, as in :func:`deepfeat_iqa.evaluate`.
    backbone, layers, pooling, views, weights, store, seed, precision:
        How features are extracted from Datasets (see :func:`deepfeat_iqa.extract`); a list ``layers``
        concatenates layers.
    client:
        Extract on Dask, as :func:`deepfeat_iqa.extract`'s ``client=`` (connected once for every database).
    unions:
        Named training unions, e.g. ``{"category-I": ["live1", "live2"]}``; each is z-scored per member.
    train:
        Training sets (names of datasets or unions); default every dataset and every union.
    test:
        Test databases; default every dataset. A pair is skipped when the test set is the training
        set or one of its union's members.

    Raises
    ------
    DataError
        For a database whose scores are constant or unlabeled (before any extraction).
    ConfigError
        For a union, train or test name that is not a given dataset.
    """
    from deepfeat_iqa.evaluation._evaluate import evaluate_cross

    if len(datasets) < 2:
        raise ConfigError(f"Cross-dataset evaluation needs at least two databases; got {list(datasets)}.")
    unions = {str(k): list(v) for k, v in (unions or {}).items()}
    for union, members in unions.items():
        unknown = [m for m in members if m not in datasets]
        if unknown or len(members) < 1:
            from deepfeat_iqa.errors import unknown_name_error

            raise unknown_name_error(f"dataset in union {union!r}", unknown[0] if unknown else "", datasets)
        if union in datasets:
            raise ConfigError(f"Union {union!r} has the name of a dataset; name it differently.")
    trains = list(train) if train is not None else [*datasets, *unions]
    tests = list(test) if test is not None else list(datasets)
    for name in trains:
        if name not in datasets and name not in unions:
            from deepfeat_iqa.errors import unknown_name_error

            raise unknown_name_error("training set", name, [*datasets, *unions])
    for name in tests:
        if name not in datasets:
            from deepfeat_iqa.errors import unknown_name_error

            raise unknown_name_error("test dataset", name, datasets)
    for name, item in datasets.items():
        check_zscorable(name, item if isinstance(item, Dataset) else as_layer_features(item, _layers(layers, item)).dataset)
    from contextlib import nullcontext

    from deepfeat_iqa.runtime.cluster import connect

    with nullcontext(None) if client is None else connect(client) as live:  # one connection (or LocalCluster) for all
        features = {name: _features(item, backbone=backbone, layers=layers, pooling=pooling, views=views, weights=weights,
                                    store=store, seed=seed, precision=precision, progress=progress, client=live)
                    for name, item in datasets.items()}  # fmt: skip
    results = {}
    for train_name in trains:
        members = unions.get(train_name, [train_name])
        train_lf = union_features(train_name, {m: features[m] for m in members}) if train_name in unions else features[train_name]
        for test_name in tests:
            if test_name in members:
                continue
            results[train_name, test_name] = evaluate_cross(train_lf, features[test_name], head=head, progress=progress, **head_options)
    key = next(iter(features.values())).key
    info = {"feature_key": key.to_dict(), "head": next(iter(results.values())).info["head"] if results else str(head),
            "labels": "z-scored per database (DMOS flipped)", "seed": seed}  # fmt: skip
    return CrossStudy(results=results, unions=unions, info=info)


def _layers(layers: str | Sequence[str] | None, item: Any) -> list[str] | None:
    from deepfeat_iqa.features._sets import FeatureSet

    if isinstance(item, FeatureSet) and len(item) > 1:
        return [layers] if isinstance(layers, str) else list(layers) if layers is not None else list(item)
    return None


def _features(item: Dataset | Features, *, backbone: str, layers: Any, pooling: str, views: str, weights: str, store: Any,
              seed: int, precision: str | None, progress: bool, client: Any = None) -> LayerFeatures:  # fmt: skip
    """One LayerFeatures per database: extracted (via the store) from a Dataset, or the features given."""
    if not isinstance(item, Dataset):
        return as_layer_features(item, _layers(layers, item))
    from deepfeat_iqa.extraction._extract import extract

    names = [layers] if layers is None or isinstance(layers, str) else list(layers)
    feats = extract(item, backbone=backbone, layers=names if names != [None] else None, pooling=pooling, views=views,
                    weights=weights, store=store, seed=seed, precision=precision or "auto", progress=progress,
                    client=client)  # fmt: skip
    lf = feats.only() if len(feats) == 1 else feats.concat()
    return LayerFeatures(key=lf.key, per_view=np.asarray(lf.per_view), dataset=lf.dataset, blocks=lf.blocks)
