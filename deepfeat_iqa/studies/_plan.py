"""Turning a sweep's arguments into its cell list, validating every name before any work starts.

A typo in the 13th backbone of a sweep must not surface an hour into the run, so backbones, layers,
heads and the protocol are all resolved here (layers against a weightless build of each backbone),
each unknown name raising the package's usual error with close suggestions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, unknown_name_error
from deepfeat_iqa.studies._cells import IMAGE_LAYER, NOT_APPLICABLE, Cell, Protocol

LayerAxis = str | Sequence[str | int] | Mapping[str, str | Sequence[str | int]]
HeadAxis = str | BaseEstimator | tuple[str, Mapping[str, Any]]

#: Protocol names evaluate() accepts (``repeated-80-20`` style spellings are checked there).
_PROTOCOLS = ("repeated", "kfold", "official")


@dataclass(frozen=True)
class HeadChoice:
    """One head axis value: its label, the spec ``evaluate`` takes and its constructor options."""

    label: str
    spec: str | BaseEstimator
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def hashed_options(self) -> tuple[tuple[str, str], ...]:
        if isinstance(self.spec, BaseEstimator):
            params = self.spec.get_params(deep=False)
            return tuple(sorted((k, repr(v)) for k, v in params.items()))
        return tuple(sorted((k, repr(v)) for k, v in self.options))

    @property
    def consumes(self) -> str:
        """``"images"`` for end-to-end heads (one cell per dataset and backbone), else ``"features"``."""
        from deepfeat_iqa.heads import make_head
        from deepfeat_iqa.heads._adapter import consumes

        return consumes(make_head(self.spec, **dict(self.options)))


def as_list(value: Any) -> list[Any]:
    """A scalar axis value as a one-item list."""
    if value is None:
        return []
    if isinstance(value, (str, int, BaseEstimator)) or _is_head_pair(value):
        return [value]
    return list(value)


def _is_head_pair(value: Any) -> bool:
    """``("gpr", {"kernel": "rbf"})``: a head name with its options, one axis value (not two)."""
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], Mapping)


def as_datasets(datasets: Dataset | Mapping[str, Dataset] | Sequence[Dataset]) -> dict[str, Dataset]:
    """Name -> Dataset, refusing unlabeled datasets and name clashes before any work."""
    if isinstance(datasets, Dataset):
        found = {datasets.name: datasets}
    elif isinstance(datasets, Mapping):
        found = dict(datasets)
    else:
        found = {}
        for ds in datasets:
            if ds.name in found:
                raise ConfigError(f"Two datasets are both named {ds.name!r}; pass a dict name -> Dataset to tell them apart.")
            found[ds.name] = ds
    if not found:
        raise ConfigError("No dataset given; pass a Dataset or a dict name -> Dataset.")
    for name, ds in found.items():
        if not isinstance(ds, Dataset):
            raise ConfigError(f"Dataset {name!r} is a {type(ds).__name__}, not a deepfeat_iqa Dataset (see dfi.datasets.load).")
        if ds.mos is None:
            raise ConfigError(f"Dataset {name!r} has no quality scores, so no head can be evaluated on it.")
    return found


def head_choices(heads: HeadAxis | Sequence[HeadAxis]) -> list[HeadChoice]:
    """Validate the head axis: registry names (with options), or unfitted estimators."""
    from deepfeat_iqa.heads import list_heads, make_head

    choices = []
    for head in as_list(heads):
        if isinstance(head, tuple):
            name, options = head
            make_head(name, **dict(options))  # raises on an unknown name or option
            choices.append(HeadChoice(str(name), str(name), tuple(sorted(dict(options).items()))))
        elif isinstance(head, str):
            if head not in list_heads():
                raise unknown_name_error("head", head, list_heads())
            choices.append(HeadChoice(head, head))
        elif isinstance(head, BaseEstimator):
            choices.append(HeadChoice(type(head).__name__, head))
        else:
            raise ConfigError(f"A head is a registry name, (name, options) or an estimator; got {type(head).__name__}.")
    if not choices:
        raise ConfigError("heads= names no head; pass e.g. heads=['svr', 'gpr'].")
    for choice in choices:
        fixed = sorted({"backbone", "weights"} & {name for name, _ in choice.options})
        if fixed and choice.consumes == "images":
            raise ConfigError(
                f"Image head {choice.label!r} is given {', '.join(fixed)}= as a head option, but in a sweep the trunk "
                "comes from the backbones= and weights= axes; drop the option and pass e.g. backbones=['efficientnet_lite0']."
            )
    labels = [c.label + json.dumps(c.hashed_options) for c in choices]
    if len(set(labels)) != len(labels):
        raise ConfigError("The same head is listed twice in heads=.")
    return choices


def check_protocol(protocol: str) -> None:
    import re

    if protocol not in _PROTOCOLS and not re.fullmatch(r"repeated-\d+-\d+", protocol):
        raise unknown_name_error("protocol", protocol, [*_PROTOCOLS, "repeated-80-20"])


def check_backbone(model: str) -> None:
    """Registered backbones, any timm model and the classical extractors are known."""
    from deepfeat_iqa.backbones import get_config
    from deepfeat_iqa.classical import list_classical

    if model in list_classical():
        return
    try:
        get_config(model)
    except ConfigError as error:
        raise ConfigError(f"{error} Classical extractors: {', '.join(list_classical())}.") from None


@dataclass(frozen=True)
class LayerChoice:
    """One layer axis value of one backbone: module path, the label the user gave, and its paper name."""

    path: str
    label: str
    paper: str = ""
    truncate: int | None = None


def layer_choices(model: str, layers: LayerAxis, truncate: Sequence[int] | None) -> list[LayerChoice]:
    """Resolve a backbone's layer axis: ``"stages"``, ``"default"``, a list of names, plus truncations."""
    from deepfeat_iqa.classical import classical_outputs, list_classical

    if model in list_classical():
        return [LayerChoice(path=output, label=output) for output in classical_outputs(model)]
    from deepfeat_iqa.backbones import get_config, resolve_layers

    config = get_config(model)
    wanted = layers.get(model, "stages") if isinstance(layers, Mapping) else layers
    paper_of = {path: name for name, path in config.paper_layers.items()}
    if wanted == "stages":
        if not config.stages:
            raise ConfigError(f"Backbone {model!r} has no stage list; name its layers (see deepfeat_iqa.list_layers({model!r})).")
        labels = list(config.stages)
        paths = list(config.stages.values())
    elif wanted == "default":
        labels = [config.default_layer]
        paths = resolve_layers(config, None)
    else:
        labels = [str(layer) for layer in as_list(wanted)]
        paths = resolve_layers(config, as_list(wanted)) if labels else []
    choices: dict[str, LayerChoice] = {}
    for label, path in zip(labels, paths):
        choices.setdefault(path, LayerChoice(path=path, label=label, paper=paper_of.get(path, "")))
    result = list(choices.values())
    if truncate:
        from deepfeat_iqa.studies._truncation import truncated_layers

        for k, path in truncated_layers(model, truncate).items():
            result.append(LayerChoice(path=path, label=f"cut-{k}", paper=paper_of.get(path, ""), truncate=int(k)))
    if not result:
        raise ConfigError(f"No layer chosen for backbone {model!r}; pass layers='stages', a list of layers, or truncate=[...].")
    return result


def weights_for(model: str, weights: str | Mapping[str, str]) -> str:
    """The weights requested for ``model`` (a mapping may give a ``"default"``); ``"none"`` for classical extractors."""
    from deepfeat_iqa.classical import list_classical

    if model in list_classical():
        return "none"
    if isinstance(weights, Mapping):
        return str(weights.get(model, weights.get("default", "imagenet")))
    return str(weights)


def plan_cells(
    datasets: dict[str, Dataset],
    models: Sequence[str],
    layers: LayerAxis,
    heads: Sequence[HeadChoice],
    *,
    poolings: Sequence[str],
    crops: Sequence[str],
    weights: str | Mapping[str, str],
    truncate: Sequence[int] | None,
    precision: str,
    protocol: Protocol,
) -> tuple[list[Cell], list[dict[str, Any]]]:
    """Every cell in sweep order (dataset, backbone, pooling, views, layer, head) and its display record."""
    from deepfeat_iqa.classical import list_classical
    from deepfeat_iqa.extraction.pooling import parse_pooling

    for spec in poolings:
        parse_pooling(spec)
    feature_heads = [h for h in heads if h.consumes == "features"]
    image_heads = [h for h in heads if h.consumes == "images"]
    # layers are an axis of the feature path only: a sweep of image heads alone resolves none
    choices = {model: layer_choices(model, layers, truncate) for model in models} if feature_heads else {}
    cells, displays = [], []

    def add(cell: Cell, layer: LayerChoice | None) -> None:
        cells.append(cell)
        displays.append(
            {
                "dataset": cell.dataset, "backbone": cell.backbone, "weights": cell.weights,
                "random_weights": cell.weights == "random", "layer": layer.label if layer else IMAGE_LAYER,
                "module": cell.layer, "paper_layer": layer.paper if layer else "", "truncate": cell.truncate,
                "pooling": cell.pooling, "views": cell.views, "head": cell.head,
            }
        )  # fmt: skip

    for ds_name, ds in datasets.items():
        fingerprint = ds.fingerprint()
        for model in models:
            classical = model in list_classical()
            model_weights = weights_for(model, weights)
            for pooling in ["none"] if classical else poolings:
                for views in ["full"] if classical else crops:
                    for layer in choices.get(model, []):
                        for head in feature_heads:
                            cell = Cell(
                                dataset=ds_name, dataset_fingerprint=fingerprint, backbone=model, weights=model_weights,
                                layer=layer.path, pooling=pooling, views=views, precision="fp32" if classical else precision,
                                head=head.label, protocol=protocol, head_options=head.hashed_options,
                                truncate=layer.truncate, layer_label=layer.label,
                            )  # fmt: skip
                            add(cell, layer)
            # an image head trains its own trunk on the images: one cell per backbone, no layer/pooling/views
            for head in [] if classical else image_heads:
                cell = Cell(
                    dataset=ds_name, dataset_fingerprint=fingerprint, backbone=model, weights=model_weights,
                    layer=IMAGE_LAYER, pooling=NOT_APPLICABLE, views=NOT_APPLICABLE, precision=NOT_APPLICABLE,
                    head=head.label, protocol=protocol, head_options=head.hashed_options, layer_label=IMAGE_LAYER,
                )  # fmt: skip
                add(cell, None)
    return cells, displays


def definition_of(cells: Sequence[Cell], spec: dict[str, Any]) -> str:
    """The sweep definition's id: a hash of its spec and its cell ids."""
    text = json.dumps({"spec": spec, "cells": [c.cell_id for c in cells]}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
