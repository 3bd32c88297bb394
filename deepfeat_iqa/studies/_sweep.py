"""``sweep``: every (dataset, backbone, weights, layer, pooling, views, head) cell, computed once and cached.

Image-head cells (end-to-end heads, no layer/pooling/views) are evaluated on the Dataset itself, each
its own group, with no extraction.

Cells that share an extraction (dataset, backbone, weights, pooling, views, precision) are one group:
the backbone is loaded once and all the group's layers come from one forward pass (``extract`` with a
list of layers, reading what the zarr store already has). Each finished cell is one row in the
results store, so a killed sweep resumes at the next missing cell, and a finished sweep reruns without
loading any backbone or reading any feature.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfeat_iqa.errors import ConfigError
from deepfeat_iqa._moved import renamed_keywords
from deepfeat_iqa.runtime.defaults import DEFAULT_BACKBONE
from deepfeat_iqa.studies._cells import Cell, Protocol
from deepfeat_iqa.studies._rerun import call_signature, finished_definition
from deepfeat_iqa.studies._results_store import ResultsStore
from deepfeat_iqa.studies._study import Study

if TYPE_CHECKING:  # the planning, the features and the heads import torch/scikit-learn: only on the way to compute
    from deepfeat_iqa.datasets import Dataset
    from deepfeat_iqa.features._sets import FeatureSet, LayerFeatures
    from deepfeat_iqa.runtime.progress import Progress
    from deepfeat_iqa.studies._plan import HeadAxis, HeadChoice, LayerAxis

logger = logging.getLogger(__name__)


@renamed_keywords(models="backbones", crops="views", n="n_splits")
def sweep(
    datasets: Dataset | Mapping[str, Dataset] | Sequence[Dataset],
    backbones: str | Sequence[str] = DEFAULT_BACKBONE,
    layers: LayerAxis = "stages",
    heads: HeadAxis | Sequence[HeadAxis] = ("svr",),
    *,
    pooling: str | Sequence[str] = "avg",
    views: str | Sequence[str] = "center",
    weights: str | Mapping[str, str] = "imagenet",
    truncate: Sequence[int] | None = None,
    protocol: str = "repeated",
    n_splits: int = 10,
    test_size: float | None = None,
    by: str | None = "group",
    seed: int = 0,
    precision: str | None = None,
    store: str | os.PathLike[str] | None = "cache",
    results: str | os.PathLike[str] = "study.db",
    extend: bool = False,
    retry_failed: bool = False,
    n_jobs: int = 1,
    batch_size: int | None = None,
    device: str | None = None,
    client: Any = None,
    progress: bool = True,
) -> Study:
    """Evaluate every combination of the axes, caching each cell in a results store.

    Parameters
    ----------
    datasets:
        A labeled Dataset, a list of them, or a dict name -> Dataset.
    backbones:
        Backbone names (see :func:`deepfeat_iqa.list_backbones`, any timm name) and classical extractors
        (``"brisque"``, ``"niqe"``; see :mod:`deepfeat_iqa.classical`).
    layers:
        ``"stages"`` (each backbone's stage list), ``"default"``, a list of layer names, or a dict
        backbone -> either of those.
    heads:
        Head registry names (``"svr"``, ``"gpr"``, ...), ``(name, options)`` pairs, or unfitted estimators.
        Image heads (``"spaq-bl"``, ...) are cells too: one per dataset and backbone (trunk from ``models``
        and ``weights``), evaluated on the images on the same splits (layer ``"images"``, pooling/views ``"—"``).
    pooling, views:
        One spec or a list (an axis each); see :func:`deepfeat_iqa.extract`.
    weights:
        ``"imagenet"``, ``"random"``, a file, or a dict backbone -> weights (key ``"default"`` for the rest).
    truncate:
        Truncation ablation (seed 003 Table 10): for each ``k``, a cell on the output of the module left
        last after removing the backbone's last ``k`` modules (``k=0``: the whole network). Added to
        ``layers``; pass ``layers=[]`` for truncation cells only.
    protocol, n_splits, test_size, by, seed:
        As in :func:`deepfeat_iqa.evaluate`; ``seed`` also seeds random crops and random weights.
    precision:
        Feature precision (``None``: ``"auto"`` as in extract, resolved for the device before cells are hashed).
    store:
        The zarr feature store (``"cache"`` default, a path, or ``None`` for memory only).
    results:
        The SQLite results store (``":memory:"`` for none on disk).
    extend:
        Allow adding this sweep's definition to a results store written by another one.
    retry_failed:
        Compute cells recorded as failed again (they are kept as failed otherwise).
    n_jobs:
        Cells of one extraction group are evaluated in this many processes (joblib) when not 1.
    batch_size, device:
        Passed to :func:`deepfeat_iqa.extract`.
    client:
        Extract on Dask, as :func:`deepfeat_iqa.extract`'s ``client=`` (a Client, a scheduler address or
        ``"local"``, connected once for the whole sweep; ``store`` must be a path every worker opens). Checked
        before planning when any cell is left to compute: an unreachable scheduler fails the call, not the cells.
    progress:
        A progress bar over cells.

    Returns
    -------
    Study
        The table, best layers, heatmap and per-cell results of this sweep.

    Examples
    --------
    >>> study = dfi.sweep(ds, backbones=["efficientnet_lite0"], layers="stages", heads=["svr", "gpr"], n_splits=10)  # doctest: +SKIP
    >>> study.best(k=3)  # doctest: +SKIP
    """
    signature = call_signature(datasets, _signed(locals()))
    finished = finished_definition(results, signature, retry_failed=retry_failed)
    if finished is not None:  # a rerun of a finished sweep: nothing to plan, load or compute
        study = Study(ResultsStore(results), finished)
        if study.db.intact(study.cell_ids):  # else a damaged row: plan, and the runner recomputes it
            return study

    from deepfeat_iqa.runtime.cluster import check_reachable, connect
    from deepfeat_iqa.runtime.device import resolve_device
    from deepfeat_iqa.runtime.precision import resolve_precision
    from deepfeat_iqa.studies._plan import (
        as_datasets, as_list, check_backbone, check_protocol, definition_of, head_choices, plan_cells,
    )  # fmt: skip

    if client is not None:
        if store is None:
            raise ConfigError("client= sends blocks to Dask workers, which write to the store: pass a store= every worker can open.")
        check_reachable(client)
    found = as_datasets(datasets)
    model_list = [str(m) for m in as_list(backbones)]
    if not model_list:
        raise ConfigError("backbones= names no backbone; pass e.g. backbones=['efficientnet_lite0'].")
    for model in model_list:
        check_backbone(model)
    check_protocol(protocol)
    choices = head_choices(heads)
    # concrete before it enters any cell hash, as in extract ("auto" is bf16 on a CPU, may be fp16 on a GPU)
    precision = resolve_precision(precision or "auto", resolve_device(device))
    plan = Protocol(protocol=protocol, n_splits=int(n_splits), test_size=test_size, by=by, seed=int(seed))
    cells, displays = plan_cells(
        found, model_list, layers, choices, poolings=as_list(pooling), crops=as_list(views), weights=weights,
        truncate=truncate, precision=precision, protocol=plan,
    )  # fmt: skip
    spec = {
        "datasets": {name: ds.fingerprint() for name, ds in found.items()},
        "models": model_list,
        "weights": weights if isinstance(weights, str) else dict(weights),
        "layers": layers if isinstance(layers, str) else repr(layers),
        "heads": [c.label for c in choices],
        "pooling": as_list(pooling),
        "crops": as_list(views),
        "truncate": list(truncate) if truncate else None,
        "precision": precision,
        **plan.to_dict(),
    }
    db = ResultsStore(results)
    definition_id = definition_of(cells, spec)
    db.register(definition_id, spec, cells, displays, extend=extend)
    db.remember_call(signature, definition_id)
    with contextlib.nullcontext(None) if client is None else connect(client) as live:
        runner = _Runner(db, found, choices, store=store, batch_size=batch_size, device=device, n_jobs=n_jobs,
                         client=live, progress=progress)  # fmt: skip
        runner.run(cells, retry_failed=retry_failed)
    return Study(db, definition_id)


def finished_study(datasets: Dataset | Mapping[str, Dataset] | Sequence[Dataset], *, results: str | os.PathLike[str],
                   **axes: Any) -> Study | None:  # fmt: skip
    """The :class:`Study` that ``sweep(datasets, results=results, **axes)`` would return at once, else ``None``.

    For callers whose own checks of the axes cost more than the answer: the CLI checks backbone, layer
    and head names (which imports torch and timm) only when this returns ``None``. ``axes`` are
    :func:`sweep`'s keywords; left out, they are :func:`sweep`'s defaults.
    """
    import inspect

    bound = inspect.signature(sweep).bind(datasets, results=results, **axes)
    bound.apply_defaults()
    signature = call_signature(datasets, _signed(bound.arguments))
    finished = finished_definition(results, signature, retry_failed=bound.arguments["retry_failed"])
    return None if finished is None else Study(ResultsStore(results), finished)


#: The arguments a call is signed by, under the 0.1 names results stores record (so a rerun of an 0.1 sweep is
#: still recognized) -> :func:`sweep`'s parameter. ``store``, ``batch_size``, ``n_jobs``, ``client`` change no cell.
_SIGNED = {"models": "backbones", "layers": "layers", "heads": "heads", "pooling": "pooling", "crops": "views", "weights": "weights",
           "truncate": "truncate", "protocol": "protocol", "n": "n_splits", "test_size": "test_size", "by": "by", "seed": "seed",
           "precision": "precision", "device": "device"}  # fmt: skip


def _signed(given: Mapping[str, Any]) -> dict[str, Any]:
    """The signed arguments of one call, from its parameters (``locals()`` at entry, or bound arguments)."""
    return {old: given[new] for old, new in _SIGNED.items()}


class _Runner:
    """Computes the missing cells group by group and records each one as soon as it is done."""

    def __init__(self, db: ResultsStore, datasets: dict[str, Dataset], heads: Sequence[HeadChoice], **options: Any):
        self.db = db
        self.datasets = datasets
        self.heads = {h.label + repr(h.hashed_options): h for h in heads}
        self.options = options

    def run(self, cells: Sequence[Cell], *, retry_failed: bool) -> None:
        statuses = self.db.statuses(c.cell_id for c in cells)
        pending = [c for c in cells if statuses.get(c.cell_id) is None or (retry_failed and statuses[c.cell_id] == "failed")]
        groups: dict[tuple, list[Cell]] = {}
        for cell in pending:
            groups.setdefault(cell.group, []).append(cell)
        from deepfeat_iqa.runtime.progress import Progress

        with Progress(len(cells), "sweep cells", "cell", enabled=self.options["progress"]) as bar:
            bar.update(len(cells) - len(pending))
            for group_cells in groups.values():
                self._run_group(group_cells, bar)

    def _run_group(self, cells: list[Cell], bar: Progress) -> None:
        first = cells[0]
        dataset = self.datasets[first.dataset]
        if first.consumes_images:  # the group of one image head: trained on the images, nothing to extract
            for cell in cells:
                self._record(cell, _evaluate_cell(cell, dataset, self._head(cell), self._trunk_options(cell)))
                bar.update()
            return
        try:
            features = self._features(first, dataset, sorted({c.layer for c in cells}))
        except Exception as error:  # noqa: BLE001 - a failed extraction fails its cells, the sweep carries on
            logger.warning("Extraction for %s failed: %s", first.label(), error)
            for cell in cells:
                self.db.write_failure(cell, error)
                bar.update()
            return
        jobs = [(cell, features[cell.layer]) for cell in cells]
        n_jobs = int(self.options["n_jobs"])
        if n_jobs == 1:
            outcomes = (_evaluate_cell(cell, lf, self._head(cell)) for cell, lf in jobs)
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=n_jobs, return_as="generator")
            outcomes = parallel(delayed(_evaluate_cell)(cell, lf, self._head(cell)) for cell, lf in jobs)
        for cell, outcome in zip(cells, outcomes):
            self._record(cell, outcome)
            bar.update()

    def _record(self, cell: Cell, outcome: tuple[str, Any, float, int | None, str]) -> None:
        kind, value, seconds, dim, weights_sha = outcome
        if kind == "done":
            self.db.write_result(cell, value, dim=dim, weights_sha256=weights_sha, fit_seconds=seconds)
        else:
            logger.warning("Cell %s failed: %s", cell.label(), value)
            self.db.write_failure(cell, value)

    def _trunk_options(self, cell: Cell) -> dict[str, Any]:
        """The image head's trunk from the cell's backbone and weights axes (and the sweep's device= if set)."""
        options: dict[str, Any] = {"backbone": cell.backbone, "weights": cell.weights}
        if self.options["device"] is not None and "device" not in dict(self._head(cell).options):
            options["device"] = self.options["device"]
        return options

    def _head(self, cell: Cell) -> HeadChoice:
        return self.heads[cell.head + repr(cell.head_options)]

    def _features(self, cell: Cell, dataset: Dataset, layers: list[str]) -> FeatureSet:
        """All layers of the group from one extraction, read into memory (workers get plain arrays)."""
        from deepfeat_iqa.classical import extract_classical, list_classical
        from deepfeat_iqa.features._sets import FeatureSet

        if cell.backbone in list_classical():
            found = extract_classical(dataset, cell.backbone, store=self.options["store"], progress=self.options["progress"])
        else:
            from deepfeat_iqa.extraction._extract import extract

            found = extract(
                dataset, backbone=cell.backbone, layers=layers, pooling=cell.pooling, views=cell.views, weights=cell.weights,
                store=self.options["store"], batch_size=self.options["batch_size"], device=self.options["device"],
                precision=cell.precision, seed=cell.protocol.seed, progress=self.options["progress"],
                client=self.options["client"],
            )  # fmt: skip
        return FeatureSet({name: replace(lf, per_view=np.asarray(lf.per_view)) for name, lf in found.items()})


def _evaluate_cell(
    cell: Cell, inputs: LayerFeatures | Dataset, head: HeadChoice, trunk: Mapping[str, Any] | None = None
) -> tuple[str, Any, float, int | None, str]:
    """Evaluate one cell; an exception becomes a ``("failed", message, ...)`` outcome, never a stopped sweep.

    ``inputs`` is the cell's cached layer for a feature head, or the Dataset for an image head (then
    ``trunk`` carries its backbone and weights); ``evaluate`` draws the same splits for both from the seed.
    """
    from deepfeat_iqa.evaluation._evaluate import evaluate

    start = time.perf_counter()
    try:
        protocol = cell.protocol
        # The official split is the publisher's: evaluate refuses split settings it would ignore.
        settings = {} if protocol.protocol == "official" else {
            "n_splits": protocol.n_splits, "test_size": protocol.test_size, "by": protocol.by, "seed": protocol.seed,
        }  # fmt: skip
        if trunk is None:
            result = evaluate(inputs, head=head.spec, protocol=protocol.protocol, progress=False, **settings, **dict(head.options))
        else:
            # built here, not through evaluate's **head_options: an image head's own progress=/layers= are
            # evaluate's keywords too, and would be taken as those
            from deepfeat_iqa.heads import make_head

            estimator = make_head(head.spec, **{**dict(head.options), **dict(trunk)})
            result = evaluate(inputs, head=estimator, protocol=protocol.protocol, progress=False, **settings)
            result.info["head"] = head.label  # the registry name, as evaluate records it for a named head
    except Exception as error:  # noqa: BLE001 - recorded with the cell
        return "failed", f"{type(error).__name__}: {error}", time.perf_counter() - start, *_input_record(inputs, None)
    return "done", result, time.perf_counter() - start, *_input_record(inputs, result)


def _input_record(inputs: LayerFeatures | Dataset, result: Any) -> tuple[int | None, str]:
    """``(dim, weights)`` stored with a cell: the feature dim and weights fingerprint, or the image head's weights."""
    from deepfeat_iqa.features._sets import LayerFeatures

    if isinstance(inputs, LayerFeatures):
        return inputs.dim, inputs.key.weights
    record = (result.info.get("feature_key") or {}) if result is not None else {}
    return None, str(record.get("weights", ""))


def open_study(results: str | Path, definition: str | None = None) -> Study:
    """Reopen a finished (or partial) study from its results store, without recomputing anything."""
    db = ResultsStore(results)
    known = db.definitions()
    if not known:
        raise ConfigError(f"Results store {str(results)!r} holds no sweep yet.")
    if definition is None:
        if len(known) > 1:
            raise ConfigError(f"Results store {str(results)!r} holds {len(known)} sweeps ({', '.join(known)}); pass definition=.")
        definition = next(iter(known))
    if definition not in known:
        raise ConfigError(f"Results store {str(results)!r} has no sweep {definition!r}; it has {', '.join(known)}.")
    return Study(db, definition)
