"""A finished sweep rerun from a new process, next to ``python -c "import deepfeat_iqa"`` (issue 21).

Builds a small labeled set (scikit-image photos under graded blur), runs one sweep over every stage of a
random-weight ResNet-10t with the SVR head in a fresh process, then times, each in a new process and
alternating so machine load hits both alike:

* ``import``: ``python -c "import deepfeat_iqa"``;
* ``import_pandas``: ``import deepfeat_iqa, pandas`` (a label table is a pandas read; the floor of any rerun);
* ``rerun``: the script again: load the labels with ``dfi.datasets.load_folder`` and call ``dfi.sweep``, which
  finds every cell in its results store;
* ``rerun_before`` (with ``--before SRC``): the same script importing deepfeat_iqa from another source tree;
* ``cli_rerun``: ``deepfeat-iqa sweep FILE --root koniq10k=DIR`` (the console script's entry point) on the same
  images laid out as KonIQ-10k, after a first CLI run finished every cell: checks the file, loads the labels,
  finds every cell recorded and prints the tables (writing the Markdown, JSON, heatmap and page again);
* ``cli_rerun_before`` (with ``--before SRC``): the same command from another source tree.

The CPU kind (``grep -o 'avx512_bf16\|amx_tile' /proc/cpuinfo | sort -u``) and ``uptime`` before and after are
recorded with the times: the machine is shared, and its load moves every number.

Writes ``benchmarks/results/sweep_rerun.{json,md}`` with ``deepfeat_iqa.runtime.machine.describe()``.

    python benchmarks/sweep_rerun.py                      # 4 photos x 4 blur levels, 3 repeats
    python benchmarks/sweep_rerun.py --before /work/main  # also the rerun of another checkout
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout, not whichever one the environment installed

SWEEP = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    import deepfeat_iqa as dfi
    folder, results, store = sys.argv[1:4]
    ds = dfi.datasets.load_folder(folder, folder + "/labels.csv", group_col="ref")
    study = dfi.sweep(ds, backbones="resnet10t", layers="stages", heads=["svr"], weights="random", n_splits=2, precision="fp32",
                      store=store, results=results, progress=False)
    heavy = sorted(m for m in ("torch", "timm", "sklearn", "zarr") if m in sys.modules)
    print(json.dumps({"cells": len(study.cell_ids), "in_process_s": time.perf_counter() - start, "imported": heavy,
                      "package": dfi.__file__}))
    """
)


#: ``deepfeat-iqa ARGS`` as the console script runs it, then the heavy modules it imported, as a last JSON line.
CLI = textwrap.dedent(
    """
    import json, sys
    from deepfeat_iqa.cli import app
    app(sys.argv[1:], standalone_mode=False)
    print(json.dumps({"imported": sorted(m for m in ("torch", "timm", "sklearn", "zarr") if m in sys.modules)}))
    """
)

EXPERIMENT = """
[experiment]
name = "rerun"
kind = "sweep"

[datasets]
koniq10k = "koniq10k"

[sweep]
backbones = ["resnet10t"]
layers = "stages"
heads = ["svr"]
weights = "random"
n_splits = 2
precision = "fp32"
"""


def as_koniq(images: Path, root: Path) -> None:
    """The benchmark's images in KonIQ-10k's layout (an experiment file names registry loaders, not folders)."""
    import pandas as pd
    from PIL import Image

    labels = pd.read_csv(images / "labels.csv")
    (root / "1024x768").mkdir(parents=True)
    for name in labels["image"]:
        Image.open(images / name).convert("RGB").save(root / "1024x768" / (Path(name).stem + ".jpg"), quality=90)
    table = pd.DataFrame({"image_name": [Path(n).stem + ".jpg" for n in labels["image"]], "MOS": 1 + 4 * labels["mos"] / 100})
    table.to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)


def shell(command: str) -> str:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True).stdout.strip()


def make_set(folder: Path, levels: int) -> int:
    import pandas as pd
    from PIL import Image, ImageFilter
    from skimage import data

    folder.mkdir(parents=True)
    rows = []
    for photo in ("astronaut", "chelsea", "coffee", "rocket"):
        image = Image.fromarray(getattr(data, photo)()[..., :3]).resize((96, 96))
        for level in range(levels):
            name = f"{photo}_{level}.png"
            image.filter(ImageFilter.GaussianBlur(1.5 * level)).save(folder / name)
            rows.append({"image": name, "mos": 80 - 15 * level + len(rows) % 3, "ref": photo})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return len(rows)


def timed(command: list[str], source: Path) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, default=4, help="blur levels per photo (4 photos)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="another source tree to time the same rerun with")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep_rerun")
    args = parser.parse_args()

    from deepfeat_iqa.runtime import machine

    load_before = os.getloadavg()[0]
    uptime_before = shell("uptime")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n_images = make_set(work / "images", args.levels)
        (work / "sweep.py").write_text(SWEEP)
        rerun = [sys.executable, str(work / "sweep.py"), str(work / "images"), str(work / "study.db"), str(work / "f.zarr")]
        first_s, out = timed(rerun, ROOT)
        first = json.loads(out.strip().splitlines()[-1])
        as_koniq(work / "images", work / "koniq")
        (work / "exp.toml").write_text(EXPERIMENT)
        (work / "cli.py").write_text(CLI)
        cli = [sys.executable, str(work / "cli.py"), "sweep", str(work / "exp.toml"), "--root", f"koniq10k={work / 'koniq'}",
               "--out", str(work / "out"), "--store", str(work / "f.zarr"), "--quiet"]  # fmt: skip
        cli_first_s, _ = timed(cli, ROOT)
        kinds = {
            "import": ([sys.executable, "-c", "import deepfeat_iqa"], ROOT),
            "import_pandas": ([sys.executable, "-c", "import deepfeat_iqa, pandas"], ROOT),
            "rerun": (rerun, ROOT),
            "cli_rerun": (cli, ROOT),
        }
        if args.before is not None:
            kinds |= {"rerun_before": (rerun, args.before.resolve()), "cli_rerun_before": (cli, args.before.resolve())}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        imported: dict[str, list[list[str]]] = {k: [] for k in kinds if "rerun" in k}
        for _ in range(args.repeats):
            for kind, (command, source) in kinds.items():
                seconds, out = timed(command, source)
                times[kind].append(seconds)
                if kind in imported:
                    imported[kind].append(json.loads(out.strip().splitlines()[-1])["imported"])
    median = {k: statistics.median(v) for k, v in times.items()}
    record = {
        "machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0],
        "cpu_kind": shell("grep -o 'avx512_bf16\\|amx_tile' /proc/cpuinfo | sort -u").split(),
        "uptime_before": uptime_before, "uptime_after": shell("uptime"),
        "images": n_images, "cells": first["cells"], "first_run_s": first_s, "cli_first_run_s": cli_first_s, "repeats": args.repeats,
        "seconds": times, "median_s": median, "imported": imported,
        "before_source": str(args.before) if args.before else None,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2, default=str))
    lines = [
        "# Finished sweep rerun from a new process vs `import deepfeat_iqa`",
        "",
        f"{machine.one_line(record['machine'])}; load {load_before:.1f} before, {record['load_after']:.1f} after.",
        f"CPU kind (`grep -o 'avx512_bf16\\|amx_tile' /proc/cpuinfo | sort -u`): {', '.join(record['cpu_kind']) or 'neither'}.",
        f"uptime before: `{uptime_before}`; after: `{record['uptime_after']}`.",
        f"Sweep: {n_images} images, {first['cells']} cells (resnet10t random weights, every stage, svr); first run {first_s:.1f} s "
        f"(API), {cli_first_s:.1f} s (CLI, same images as KonIQ-10k, its own results store).",
        "",
        "| new process | median s | runs (s) | torch/timm/sklearn/zarr imported, per run |",
        "|---|---|---|---|",
    ]
    for kind, values in times.items():
        shown = "; ".join(", ".join(run) or "none" for run in imported.get(kind, []))
        lines.append(f"| {kind} | {median[kind]:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {shown} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
