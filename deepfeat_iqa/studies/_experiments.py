"""Experiment files: one TOML file per seed table, validated completely before any work, run by the CLI.

A file names its databases (registry loaders, roots given on the command line), one ``[sweep]`` or
``[cross]`` section with the arguments of :func:`~deepfeat_iqa.studies.sweep` /
:func:`~deepfeat_iqa.studies.cross`, and an optional ``[report]`` (``significance = true`` adds seed
003 Table 9's matrix over the sweep's cells). ``smoke=True`` swaps the databases for small synthetic
sets built from pristine photos, keeps EfficientNet-Lite's real weights and gives every other backbone
random weights: every row then says ``weights = random`` so no such number passes for a result.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from deepfeat_iqa.datasets import Dataset
from deepfeat_iqa.errors import ConfigError, DataError, unknown_name_error

#: Keys each section accepts (anything else is a typo, refused with the closest key).
_SECTIONS: dict[str, tuple[str, ...]] = {
    "experiment": ("name", "kind", "paper", "description"),
    "sweep": ("backbones", "layers", "heads", "pooling", "views", "weights", "truncate", "protocol", "n_splits", "test_size", "by", "seed", "precision"),
    "cross": ("backbone", "layers", "head", "pooling", "views", "weights", "unions", "train", "test", "seed", "precision"),
    "report": ("significance", "metric", "best"),
    "smoke": ("per_image", "max_side", "references", "n_splits", "backbones"),
}
#: Keys files of 0.1 used (old -> new): read under the new name, with a FutureWarning naming the line to change.
_RENAMED_KEYS: dict[str, dict[str, str]] = {
    "sweep": {"models": "backbones", "crops": "views", "n": "n_splits"},
    "cross": {"model": "backbone", "layer": "layers", "crops": "views"},
    "smoke": {"models": "backbones", "n": "n_splits"},
}
KINDS = ("sweep", "cross")
#: Environment variable naming a folder of pristine photos for smoke runs.
PRISTINE_ENV = "DEEPFEAT_IQA_PRISTINE"
#: Backbones whose ImageNet weights ship offline (a pip package); smoke mode keeps their real weights.
OFFLINE_WEIGHTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
#: Smoke-mode sizes: references used, distortions each, long side, and the most splits per cell.
SMOKE_REFERENCES, SMOKE_PER_IMAGE, SMOKE_MAX_SIDE, SMOKE_MAX_N = 12, 6, 256, 3


@dataclass
class Experiment:
    """One parsed experiment file."""

    path: Path
    name: str
    kind: str
    paper: str
    datasets: dict[str, str]
    settings: dict[str, Any]
    report: dict[str, Any] = field(default_factory=dict)
    smoke: dict[str, Any] = field(default_factory=dict)


def load_experiment(path: str | Path) -> Experiment:
    """Parse and check the structure of an experiment file (names are checked by :func:`validate`)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"Experiment file {str(path)!r} does not exist.")
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error}).") from error
    for section, body in document.items():
        if section == "datasets":
            continue
        if section not in _SECTIONS:
            raise _unknown_key(path, "section", section, [*_SECTIONS, "datasets"])
        body = document[section] = _renamed_keys(path, section, body)
        for key in body:
            if key not in _SECTIONS[section]:
                raise _unknown_key(path, f"key in [{section}]", key, _SECTIONS[section])
    meta = document.get("experiment", {})
    kind = meta.get("kind", "sweep")
    if kind not in KINDS:
        raise ConfigError(f"{path}: [experiment] kind = {kind!r}; it must be one of {', '.join(KINDS)}.")
    if kind not in document:
        raise ConfigError(f"{path}: kind = {kind!r} needs a [{kind}] section with its settings.")
    datasets = document.get("datasets", {})
    if not datasets or not all(isinstance(v, str) for v in datasets.values()):
        raise ConfigError(f"{path}: [datasets] must map each name to a loader, e.g. tid2013 = \"tid2013\".")
    return Experiment(
        path=path, name=meta.get("name", path.stem), kind=kind, paper=meta.get("paper", ""), datasets=dict(datasets),
        settings=dict(document[kind]), report=dict(document.get("report", {})), smoke=dict(document.get("smoke", {})),
    )  # fmt: skip


def _renamed_keys(path: Path, section: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the 0.1 keys of ``section`` under their new names (warning once per key)."""
    out = dict(body)
    for old, new in _RENAMED_KEYS.get(section, {}).items():
        if old not in out:
            continue
        if new in out:
            raise ConfigError(f"{path}: [{section}] has both {old} (the 0.1 name) and {new}; keep only {new}.")
        warnings.warn(f"{path}: [{section}] {old} = ... is now {new} = ...; the old key goes in 0.3.", FutureWarning, stacklevel=3)
        out[new] = out.pop(old)
    return out


def _unknown_key(path: Path, kind: str, name: str, known: Any) -> ConfigError:
    return ConfigError(f"{path}: {unknown_name_error(kind, name, known)}")


def parse_roots(pairs: list[str]) -> dict[str, Path]:
    """``["live=/data/live", ...]`` -> ``{"live": Path}``, refusing malformed pairs."""
    roots = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or not folder:
            raise ConfigError(f"--root {pair!r}: expected NAME=DIR, e.g. --root tid2013=/data/TID2013.")
        roots[name.strip()] = Path(folder.strip()).expanduser()
    return roots


def smoke_settings(experiment: Experiment, backbones_override: list[str] | None = None) -> dict[str, Any]:
    """The experiment's settings for smoke mode: offline weights where they exist, random elsewhere, few splits."""
    settings = dict(experiment.settings)
    if experiment.kind == "sweep":
        backbones = backbones_override or experiment.smoke.get("backbones") or settings["backbones"]
        settings["backbones"] = backbones
        settings["weights"] = {b: ("imagenet" if b in OFFLINE_WEIGHTS else "random") for b in backbones}
        settings["n_splits"] = min(int(settings.get("n_splits", 10)), int(experiment.smoke.get("n_splits", SMOKE_MAX_N)))
        if isinstance(settings.get("layers"), Mapping):
            settings["layers"] = {b: v for b, v in settings["layers"].items() if b in backbones}
    else:
        backbone = (backbones_override or experiment.smoke.get("backbones") or [settings.get("backbone", "efficientnet_lite0")])[0]
        settings["backbone"] = backbone
        settings["weights"] = "imagenet" if backbone in OFFLINE_WEIGHTS else "random"
        if backbone != experiment.settings.get("backbone"):
            settings.pop("layers", None)
    settings["views"] = "center"  # one view per image keeps smoke runs short
    return settings


def validate(experiment: Experiment, roots: Mapping[str, Path], *, smoke: bool, backbones_override: list[str] | None = None) -> dict[str, Any]:
    """Check every name and root before any work; return the settings the run will use.

    :func:`check_file`, then :func:`check_names`.

    Raises
    ------
    ConfigError
        Unknown loader, backbone, layer, head, protocol, union member, or a --root for no dataset.
    DataError
        A dataset root that is missing (outside smoke mode), naming the dataset and the folder.
    """
    settings = check_file(experiment, roots, smoke=smoke, backbones_override=backbones_override)
    check_names(experiment, settings)
    return settings


def check_file(experiment: Experiment, roots: Mapping[str, Path], *, smoke: bool, backbones_override: list[str] | None = None) -> dict[str, Any]:
    """The checks that need no backbone registry (loaders, roots, union members); return the settings the run will use.

    Cheap (no torch), so a rerun of a finished sweep, which needs nothing else, runs only these.
    """
    from deepfeat_iqa.datasets import list_datasets
    from deepfeat_iqa.datasets._registry import resolve_name

    for name, loader in experiment.datasets.items():
        try:
            resolve_name(loader)
        except ConfigError:
            raise ConfigError(f"{experiment.path}: dataset {name!r}: {unknown_name_error('dataset loader', loader, list_datasets())}") from None
    for name in roots:
        if name not in experiment.datasets:
            raise ConfigError(f"--root {name}=...: {unknown_name_error('dataset', name, experiment.datasets)}")
    if not smoke:
        for name in experiment.datasets:
            if name not in roots:
                raise DataError(f"Dataset {name!r} of {experiment.path.name} has no root; pass --root {name}=DIR (or --smoke for a synthetic run).")
            if not roots[name].is_dir():
                raise DataError(f"Dataset {name!r}: root {str(roots[name])!r} does not exist or is not a folder; pass --root {name}=DIR.")
    settings = smoke_settings(experiment, backbones_override) if smoke else dict(experiment.settings)
    if backbones_override and not smoke:
        if experiment.kind == "sweep":
            settings["backbones"] = backbones_override
        else:
            settings["backbone"] = backbones_override[0]
    if experiment.kind == "cross":
        _check_cross_sets(settings, experiment.datasets)
    return settings


def check_names(experiment: Experiment, settings: Mapping[str, Any]) -> None:
    """Check backbones, layers, heads and the protocol against their registries (imports torch and timm)."""
    if experiment.kind == "sweep":
        _validate_sweep(settings)
    else:
        _validate_cross(settings)


def _validate_sweep(settings: Mapping[str, Any]) -> None:
    from deepfeat_iqa.studies._plan import (
        as_list,
        check_backbone,
        check_protocol,
        head_choices,
        layer_choices,
    )

    backbones = as_list(settings.get("backbones"))
    if not backbones:
        raise ConfigError("[sweep] backbones is empty; name at least one backbone.")
    for backbone in backbones:
        check_backbone(backbone)
    for backbone in backbones:
        layer_choices(backbone, settings.get("layers", "stages"), settings.get("truncate"))
    head_choices(settings.get("heads", ["svr"]))
    check_protocol(settings.get("protocol", "repeated"))


def _validate_cross(settings: Mapping[str, Any]) -> None:
    from deepfeat_iqa.backbones import resolve_layers
    from deepfeat_iqa.studies._plan import check_backbone, head_choices

    backbone = settings.get("backbone", "efficientnet_lite0")
    check_backbone(backbone)
    layers = settings.get("layers")
    resolve_layers(backbone, layers if layers is None or isinstance(layers, str) else list(layers))
    head_choices([settings.get("head", "gpr")])


def _check_cross_sets(settings: Mapping[str, Any], datasets: Mapping[str, str]) -> None:
    """Union members, training and test sets name datasets of the file (or unions, for training)."""
    unions = settings.get("unions", {})
    for union, members in unions.items():
        for member in members:
            if member not in datasets:
                raise unknown_name_error(f"dataset in union {union!r}", member, datasets)
    for name in settings.get("train", []):
        if name not in datasets and name not in unions:
            raise unknown_name_error("training set", name, [*datasets, *unions])
    for name in settings.get("test", []):
        if name not in datasets:
            raise unknown_name_error("test dataset", name, datasets)


def load_datasets(experiment: Experiment, roots: Mapping[str, Path], *, smoke: bool, cache: Path, references: Path | None, seed: int = 0,
                  progress: bool = True) -> dict[str, Dataset]:  # fmt: skip
    """The real databases (loaded from their roots) or, in smoke mode, one small synthetic set per database name."""
    from deepfeat_iqa import datasets as dsets

    if not smoke:
        return {name: dsets.load(loader, roots[name]) for name, loader in experiment.datasets.items()}
    from deepfeat_iqa import synth

    configured = experiment.smoke.get("references")
    folder = references if references is not None else (experiment.path.parent / configured if configured else None)
    refs = _smoke_references(folder, cache)
    per_image = int(experiment.smoke.get("per_image", SMOKE_PER_IMAGE))
    max_side = int(experiment.smoke.get("max_side", SMOKE_MAX_SIDE))
    found = {}
    for i, name in enumerate(experiment.datasets):
        kind = "synthetic" if i % 2 == 0 else "authentic"
        out = cache / f"smoke-{kind}-{len(refs)}refs-{per_image}x-{max_side}px-seed{seed + i}"
        ds = synth.build(refs, out, kind=kind, per_image=per_image, seed=seed + i, max_side=max_side, n_jobs=1, progress=progress)
        from dataclasses import replace

        found[name] = replace(ds, name=f"smoke-{name}")
    return found


def shared_pristine() -> Path | None:
    """``$DEEPFEAT_IQA_PRISTINE``, else the first ``shared/data/pristine`` folder above this checkout (the project's photos)."""
    if os.environ.get(PRISTINE_ENV):
        return Path(os.environ[PRISTINE_ENV]).expanduser()
    return next((p / "shared" / "data" / "pristine" for p in Path(__file__).resolve().parents if (p / "shared" / "data" / "pristine").is_dir()), None)


def _smoke_references(folder: Path | None, cache: Path) -> list[Path]:
    """Pristine photos for smoke sets: the given folder, else ``$DEEPFEAT_IQA_PRISTINE``, else a
    ``shared/data/pristine`` folder beside the checkout (the project's shared photos), else the bundled photos."""
    from deepfeat_iqa.datasets import IMAGE_SUFFIXES

    candidate = folder if folder is not None else shared_pristine()
    if candidate is not None and candidate.is_dir():
        paths = sorted(p for p in candidate.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if paths:
            step = max(1, len(paths) // SMOKE_REFERENCES)
            return paths[::step][:SMOKE_REFERENCES]
    if folder is not None:
        raise DataError(f"--references {str(folder)!r} holds no images.")
    from deepfeat_iqa import synth

    return list(synth.reference_photos(cache / "references"))



@dataclass
class ExperimentOutput:
    """What a run wrote: the Markdown report (also returned as text), the JSON and the heatmap."""

    markdown: str
    paths: list[Path]


def run_experiment(
    experiment: Experiment,
    settings: dict[str, Any],
    datasets: dict[str, Dataset],
    *,
    out_dir: Path,
    smoke: bool,
    results: Path,
    store: Any,
    n_jobs: int = 1,
    extend: bool = False,
    client: Any = None,
    progress: bool = True,
) -> ExperimentOutput:
    """Run a validated experiment and write ``<out_dir>/<name>.{md,json,png,html}``."""
    from deepfeat_iqa.studies._html_report import experiment_page, sweep_page

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / (experiment.name + ("-smoke" if smoke else ""))
    header = [f"# {experiment.name}" + (" (smoke run)" if smoke else ""), ""]
    if experiment.paper:
        header += [f"Reproduces: {experiment.paper}.", ""]
    if smoke:
        header += [
            "**Smoke run**: small synthetic sets built from pristine photos stand in for the databases "
            f"({', '.join(f'{k} -> {v.name}' for k, v in datasets.items())}); EfficientNet-Lite keeps its real ImageNet weights, "
            "every other backbone has random weights (see the weights column). These numbers check the pipeline; they are "
            "not the paper's experiment.",
            "",
        ]
    if experiment.kind == "sweep":
        from deepfeat_iqa.studies._significance import significance
        from deepfeat_iqa.studies._study import RANDOM_NOTE
        from deepfeat_iqa.studies._sweep import sweep

        study = sweep(datasets, **settings, store=store, results=results, n_jobs=n_jobs, extend=extend, client=client,
                      progress=progress)  # fmt: skip
        body = ["## All cells", "", study.to_markdown()]
        k = int(experiment.report.get("best", 3))
        metric = experiment.report.get("metric", "srocc")
        best = study.best(k=k, metric=metric)
        columns = [c for c in ("dataset", "backbone", "weights", "layer", "paper_layer", "head", "dim", "srocc", "plcc", "krocc", "rmse") if c in best]
        best["weights"] = [w + (" (untrained)" if r else "") for w, r in zip(best["weights"], best["random_weights"])]
        body += ["", f"## Best {k} layers per backbone and head", "", best[columns].to_markdown(index=False, floatfmt=".4f")]
        if best["random_weights"].any():
            body += ["", f"Note: {RANDOM_NOTE}"]
        paths = [stem.with_suffix(".json")]
        study.to_json(paths[0])
        heatmap = None
        if len(study.table().query("status == 'done'")):
            heatmap = study.heatmap(stem.with_suffix(".png"), title=experiment.name + (" (smoke)" if smoke else ""))
            paths.append(heatmap)
        paths.append(sweep_page(study, stem.with_suffix(".html"), header[0].lstrip("# "), heatmap=heatmap,
                                best=(f"Best {k} layers per backbone and head", best[[*columns, "cell_id"]]),
                                notes=[f"Reproduces: {experiment.paper}."] if experiment.paper else [], metric=metric))  # fmt: skip
        if experiment.report.get("significance"):
            for name in datasets:
                found = study.results(dataset=name)
                if len(found) >= 2:
                    matrix = significance(found, metric=metric)
                    body += ["", f"## One-sided paired t-tests on {name} (seed 003 Table 9)", "", matrix.to_markdown()]
                    matrix.to_json(stem.with_name(f"{stem.name}-significance-{name}.json"))
                    paths.append(stem.with_name(f"{stem.name}-significance-{name}.json"))
    else:
        from deepfeat_iqa.studies._cross import cross

        options = dict(settings)
        head = options.pop("head", "gpr")
        study = cross(datasets, head=head, **options, store=store, client=client, progress=progress)
        body = [f"Features: {study.info['feature_key']}; head {study.info['head']}; weights {settings.get('weights', 'imagenet')}.", "",
                study.to_markdown(metrics=("srocc", "plcc", "krocc", "rmse"))]  # fmt: skip
        paths = [stem.with_suffix(".json"), study.heatmap(stem.with_suffix(".png"))]
        study.to_json(paths[0])
        matrices = [(f"{m.upper()} (rows: trained on, columns: tested on; z-scored MOS)", study.matrix(m)) for m in ("srocc", "plcc", "krocc", "rmse")]
        paths.append(experiment_page(stem.with_suffix(".html"), header[0].lstrip("# "), heatmap=paths[1], tables=matrices,
                                     notes=[f"Features: {study.info['feature_key']}; head {study.info['head']}."]))  # fmt: skip
    markdown = "\n".join(header + body) + "\n"
    md_path = stem.with_suffix(".md")
    md_path.write_text(markdown)
    return ExperimentOutput(markdown=markdown, paths=[md_path, *paths])
