"""Accuracy on real human judgments: every recipe over the same content-separated splits of clive-dev.

    python benchmarks/real_accuracy.py                         # every row, split seed 0 (choose here)
    python benchmarks/real_accuracy.py --seed 1 --rows confirm # the chosen recipe and the baseline, seed 1
    python benchmarks/real_accuracy.py --report                # tables from the rows finished so far

10 content-separated 80/20 splits (``dfi.splits.repeated``, seed 0; every photo of clive-dev is its own
content), the same splits for every row; image heads train on the first 5 of them (2 CPU cores), and
their t-test pairs only those splits. Each row reports SROCC/PLCC/KROCC mean ± sd, minutes of fitting,
and a paired t-test of its per-split SROCC against the baseline row (frozen EfficientNet-Lite0 GPR on
blocks 3-6 + conv_head, ``avg+std``, whole image). Features are extracted in fp32 once into the store
and reused by every row. Finished rows are kept in ``<out>/real_accuracy_rows.jsonl`` so a killed run
resumes where it stopped; ``--report`` writes ``real_accuracy.json`` and ``real_accuracy.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clive-dev"
OUT = Path(__file__).resolve().parent / "results"
STAGES = ["block3", "block4", "block5", "block6", "conv_head"]
DEEP = ["block4", "block5", "block6", "conv_head"]
LITE = [f"efficientnet_lite{i}" for i in range(3)]
BASELINE = "L0 GPR b3-6+head avg+std full (baseline)"
#: SPAQ-BL trained like a plain PyTorch fine-tune: one rate for all, no frozen epochs, no validation hold-out.
PLAIN_BL = dict(epochs=8, batch_size=32, lr=3e-4, trunk_lr=None, freeze_trunk_epochs=0, val_fraction=0.0,
                test_views="grid", precision="auto")  # fmt: skip
#: Seed 002's stage 1 at a 2-core size: authentic-like mixtures (seed 002 §2.1, as for LIVEC), pseudo-MOS from
#: the full-reference metrics against their reference, the multi-task loss (type/level + pseudo-MOS).
STAGE1 = dict(variant="multi", epochs=4, batch_size=32, lr=1e-4, trunk_lr=1e-4, crop_size=224, resize=256)
#: Stage 2: the quality-aware head trained like the SPAQ-BL plain row (only the start and the FC head differ).
STAGE2 = dict(epochs=8, batch_size=32, lr=3e-4, trunk_lr=None, crops_per_image=1, target_level="image",
              test_views="grid", val_fraction=0.0)  # fmt: skip
PRISTINE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pristine"


def clive_dev(data: Path = DATA) -> Any:
    """clive-dev as a Dataset, or ``None`` (saying so) where the shared data is absent: every clive-dev script's start."""
    if not (data / "labels.csv").is_file():
        print(f"clive-dev not found under {data}: nothing measured.")
        return None
    import deepfeat_iqa as dfi

    return dfi.datasets.load_folder(data / "images", data / "labels.csv")


def member(backbone: str, layers: list[str], pooling: str, head: str = "gpr", views: str = "full512", per_crop: bool = False,
           crop_summary: str = "mean", **options: Any) -> dict:  # fmt: skip
    spec = dict(backbone=backbone, layers=tuple(layers), pooling=pooling, views=views, head=head, per_crop=per_crop, options=options)
    return {**spec, "crop_summary": crop_summary} if crop_summary != "mean" else spec


BEST_MEMBERS = [member(LITE[0], DEEP, "avg"), member(LITE[1], DEEP, "avg+std"), member(LITE[2], DEEP, "avg+std")]
#: The first recommended recipe (the bundled model until Lite1/2 moved to grid crops): BEST_MEMBERS plus Lite0 on grid crops.
GRID_MEMBERS = [*BEST_MEMBERS, member(LITE[0], STAGES, "avg", views="grid512")]
#: The previous recommendation: Lite1 and Lite2 on grid crops too.
ALL_GRID_MEMBERS = [BEST_MEMBERS[0], GRID_MEMBERS[3], member(LITE[1], DEEP, "avg+std", views="grid512"),
                    member(LITE[2], DEEP, "avg+std", views="grid512")]  # fmt: skip
#: ALL_GRID_MEMBERS and a crop-level GPR on Lite0's random crops, every GPR keeping its rows in float16.
SMALL = {"rows_dtype": "float16"}
CROP_L0 = member(LITE[0], STAGES, "avg", views="random9in512@seed0", per_crop=True, **SMALL)
FIVE_MEMBERS = [*({**m, "options": SMALL} for m in ALL_GRID_MEMBERS), CROP_L0]
#: The previous recommendation: three of the five, the crop-level member weighing twice.
THREE_MEMBERS = [FIVE_MEMBERS[0], FIVE_MEMBERS[2], {**CROP_L0, "weight": 2.0}]
#: The recommended recipe (heads/_combination.DEFAULT_MEMBERS): the same three under the center prior.
RECOMMENDED_MEMBERS = [member(LITE[0], DEEP, "center-avg", **SMALL), member(LITE[1], DEEP, "avg+std", views="grid512@center", **SMALL),
                       {**member(LITE[0], STAGES, "avg", views="random9in512@seed0", per_crop=True, crop_summary="center-median", **SMALL),
                        "weight": 2.0}]  # fmt: skip
PREVIOUS = "Combination mean: L0 full + L1 grid + crop-level L0 random9in512 x2, float16 rows (previous recommendation)"
RECOMMENDED = "Combination mean: the same three under the center prior (recommended)"
#: The lead beyond it (docs/real-accuracy.md): three crop-level GPRs (per_crop=True, 9 random crops) added to the recipe.
CROP_MEMBERS = [*ALL_GRID_MEMBERS, member(LITE[0], STAGES, "avg", views="random9@seed0", per_crop=True),
                member(LITE[1], DEEP, "avg+std", views="random9@seed0", per_crop=True),
                member(LITE[2], DEEP, "avg+std", views="random9@seed0", per_crop=True)]  # fmt: skip

ROWS: dict[str, dict[str, Any]] = {
    BASELINE: dict(kind="features", backbone=LITE[0], layers=STAGES, pooling="avg+std", views="full", head="gpr"),
    "L0 GPR conv_head avg center (old CLI default)": dict(kind="features", backbone=LITE[0], layers=["conv_head"], pooling="avg", views="center", head="gpr"),
    "L0 GPR b4-6+head avg full512": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg", views="full512", head="gpr"),
    "L0 GPR b4-6+head avg+std full": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg+std", views="full", head="gpr"),
    "L0 GPR b2-6+head avg+std full": dict(kind="features", backbone=LITE[0], layers=["block2", *STAGES], pooling="avg+std", views="full", head="gpr"),
    "L0 GPR b4-6+head avg+std resize": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg+std", views="resize", head="gpr"),
    "L0 GPR b4-6+head avg+std grid": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg+std", views="grid", head="gpr"),
    "L0 linear SVR b4-6+head avg full512": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg", views="full512", head="svr"),
    "L0 RBF SVR b4-6+head avg full512": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg", views="full512", head="rbf-svr"),
    "L0 MLP b4-6+head avg full512": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="avg", views="full512", head="mlp"),
    "L1 GPR b4-6+head avg+std full512": dict(kind="features", backbone=LITE[1], layers=DEEP, pooling="avg+std", views="full512", head="gpr"),
    "L2 GPR b4-6+head avg+std full512": dict(kind="features", backbone=LITE[2], layers=DEEP, pooling="avg+std", views="full512", head="gpr"),
    "Combination mean: GPR on L0+L1+L2": dict(kind="combination", members=BEST_MEMBERS, combiner="mean"),
    "Combination stack: GPR on L0+L1+L2": dict(kind="combination", members=BEST_MEMBERS, combiner="stack"),
    "L0 GPR b3-6+head avg grid512": dict(kind="features", backbone=LITE[0], layers=STAGES, pooling="avg", views="grid512", head="gpr"),
    "Combination mean: GPR on L0+L1+L2 whole photo + L0 grid": dict(kind="combination", members=GRID_MEMBERS, combiner="mean"),
    "L1 GPR b4-6+head avg+std grid512": dict(kind="features", backbone=LITE[1], layers=DEEP, pooling="avg+std", views="grid512", head="gpr"),
    "L2 GPR b4-6+head avg+std grid512": dict(kind="features", backbone=LITE[2], layers=DEEP, pooling="avg+std", views="grid512", head="gpr"),
    "Combination mean: GPR on L0 full + L0/L1/L2 grid": dict(kind="combination", members=ALL_GRID_MEMBERS, combiner="mean"),
    "Combination mean: L0 full + L0/L1/L2 grid + crop-level L0 random9in512, float16 rows": dict(
        kind="combination", members=FIVE_MEMBERS, combiner="mean"),
    PREVIOUS: dict(kind="combination", members=THREE_MEMBERS, combiner="mean"),
    "L0 GPR b4-6+head center-avg full512": dict(kind="features", backbone=LITE[0], layers=DEEP, pooling="center-avg", views="full512", head="gpr"),
    "L1 GPR b4-6+head avg+std grid512@center": dict(kind="features", backbone=LITE[1], layers=DEEP, pooling="avg+std", views="grid512@center", head="gpr"),
    "Combination of one: crop-level L0 random9in512, crops' mean": dict(kind="combination", members=[CROP_L0], combiner="mean"),
    "Combination of one: crop-level L0 random9in512, crops' center-median": dict(
        kind="combination", members=[{**CROP_L0, "crop_summary": "center-median"}], combiner="mean"),
    RECOMMENDED: dict(kind="combination", members=RECOMMENDED_MEMBERS, combiner="mean"),
    "Combination mean: L0 full + L0/L1/L2 grid + crop-level GPR on L0/L1/L2 random9 (per_crop)": dict(kind="combination", members=CROP_MEMBERS, combiner="mean"),
    "SPAQ-BL L0 (head defaults)": dict(kind="image", head="spaq-bl", options={}),
    "GPR on fine-tuned L0 b4-6+head avg full512 (fine-tune then extract)": dict(kind="finetune", layers=DEEP, pooling="avg", views="full512", options=PLAIN_BL),
    "SPAQ-BL L0 plain recipe (8 ep, 3e-4, grid test)": dict(kind="image", head="spaq-bl", options=PLAIN_BL),
    "Two-stage (seed 002): L0 pretrained on pristine-photo mixtures, then fine-tuned": dict(kind="two-stage", source="pristine", options=STAGE2),
    "Two-stage (seed 002): L0 pretrained on each split's training photos, then fine-tuned": dict(kind="two-stage", source="split", options=STAGE2),
    "Quality-aware head from ImageNet, the same stage 2 (two-stage control)": dict(kind="image", head="quality-aware", options=STAGE2),
}
#: Rows made from finished rows' test predictions: the mean of their z-scored predictions per split
#: (``dfi.ensemble``), on the splits all of them ran. The combination head does the same with training-set
#: statistics; this avoids training the image head a second time inside a combination.
ENSEMBLES = {
    "Ensemble: L0+L1+L2 + L0 grid combination + SPAQ-BL plain": ["Combination mean: GPR on L0+L1+L2 whole photo + L0 grid", "SPAQ-BL L0 plain recipe (8 ep, 3e-4, grid test)"],
    "Ensemble: L0+L1+L2 + L0 grid combination + fine-tune-then-extract GPR": ["Combination mean: GPR on L0+L1+L2 whole photo + L0 grid", "GPR on fine-tuned L0 b4-6+head avg full512 (fine-tune then extract)"],
    "Ensemble: L0+L1+L2 + L0 grid combination + two-stage (pristine)": ["Combination mean: GPR on L0+L1+L2 whole photo + L0 grid", "Two-stage (seed 002): L0 pretrained on pristine-photo mixtures, then fine-tuned"],
}
#: The rows rerun on the seed-1 splits to confirm the choice (``--rows confirm``).
CONFIRM = [BASELINE, RECOMMENDED, PREVIOUS, "L0 GPR b4-6+head center-avg full512", "L1 GPR b4-6+head avg+std grid512@center",
           "Combination of one: crop-level L0 random9in512, crops' mean", "Combination of one: crop-level L0 random9in512, crops' center-median",
           "L0 GPR b4-6+head avg full512",
           "Combination mean: L0 full + L0/L1/L2 grid + crop-level L0 random9in512, float16 rows",
           "Combination mean: GPR on L0 full + L0/L1/L2 grid",
           "Combination mean: L0 full + L0/L1/L2 grid + crop-level GPR on L0/L1/L2 random9 (per_crop)",
           "Combination mean: GPR on L0+L1+L2 whole photo + L0 grid", "L0 GPR b3-6+head avg grid512",
           "L1 GPR b4-6+head avg+std grid512", "L2 GPR b4-6+head avg+std grid512"]
IMAGE_SPLITS = 5


def run_row(name: str, spec: dict[str, Any], ds: Any, splits: list, store: str, out: Path, seed: int) -> dict[str, Any]:
    import deepfeat_iqa as dfi

    started = time.perf_counter()
    extract_s = 0.0
    if spec["kind"] == "features":
        feats = dfi.extract(ds, backbone=spec["backbone"], layers=spec["layers"], pooling=spec["pooling"], views=spec["views"],
                            precision="fp32", store=store, progress=False)  # fmt: skip
        extract_s = time.perf_counter() - started
        result = dfi.evaluate(feats, head=spec["head"], layers=spec["layers"], splits=splits, progress=False)
    elif spec["kind"] == "combination":
        chosen = splits[:IMAGE_SPLITS] if spec.get("image") else splits
        result = dfi.evaluate(ds, head="combination", members=spec["members"], combiner=spec["combiner"],
                              precision="fp32", store=store, splits=chosen, progress=False)  # fmt: skip
    else:  # image heads and fine-tune-then-extract: one split at a time, each kept as soon as it is done
        return split_by_split(name, spec, ds, splits[:IMAGE_SPLITS], store, out, seed)
    per_split = result.per_split
    row = {"row": name, "spec": spec, "n_splits": len(per_split), "fit_minutes": round((time.perf_counter() - started - extract_s) / 60, 2),
           "extract_minutes": round(extract_s / 60, 2),
           "predictions": result.predictions[["id", "split", "y_true", "y_pred"]].to_dict(orient="list")}  # fmt: skip
    for metric in ("srocc", "plcc", "krocc", "rmse"):
        values = per_split[metric].to_numpy(dtype=float)
        row[metric] = [round(float(v), 5) for v in values]
    return row


def split_by_split(name: str, spec: dict[str, Any], ds: Any, splits: list, store: str, out: Path, seed: int) -> dict[str, Any]:
    """A slow row (training per split) computed one split at a time into ``<out>/real_accuracy_splits.jsonl``.

    On 2 shared cores one fine-tune takes 10-30 minutes; keeping each split as it finishes (and training with a
    checkpoint directory) means a stopped run loses at most the split in progress, and ``--report`` can show a
    row on the splits it has (its split count says so).
    """
    import deepfeat_iqa as dfi

    done = {(r["row"], r["seed"], r["split"]): r for r in read_splits(out)}
    for index, split in enumerate(splits):
        if (name, seed, index) in done:
            continue
        started = time.perf_counter()
        checkpoints = out / "checkpoints" / f"{hashlib.sha256(f'{name}|{seed}'.encode()).hexdigest()[:12]}-split{index}"
        if spec["kind"] == "finetune":
            options = {k: v for k, v in spec["options"].items() if k != "precision"}
            weights = dfi.finetune(ds.subset(split.train), backbone=LITE[0], progress=False, checkpoint_dir=str(checkpoints), **options)
            feats = dfi.extract(ds, backbone=LITE[0], weights=weights, layers=spec["layers"], pooling=spec["pooling"], views=spec["views"],
                                store=store, progress=False)  # fmt: skip
            result = dfi.evaluate(feats, head="gpr", layers=spec["layers"], splits=[split], progress=False)
        elif spec["kind"] == "two-stage":
            stage1 = stage1_weights(spec["source"], ds, split, out / "checkpoints" / "two-stage", f"seed{seed}-split{index}")
            result = dfi.evaluate(ds, head="quality-aware", weights=stage1, splits=[split], progress=False,
                                  checkpoint_dir=str(checkpoints), **spec["options"])  # fmt: skip
        else:
            result = dfi.evaluate(ds, head=spec["head"], splits=[split], progress=False, checkpoint_dir=str(checkpoints), **spec["options"])
        record = {"row": name, "seed": seed, "split": index, "minutes": round((time.perf_counter() - started) / 60, 2),
                  **{m: round(float(result.per_split[m].iloc[0]), 5) for m in ("srocc", "plcc", "krocc", "rmse")},
                  "predictions": result.predictions.assign(split=index)[["id", "split", "y_true", "y_pred"]].to_dict(orient="list")}  # fmt: skip
        with (out / "real_accuracy_splits.jsonl").open("a") as fh:
            fh.write(json.dumps(record) + "\n")
        print(f"   split {index}: SROCC {record['srocc']:.4f} ({record['minutes']:.1f} min)", flush=True)
        done[name, seed, index] = record
    return row_from_splits(name, spec, [done[name, seed, i] for i in range(len(splits)) if (name, seed, i) in done])


def stage1_weights(source: str, ds: Any, split: Any, folder: Path, split_name: str) -> Any:
    """Seed 002's stage 1, kept as a file: once from the pristine photos, or per split from its training photos.

    ``"split"`` follows seed 002 §2.1 for an authentic database: the mixtures are applied to the target's own
    training photos and pseudo-labelled against them, so no test photo's content enters stage 1 (``exclude``
    checks it). Sizes fit 2 cores: 8 mixtures per pristine photo (736 images), 1 per training photo (about 465
    images, rebuilt for every split); seed 002 makes far more.
    """
    import deepfeat_iqa as dfi
    from deepfeat_iqa.pretrain import PretrainedWeights, pretrain

    name = "pristine" if source == "pristine" else split_name
    path = folder / f"{name}-stage1.safetensors"
    if path.is_file():
        return PretrainedWeights.load(path)
    references = sorted(PRISTINE.rglob("*.png")) if source == "pristine" else [Path(p) for p in ds.subset(split.train).paths]
    synth = dfi.synth.build(references, folder / f"{name}-set", kind="authentic", per_image=8 if source == "pristine" else 1,
                            max_side=512, progress=False)  # fmt: skip
    exclude = () if source == "pristine" else ds.subset(split.test)
    weights = pretrain(synth, backbone=LITE[0], exclude=exclude, checkpoint_dir=str(folder / f"{name}-ckpt"), progress=False, **STAGE1)
    weights.save(path)
    return weights


def read_splits(out: Path) -> list[dict[str, Any]]:
    path = out / "real_accuracy_splits.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def row_from_splits(name: str, spec: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """A row of the finished splits of a split-by-split row (fewer than :data:`IMAGE_SPLITS` while it runs)."""
    predictions: dict[str, list] = {"id": [], "split": [], "y_true": [], "y_pred": []}
    for record in records:
        for key in predictions:
            predictions[key] += record["predictions"][key]
    return {"row": name, "spec": spec, "n_splits": len(records), "fit_minutes": round(sum(r["minutes"] for r in records), 2),
            "extract_minutes": 0.0, "predictions": predictions,
            **{m: [r[m] for r in records] for m in ("srocc", "plcc", "krocc", "rmse")}}  # fmt: skip


def ensemble_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The :data:`ENSEMBLES` whose parts have finished (with predictions), as rows like the others."""
    import pandas as pd
    from scipy.stats import kendalltau, pearsonr, spearmanr

    made = []
    for name, parts in ENSEMBLES.items():
        found = [next((r for r in rows if r["row"] == part and "predictions" in r), None) for part in parts]
        if any(f is None for f in found):
            continue
        frames = [pd.DataFrame(f["predictions"]) for f in found]
        common = sorted(set.intersection(*(set(f["split"]) for f in frames)))
        metrics: dict[str, list[float]] = {"srocc": [], "plcc": [], "krocc": [], "rmse": []}
        for split in common:
            parts_z = []
            for frame in frames:
                rows_of = frame[frame["split"] == split].set_index("id").sort_index()
                parts_z.append((rows_of["y_pred"] - rows_of["y_pred"].mean()) / rows_of["y_pred"].std())
            y_true = frames[0][frames[0]["split"] == split].set_index("id").sort_index()["y_true"]
            z = sum(parts_z) / len(parts_z)
            metrics["srocc"].append(float(spearmanr(z, y_true).statistic))
            metrics["plcc"].append(float(pearsonr(z, y_true).statistic))
            metrics["krocc"].append(float(kendalltau(z, y_true).statistic))
            metrics["rmse"].append(float("nan"))
        made.append({"row": name, "n_splits": len(common), "fit_minutes": round(sum(f["fit_minutes"] for f in found), 2),
                     "seed": found[0]["seed"], **{k: [round(v, 5) for v in vs] for k, vs in metrics.items()}})  # fmt: skip
    return made


def partial_rows(done: list[dict[str, Any]], out: Path) -> list[dict[str, Any]]:
    """Rows still running split by split, on the splits they have (named as such in the table)."""
    finished = {(r["row"], r["seed"]) for r in done}
    by_row: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in read_splits(out):
        by_row.setdefault((record["row"], record["seed"]), []).append(record)
    return [{**row_from_splits(name, ROWS.get(name, {}), sorted(records, key=lambda r: r["split"])), "seed": seed}
            for (name, seed), records in by_row.items() if (name, seed) not in finished]  # fmt: skip


def summarize(rows: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    from scipy.stats import ttest_rel

    rows = rows + ensemble_rows(rows)

    base = next((r for r in rows if r["row"] == BASELINE), None)
    table = []
    for r in rows:
        entry = {"row": r["row"], "splits": r["n_splits"], "fit_minutes": r["fit_minutes"], "machine": r.get("machine", "made from other rows")}
        for metric in ("srocc", "plcc", "krocc"):
            values = np.asarray(r[metric])
            entry[f"{metric}_mean"], entry[f"{metric}_sd"] = round(float(values.mean()), 4), round(float(values.std(ddof=1)), 4)
        if base is not None and r is not base:
            n = min(len(r["srocc"]), len(base["srocc"]))  # image rows: the first 5 of the same splits
            diff = np.asarray(r["srocc"][:n]) - np.asarray(base["srocc"][:n])
            entry["vs_baseline"] = round(float(diff.mean()), 4)
            entry["p_paired"] = float(ttest_rel(r["srocc"][:n], base["srocc"][:n]).pvalue) if n > 1 and diff.std() > 0 else None
        table.append(entry)
    table.sort(key=lambda e: -e["srocc_mean"])
    return {"seed": seed, "rows": table}


def markdown(summary: dict[str, Any]) -> str:
    machines = {}
    for e in summary["rows"]:
        machines[e["machine"]] = machines.get(e["machine"], 0) + 1
    measured = "; ".join(f"{name} ({count} rows)" for name, count in machines.items())
    lines = [f"### clive-dev, split seed {summary['seed']} (content-separated 80/20; image heads: first {IMAGE_SPLITS} splits)",
             f"Rows measured on: {measured}. Scores do not depend on the machine; fit minutes do.", "",
             "| row | splits | SROCC | PLCC | KROCC | vs baseline (paired t, p) | fit min |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for e in summary["rows"]:
        vs = "—" if "vs_baseline" not in e else f"{e['vs_baseline']:+.4f}" + (f" (p={e['p_paired']:.3g})" if e.get("p_paired") is not None else "")
        lines.append(f"| {e['row']} | {e['splits']} | {e['srocc_mean']:.4f} ± {e['srocc_sd']:.4f} | {e['plcc_mean']:.4f} ± {e['plcc_sd']:.4f} "
                     f"| {e['krocc_mean']:.4f} ± {e['krocc_sd']:.4f} | {vs} | {e['fit_minutes']:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--rows", default="all", help="'all', 'confirm', or a comma-separated list of row-name substrings")
    parser.add_argument("--store", default=os.environ.get("REAL_ACCURACY_STORE", "cache"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--report", action="store_true", help="only write the tables from finished rows")
    args = parser.parse_args()
    ds = None if args.report else clive_dev(args.data)
    if ds is None and not args.report:
        return 2
    import deepfeat_iqa as dfi
    from deepfeat_iqa.runtime import machine

    args.out.mkdir(parents=True, exist_ok=True)
    done_path = args.out / "real_accuracy_rows.jsonl"
    done = [json.loads(line) for line in done_path.read_text().splitlines()] if done_path.is_file() else []
    if not args.report:
        splits = dfi.splits.repeated(ds, n_splits=args.splits, test_size=0.2, seed=args.seed)
        wanted = CONFIRM if args.rows == "confirm" else list(ROWS) if args.rows == "all" else [
            name for name in ROWS if any(part.strip() in name for part in args.rows.split(","))]  # fmt: skip
        for name in wanted:
            if any(r["row"] == name and r["seed"] == args.seed for r in done):
                continue
            print(f"-- {name} (seed {args.seed})", flush=True)
            row = {**run_row(name, ROWS[name], ds, splits, args.store, args.out, args.seed), "seed": args.seed, "machine": machine.one_line()}
            if row["n_splits"] < (IMAGE_SPLITS if ROWS[name]["kind"] in ("image", "finetune", "two-stage") else len(splits)):
                continue  # not all splits yet (split-by-split rows resume from real_accuracy_splits.jsonl)
            with done_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            done.append(row)
            print(f"   SROCC {np.mean(row['srocc']):.4f} ± {np.std(row['srocc'], ddof=1):.4f} over {row['n_splits']} splits, "
                  f"{row['fit_minutes']:.1f} min", flush=True)  # fmt: skip
    record = machine.describe()
    done = done + partial_rows(done, args.out)
    summaries = [summarize([r for r in done if r["seed"] == seed], seed) for seed in sorted({r["seed"] for r in done})]
    (args.out / "real_accuracy.json").write_text(json.dumps({"machine": record, "tables": summaries}, indent=2))
    (args.out / "real_accuracy.md").write_text("\n".join(markdown(s) for s in summaries))
    print("\n".join(markdown(s) for s in summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
