"""How heavy a sweep's page and its cell pages are, and how long they take to write (issue 21).

``PYTHONPATH=.:tests python benchmarks/sweep_page_weight.py [--backbones 13 --layers 5 --photos 300]``: records a
study of ``backbones x layers`` cells with one head (no model runs: each cell holds a made-up evaluation over
``photos`` smooth synthetic 384x288 JPEGs, 2 splits testing every photo, so 2 x photos predictions per cell, the size of a 10-split
80/20 protocol on 5 x photos images), writes the sweep page with a page per cell, then again (every cell page
reused). Writes ``benchmarks/results/sweep_page_weight.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from helpers.reports import recorded_study
from PIL import Image

from deepfeat_iqa.runtime import machine
from deepfeat_iqa.studies._html_report import sweep_page

OUT = Path(__file__).resolve().parent / "results" / "sweep_page_weight"


def _size(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", type=int, default=13)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--photos", type=int, default=300)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = work / "photos"
        photos.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.photos):
            coarse = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))  # smooth, so it compresses like a photo
            coarse.resize((384, 288), Image.Resampling.BICUBIC).save(photos / f"p{i:04d}.jpg", quality=85)
        study = recorded_study(work / "study.db", photos, backbones=[f"net{b:02d}" for b in range(args.backbones)],
                               layers=[f"stage{k}" for k in range(args.layers)], heads=["svr"], failed=0)  # fmt: skip
        page = work / "out" / "sweep.html"
        best = ("Best 3 layers per backbone and head", study.best(k=3))
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            sweep_page(study, page, "sweep", best=best, heatmap=None)
            seconds.append(time.perf_counter() - start)
        folder = page.parent / "sweep_cells"
        files = {
            "sweep page": [page],
            "cell pages (.html)": list(folder.glob("*.html")),
            "scatter plots": list((folder / "plots").glob("*.png")),
            "predictions (.csv)": list(folder.glob("*.csv")),
            "thumbnails (shared)": list((folder / "thumbs").glob("*.jpg")),
        }
        sizes = {kind: {"files": len(paths), "bytes": _size(paths)} for kind, paths in files.items()}
    record = {"machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "cells": args.backbones * args.layers,
              "photos": args.photos, "predictions_per_cell": 2 * args.photos, "first_s": seconds[0], "rerun_s": seconds[1], "sizes": sizes}  # fmt: skip
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.with_suffix(".json").write_text(json.dumps(record, indent=2, default=str))
    total = sum(s["bytes"] for s in sizes.values())
    lines = [
        f"# Sweep page with a page per cell: {args.backbones} x {args.layers} cells, {args.photos} photos",
        "",
        f"{machine.one_line(record['machine'])}; load {load_before:.1f} before, {record['load_after']:.1f} after.",
        f"Written in {seconds[0]:.1f} s the first time, {seconds[1]:.2f} s again (cell pages reused).",
        "",
        "| what | files | size |",
        "|---|--:|--:|",
        *(f"| {kind} | {s['files']} | {s['bytes'] / 1e6:.2f} MB |" for kind, s in sizes.items()),
        f"| all | {sum(s['files'] for s in sizes.values())} | {total / 1e6:.2f} MB |",
    ]
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
