"""Image heads: engine throughput vs a bare training loop, and accuracy vs GPR on frozen and fine-tuned features.

Throughput (random weights: speed does not depend on the values): the engine's ``fit_network`` (DataLoader
workers decoding photos, fresh random 224 crops, autocast, optimizer and schedule) against the floor, a bare
forward+backward+step loop over one pre-made tensor batch, same network, precision and batch size.

Accuracy (EfficientNet-Lite0 ImageNet weights): on a labelled set (default: the synthetic set built from the
shared pristine photos with ``dfi.synth``; ``--dataset NAME --root DIR`` for a real database), over the same
content-separated splits: SPAQ-BL fine-tuned end to end, GPR on frozen multi-layer features, and GPR on
the features of the BL's own fine-tuned trunk (seed 003 §3.3), SROCC/PLCC mean ± sd and minutes.
``--recipes`` adds SPAQ's multi-task models. A set without SPAQ's side labels gets stand-ins, named as such
in the table: MT-E has no EXIF and reduces to BL (the run checks that its predictions equal BL's); MT-S
learns the DCNNS scene clusters (k-means, k=4, on the 37-dim descriptor) as its scenes; MT-A learns five
objective image statistics named as SPAQ's attributes (:data:`ATTRIBUTE_PROXIES`): proxies, not human ratings.

    python benchmarks/end_to_end.py                    # default: throughput + accuracy on a synthetic subset
    python benchmarks/end_to_end.py --dataset koniq10k --root /data/koniq --refs 0 --epochs 10
    python benchmarks/end_to_end.py --skip-throughput --recipes bl,mt-e,mt-a,mt-s --tag mt   # -> end_to_end_accuracy_mt.*
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from deepfeat_iqa.runtime.machine import describe as describe_machine, one_line as one_line_machine
import deepfeat_iqa as dfi
from deepfeat_iqa.heads import make_head
from deepfeat_iqa.evaluation.metrics import summary
from deepfeat_iqa.training import (
    Pipeline,
    TrainData,
    TrainSettings,
    fit_network,
)
from deepfeat_iqa.runtime.precision import autocast, memory_format, resolve_precision

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"

# ../shared from the main checkout; a worktree elsewhere names it with DEEPFEAT_IQA_SHARED.
PRISTINE = Path(os.environ.get("DEEPFEAT_IQA_SHARED", ROOT.parent / "shared")) / "data" / "pristine"
GPR_LAYERS = ["blocks.2", "blocks.4", "blocks.6", "pool"]

#: Recipe -> (table label, head, extra head options). Only the BL recipes also feed GPR with their fine-tuned
#: trunk (seed 003's fine-tune-then-extract fine-tunes a plain regression network).
RECIPES = {
    "bl": ("SPAQ-BL (pool)", "spaq-bl", {}),
    "bl-multi": ("SPAQ-BL (4 layers pooled)", "spaq-bl", {"layers": tuple(GPR_LAYERS)}),
    "mt-e": ("SPAQ-MT-E (pool; no EXIF in this set: reduces to BL)", "spaq-mt-e", {}),
    "mt-a": ("SPAQ-MT-A (pool; attributes = image-statistic PROXIES, not human ratings)", "spaq-mt-a", {}),
    "mt-s": ("SPAQ-MT-S (pool, split last stage; scenes = DCNNS k-means clusters, k=4)", "spaq-mt-s", {}),
}

#: SPAQ's five attribute names (seed 001 §3), filled here by objective statistics of the image itself. They are
#: PROXIES: SPAQ's attributes are human ratings. They live in this benchmark, not in the library, so that no
#: user mistakes them for attribute labels; MT-A on them says only whether the engine's attribute task runs and
#: what an auxiliary image-statistics task does to quality accuracy on this set.
ATTRIBUTE_PROXIES = {
    "brightness": "mean BT.601 luminance (0-1)",
    "colorfulness": "Hasler-Suesstrunk colorfulness M3 (RGB 0-255)",
    "contrast": "RMS contrast: standard deviation of the luminance (0-1)",
    "noisiness": "Immerkaer's (1996) noise sd of the luminance (0-1): Laplacian-difference kernel, mean absolute response",
    "sharpness": "log10 of the variance of the luminance's Laplacian (scipy.ndimage.laplace)",
}


def throughput(model: str, batch: int, rounds: int, fit_epochs: int, photos: list[Path]) -> dict:
    """Images/s of the engine (first epoch: pixel cache cold; a later fit: warm) and of the bare loop.

    One epoch is every photo once (distinct files, so the first epoch decodes each of them). Engine
    and floor alternate ``rounds`` times under the same load; the best of each is kept. Each round's
    cold epoch starts from an empty pixel cache; the warm one is a second one-epoch fit on the same
    cache, as the next epoch, split or fit finds it (worker start included: a fixed cost per fit).
    Last, one whole ``fit_epochs``-epoch fit from an empty cache against as many floor steps: what a
    user's fit sees, first epoch and all.
    """
    import tempfile

    from deepfeat_iqa.training._side_tasks import SideTasks

    head = make_head("spaq-bl", backbone=model, weights="random")
    network, loss, geometry, transform = head.build_network(SideTasks(targets={}), pretrained=True)
    device = torch.device("cpu")
    precision = resolve_precision("auto", device)
    steps = len(photos) // batch
    n = steps * batch
    paths = photos[:n]
    targets = {"quality": np.linspace(-1, 1, n).astype(np.float32)}
    settings = TrainSettings(epochs=1, batch_size=batch, lr=1e-4, schedule="constant", precision=precision,
                             device="cpu", num_workers=None, progress=False)  # fmt: skip
    state = {k: v.clone() for k, v in network.state_dict().items()}
    _bare(network, loss, batch, 1, geometry.size, precision)  # warm-up: oneDNN picks kernels on first shapes
    runs: dict[str, list[float]] = {"cold": [], "warm": [], "floor": []}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cache:
            os.environ["DEEPFEAT_IQA_PIXEL_CACHE"] = cache
            for label in ("cold", "warm"):
                network.load_state_dict(state)
                start = time.perf_counter()
                fit_network(network, loss, TrainData(paths, targets), None, settings=settings,
                            pipeline=Pipeline(geometry, transform), val_view=dfi.views.parse_views("center", geometry))  # fmt: skip
                runs[label].append(n / (time.perf_counter() - start))
        network.load_state_dict(state)
        runs["floor"].append(n / _bare(network, loss, batch, steps, geometry.size, precision))
        print(model, {k: round(v[-1], 2) for k, v in runs.items()}, flush=True)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DEEPFEAT_IQA_PIXEL_CACHE"] = cache
        network.load_state_dict(state)
        start = time.perf_counter()
        fit_network(network, loss, TrainData(paths, targets), None, settings=replace(settings, epochs=fit_epochs),
                    pipeline=Pipeline(geometry, transform), val_view=dfi.views.parse_views("center", geometry))  # fmt: skip
        whole = fit_epochs * n / (time.perf_counter() - start)
    network.load_state_dict(state)
    whole_floor = fit_epochs * n / _bare(network, loss, batch, fit_epochs * steps, geometry.size, precision)
    print(model, f"{fit_epochs}-epoch fit", round(whole, 2), "floor", round(whole_floor, 2), flush=True)
    os.environ.pop("DEEPFEAT_IQA_PIXEL_CACHE", None)
    best = {k: max(v) for k, v in runs.items()}
    return {"model": model, "weights": "random (speed does not depend on the values)", "batch": batch, "steps": steps,
            "images": n, "rounds": rounds, "precision": precision, "workers": settings.num_workers or "default",
            "engine_cold_img_s": round(best["cold"], 2), "engine_warm_img_s": round(best["warm"], 2),
            "floor_img_s": round(best["floor"], 2), "ratio_cold": round(best["cold"] / best["floor"], 3),
            "ratio_warm": round(best["warm"] / best["floor"], 3),
            "ratio_warm_per_round": [round(w / f, 3) for w, f in zip(runs["warm"], runs["floor"])],
            "fit_epochs": fit_epochs, "fit_img_s": round(whole, 2), "fit_floor_img_s": round(whole_floor, 2),
            "ratio_fit": round(whole / whole_floor, 3)}  # fmt: skip


def _bare(network, loss, batch: int, steps: int, size: tuple[int, int], precision: str) -> float:
    """Seconds for ``steps`` forward+backward+step on one pre-made batch: the floor."""
    fmt = memory_format(precision, torch.device("cpu"))
    network.to(memory_format=fmt).train()
    x = torch.randn(batch, 3, *size).contiguous(memory_format=fmt)
    y = {"quality": torch.linspace(-1, 1, batch)}
    optimizer = torch.optim.AdamW(network.parameters(), lr=1e-4)
    start = time.perf_counter()
    for _ in range(steps):
        with autocast(precision, torch.device("cpu")):
            out = network(x)
        value = loss(network, {k: v.float() for k, v in out.items()}, y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return time.perf_counter() - start


def dataset(args: argparse.Namespace):
    """The real database (``--dataset/--root``), or a synthetic set from half Kodak24, half CBSD68 references."""
    if args.dataset:
        ds = dfi.datasets.load(args.dataset, root=args.root)
        if args.refs:
            keep = sorted(set(ds.group_ids))[: args.refs]
            ds = ds.subset(np.flatnonzero(np.isin(ds.group_ids, keep)))
        return ds
    kodak, cbsd = (sorted((PRISTINE / name).glob("*.png")) for name in ("kodak24", "cbsd68"))
    half = args.refs // 2
    refs = kodak[:half] + cbsd[: args.refs - half] if args.refs else kodak + cbsd
    out = OUT / ".cache" / f"synthetic-{len(refs)}refs-{args.per_image}"
    return dfi.synth.build(refs, out, per_image=args.per_image, max_side=384, seed=0, progress=False)


#: Immerkaer's noise-estimation kernel: the difference of two Laplacians, blind to edges and smooth ramps
#: (skimage's estimate_sigma would need PyWavelets, which is not installed).
_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def attribute_proxies(paths: list[Path]) -> pd.DataFrame:
    """One row of :data:`ATTRIBUTE_PROXIES` per image (objective statistics, not human ratings)."""
    from scipy.ndimage import convolve, laplace

    from deepfeat_iqa.inputs.images import load_rgb

    rows = []
    for path in paths:
        rgb = load_rgb(path).astype(np.float64)
        luma = (rgb @ np.array([0.299, 0.587, 0.114])) / 255.0
        rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
        rows.append({
            "brightness": luma.mean(),
            "colorfulness": np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()),
            "contrast": luma.std(),
            "noisiness": np.sqrt(np.pi / 2) * np.abs(convolve(luma, _IMMERKAER)[1:-1, 1:-1]).mean() / 6,
            "sharpness": np.log10(laplace(luma).var() + 1e-12),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(ATTRIBUTE_PROXIES))


def with_stand_in_labels(ds, recipes: list[str]):
    """Side labels for MT-A/MT-S on a set that has none: attribute proxies, and scene clusters as scenes."""
    from dataclasses import replace

    from deepfeat_iqa.patchcnn import with_scene_clusters

    if "mt-a" in recipes and ds.attributes is None:
        ds = replace(ds, attributes=attribute_proxies(list(ds.paths)))
    if "mt-s" in recipes and ds.scenes is None:
        ds = with_scene_clusters(ds, k=4, seed=0)  # unsupervised, on every image once (seed 000's practice)
        clusters = ds.scene_clusters["cluster"].to_numpy()
        ds = replace(ds, scenes=pd.DataFrame(np.eye(4)[clusters], columns=[f"cluster{k}" for k in range(4)]))
    return ds


def accuracy(args: argparse.Namespace) -> tuple[list[dict], dict]:
    names = [name.strip() for name in args.recipes.split(",")]
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        raise SystemExit(f"--recipes: unknown {unknown}; choose from {', '.join(RECIPES)}")
    ds = with_stand_in_labels(dataset(args), names)
    partial = OUT / f"end_to_end_partial{_suffix(args)}.json"
    splits = dfi.splits.repeated(ds, n_splits=args.splits, test_size=0.2, seed=0)
    common = {"model": "efficientnet_lite0", "store": None, "num_workers": 1, "progress": False, "crops": "grid"}
    start = time.perf_counter()
    frozen = dfi.extract(ds, weights="imagenet", layers=GPR_LAYERS, **common)
    extract_minutes = (time.perf_counter() - start) / 60
    rows: dict[str, list[dict]] = {}
    minutes: dict[str, float] = {}
    start = time.perf_counter()
    gpr_frozen = dfi.evaluate(frozen, head="gpr", layers=GPR_LAYERS, splits=splits, progress=False)
    minutes["GPR, frozen features (4 layers)"] = (time.perf_counter() - start) / 60 + extract_minutes
    rows["GPR, frozen features (4 layers)"] = gpr_frozen.per_split.to_dict("records")
    print("GPR frozen", gpr_frozen.summary(), flush=True)
    predictions: dict[str, list[np.ndarray]] = {}
    for name in names:
        label, head_name, _ = RECIPES[name]
        rows[label], minutes[label], predictions[name] = [], 0.0, []
        if head_name == "spaq-bl" and not args.no_tuned_gpr:
            rows[f"GPR, fine-tuned features of {label}"], minutes[f"GPR, fine-tuned features of {label}"] = [], 0.0
    # Split by split (every recipe on one split, then the next): a run stopped part-way has all methods on the
    # same finished splits, so --from-partial still compares like with like.
    for split in splits:
        train, test = ds.subset(split.train), ds.subset(split.test)
        for name in names:
            label, head_name, extra = RECIPES[name]
            tuned_label = f"GPR, fine-tuned features of {label}"
            t0 = time.perf_counter()
            head = make_head(head_name, epochs=args.epochs, batch_size=8, accumulate=2, crop_size=args.crop, num_workers=1,
                             progress=False, **extra)  # fmt: skip
            head.fit(train, attributes=train.attributes, exif=train.exif, scenes=train.scenes)
            predicted = head.predict(test)
            minutes[label] += (time.perf_counter() - t0) / 60
            rows[label].append(summary(test.mos, predicted))
            predictions[name].append(predicted)
            if head_name == "spaq-bl" and not args.no_tuned_gpr:
                t0 = time.perf_counter()
                tuned = dfi.extract(ds, weights=head.trunk_state_dict(), layers=GPR_LAYERS, **common)
                gpr = dfi.evaluate(tuned, head="gpr", layers=GPR_LAYERS, splits=[split], progress=False)
                minutes[tuned_label] += (time.perf_counter() - t0) / 60
                rows[tuned_label].append(gpr.per_split.iloc[0].to_dict())
            print(label, round(rows[label][-1]["srocc"], 4), rows.get(tuned_label, [{}])[-1].get("srocc", ""),
                  f"{time.perf_counter() - t0:.0f}s", flush=True)  # fmt: skip
            # A long run killed part-way still leaves every finished split on disk.
            partial.write_text(json.dumps({"rows": rows, "minutes": minutes, "meta": run_meta(args, ds, predictions)},
                                          indent=1, default=float))  # fmt: skip
    table = summarize(rows, minutes)
    meta = run_meta(args, ds, predictions)
    return table, meta


def _suffix(args: argparse.Namespace) -> str:
    return f"_{args.tag}" if args.tag else ""


def run_meta(args: argparse.Namespace, ds, predictions: dict[str, list[np.ndarray]] | None = None) -> dict:
    """Exactly what the accuracy run used (and, with BL and MT-E both run, how far MT-E's predictions are from BL's)."""
    predictions = predictions or {}
    stand_ins = {}
    if "mt-a" in predictions:
        stand_ins["attributes"] = {"note": "PROXIES computed from the image, not human ratings", **ATTRIBUTE_PROXIES}
    if "mt-s" in predictions:
        stand_ins["scenes"] = "DCNNS scene clusters (patchcnn.with_scene_clusters: k-means k=4 on the 37-dim descriptor, all images, seed 0), one-hot"
    if "mt-e" in predictions:
        stand_ins["exif"] = "none: MT-E trains as BL"
        if "bl" in predictions:
            stand_ins["mt_e_minus_bl_max_abs_prediction_per_split"] = [
                float(np.abs(e - b).max()) for e, b in zip(predictions["mt-e"], predictions["bl"])]  # fmt: skip
    return {"recipes": args.recipes, "tuned_gpr": not args.no_tuned_gpr, "side_label_stand_ins": stand_ins or None, "dataset": ds.name, "n_images": len(ds), "n_groups": len(set(ds.group_ids)), "splits": args.splits,
            "test_size": 0.2, "epochs": args.epochs, "crop": args.crop, "recipe": "AdamW, head lr 1e-3, trunk lr 1e-4, "
            "one-cycle (10% warmup), 1 frozen-trunk epoch, batch 8 x 2 accumulated, random crops, L1, test: grid at "
            "half-crop stride averaged, validation: 20% of training content groups, best epoch by SROCC on 2 random crops",
            "gpr_layers": GPR_LAYERS, "gpr_views": "grid (224 crops at stride 112, pooled features averaged)",
            "synthetic_set": "dfi.synth.build, synthetic kind, per_image distortions, max_side 384, seed 0" if not args.dataset else None,
            "per_image": args.per_image, "refs": args.refs}  # fmt: skip


def _same_splits(rows: dict[str, list[dict]], minutes: dict[str, float]) -> tuple[dict, dict]:
    """Add, for a method that finished more splits than the rest, its row on only the splits all finished."""
    n = min(len(v) for v in rows.values() if v)
    rows, minutes = dict(rows), dict(minutes)
    for label in [k for k, v in rows.items() if len(v) > n]:
        rows[f"{label} (first {n} splits)"] = rows[label][:n]
        minutes[f"{label} (first {n} splits)"] = minutes[label] * n / len(rows[label])
    return {k: v for k, v in rows.items() if v}, minutes


def summarize(rows: dict[str, list[dict]], minutes: dict[str, float]) -> list[dict]:
    """Mean ± sd of SROCC/PLCC per method over the splits it finished."""
    table = []
    for label, per_split in rows.items():
        srocc = np.array([r["srocc"] for r in per_split])
        plcc = np.array([r["plcc"] for r in per_split])
        sd = (lambda v: round(float(v.std(ddof=1)), 4) if v.size > 1 else float("nan"))
        table.append({"method": label, "splits": int(srocc.size), "srocc_mean": round(float(srocc.mean()), 4),
                      "srocc_sd": sd(srocc), "plcc_mean": round(float(plcc.mean()), 4), "plcc_sd": sd(plcc),
                      "minutes": round(minutes[label], 2)})  # fmt: skip
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", help="a bundled database name (with --root); default: the synthetic pristine set")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--refs", type=int, default=12, help="content groups (reference photos) used (0: all)")
    parser.add_argument("--per-image", type=int, default=8, help="synthetic distortions per reference")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8, help="throughput: batch size")
    parser.add_argument("--rounds", type=int, default=2, help="throughput: engine/floor alternations (best of each)")
    parser.add_argument("--note", help="a sentence on how the run was made, written into the results (e.g. other jobs paused)")
    parser.add_argument("--fit-epochs", type=int, default=5, help="throughput: epochs of the whole-fit measurement")
    parser.add_argument("--crop", type=int, default=160, help="accuracy: training and test crop side")
    parser.add_argument("--recipes", default="bl", help=f"accuracy: comma list of {', '.join(RECIPES)}")
    parser.add_argument("--tag", default="", help="suffix of the output names (end_to_end_accuracy_TAG.*), so runs do not overwrite each other")
    parser.add_argument("--no-tuned-gpr", action="store_true",
                        help="accuracy: skip GPR on the BL recipes' fine-tuned trunks (one extraction of the whole set per split)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--from-partial", action="store_true",
                        help="write the accuracy table from end_to_end_partial.json (the splits a killed run finished)")
    args = parser.parse_args()
    torch.manual_seed(0)
    photos = sorted((PRISTINE / "kodak24").glob("*.png")) + sorted((PRISTINE / "cbsd68").glob("*.png"))
    if not photos:
        parser.error(f"no pristine photos under {PRISTINE}; set DEEPFEAT_IQA_SHARED to the folder holding data/pristine")
    load = os.getloadavg()[0]  # above ~2 on this 2-core machine, other jobs inflate times and skew ratios
    result = {"meta": {"machine": f"{one_line_machine()}, 1-min load average {load:.1f} at the start", "cpu": describe_machine(),
                       "torch": torch.__version__, "threads": torch.get_num_threads(), "note": args.note}}  # fmt: skip
    if not args.skip_throughput:
        result["throughput"] = [throughput(m, args.batch, args.rounds, args.fit_epochs, photos) for m in ("efficientnet_lite0", "resnet50")]
        print(result["throughput"], flush=True)
    if args.from_partial:
        partial = json.loads((OUT / f"end_to_end_partial{_suffix(args)}.json").read_text())
        rows, minutes = _same_splits(partial["rows"], partial["minutes"])
        result["accuracy"] = summarize(rows, minutes)
        result["meta"]["accuracy"] = {"note": "partial: the run was stopped; 'splits' says how many of the 5 each method "
                                      "finished; a '(first N splits)' row restricts a method that ran on more splits to the "
                                      "splits all others finished (its minutes prorated)",
                                      **(partial.get("meta") or run_meta(args, dataset(args)))}  # fmt: skip
    elif not args.skip_accuracy:
        result["accuracy"], result["meta"]["accuracy"] = accuracy(args)
    name = "end_to_end" if not args.dataset else f"end_to_end_{args.dataset}"
    if args.skip_accuracy or args.skip_throughput or args.from_partial:
        name += "_throughput" if args.skip_accuracy and not args.from_partial else "_accuracy"
    name += _suffix(args)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2))
    lines = [f"# End-to-end image heads ({name})", "", f"Measured on the {result['meta']['machine']}; ratios are side by side in one run."
             + (f" {args.note}" if args.note else ""), ""]
    if "throughput" in result:
        lines += ["## Training throughput: engine vs bare loop on pre-made tensors (random weights)", "",
                  ("One epoch = every shared pristine photo once (Kodak24 768x512 + CBSD68 481x321 PNGs), random 224 "
                   "crops. Cold: the first epoch, every photo decoded (empty pixel cache); warm: a later one-epoch fit "
                   "reading the pixel cache, worker start included. Floor: forward+backward+step on one pre-made "
                   "batch, same network, precision and batch. Best of the rounds for each."), "",
                  "| model | precision | batch | images | cold img/s | warm img/s | floor img/s | cold ratio | warm ratio | warm ratio per round | whole fit (epochs) img/s | its floor | whole-fit ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['precision']} | {r['batch']} | {r['images']} | {r['engine_cold_img_s']} | "
                  f"{r['engine_warm_img_s']} | {r['floor_img_s']} | {r['ratio_cold']} | {r['ratio_warm']} | "
                  f"{r['ratio_warm_per_round']} | {r['fit_img_s']} ({r['fit_epochs']}) | {r['fit_floor_img_s']} | "
                  f"{r['ratio_fit']} |" for r in result["throughput"]]  # fmt: skip
    if "accuracy" in result:
        meta = result["meta"]["accuracy"]
        lines += ["", "## Accuracy (EfficientNet-Lite0, ImageNet weights)", "", "```", json.dumps(meta, indent=1), "```", "",
                  "| method | splits | SROCC | PLCC | minutes (these splits) |", "|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['splits']} | {r['srocc_mean']:.3f} ± {r['srocc_sd']:.3f} | {r['plcc_mean']:.3f} ± {r['plcc_sd']:.3f} | {r['minutes']} |"
                  for r in result["accuracy"]]  # fmt: skip
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
