"""Scoring photos with the bundled default model, against its bare feature-extraction floor (issue 19).

    python benchmarks/score_speed.py [--photos 48] [--repeats 2]

Measured side by side in one run, on clive-dev photos (500x500 JPEGs; scikit-image's photos when clive-dev
is absent):

* ``dfi.score(photos, store=None)``: decoding, the four members' views, their forward passes, pooling and
  the four GPRs, i.e. everything a user waits for (after one warm-up call that loads the networks);
* the floor: for each member, a bare ``forward_features`` loop over pre-made tensors of that member's input
  (the whole photo for ``full512``; its 224-px grid crops for ``grid512``), in the model's precision, at
  the fastest of batch 1, 2, 4, 8 and the extraction's batch, summed over the members. Goal: score ≥ 0.85x of the floor.

It also estimates fitting the default model from nothing (goal ≤ 30 min on 2 cores): clive-dev's 581 photos
extracted at the measured scoring rate (the same four extractions) plus the fit from stored features, 1 min 19 s
as docs/model-card.md measured it.

Writes ``results/score_speed.{json,md}`` with the machine record and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"
#: clive-dev's photos, and the four GPRs' fit from stored features (docs/model-card.md), for the fit estimate.
CLIVE_PHOTOS, FIT_FROM_STORE_S = 581, 79.0
CLIVE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "clive-dev" / "images"


def photos(n: int, folder: Path) -> list[Path]:
    found = sorted(CLIVE.glob("*.JPG"))[:n] if CLIVE.is_dir() else []
    if found:
        return found
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    sources = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    paths = []
    for i in range(n):
        path = folder / f"p{i:03d}.jpg"
        Image.fromarray(sources[i % len(sources)]).resize((500, 500)).save(path, quality=90)
        paths.append(path)
    return paths


def floor_seconds_per_photo(members: list, sample: Path, precision: str, batch: int, repeats: int) -> dict[str, float]:
    """Per member, seconds per photo of a bare forward over pre-made tensors shaped like its views of ``sample``."""
    import torch

    from deepfeat_iqa.extraction._block import load_backbone, make_view
    from deepfeat_iqa.inputs.images import load_rgb
    from deepfeat_iqa.runtime.precision import autocast, memory_format

    fmt = memory_format(precision)
    found = {}
    for member in members:
        loaded = load_backbone(member.backbone, member.weights, 0, torch.device("cpu"))
        model = loaded.model.eval().to(memory_format=fmt)
        view = make_view(member.views, 0, loaded)
        crops = view.crops(load_rgb(sample, shrink_to=view.max_short_side()), "")
        per_photo = len(crops)
        best = float("inf")
        with torch.inference_mode():
            for size in sorted({1, 2, 4, 8, min(batch, 32)}):  # the bare loop's best batch for this input size
                x = torch.randn(size, 3, *crops[0].shape[:2]).contiguous(memory_format=fmt)
                with autocast(precision, torch.device("cpu")):
                    model.forward_features(x)  # warm-up
                for _ in range(repeats):
                    start = time.perf_counter()
                    for _ in range(max(1, 16 // size)):
                        with autocast(precision, torch.device("cpu")):
                            model.forward_features(x)
                    best = min(best, (time.perf_counter() - start) / (max(1, 16 // size) * size) * per_photo)
        found[f"{member.backbone} {member.views}"] = best
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import tempfile

    import deepfeat_iqa as dfi
    from deepfeat_iqa.runtime import machine
    from deepfeat_iqa.runtime.device import resolve_batch_size
    from deepfeat_iqa.runtime.precision import resolve_precision
    from deepfeat_iqa.scoring import default_model

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos(args.photos, Path(tmp))
        model = default_model()
        combination = model.estimator
        dfi.score(paths[:2], store=None)  # warm-up: networks built and cached
        from deepfeat_iqa.heads._combination import _MEMO

        rate = 0.0
        for _ in range(args.repeats):
            _MEMO.clear()  # the combination remembers member features per photo within a process
            start = time.perf_counter()
            dfi.score(paths, store=None)
            rate = max(rate, len(paths) / (time.perf_counter() - start))
        import torch

        precision = resolve_precision(combination.precision, torch.device("cpu"))  # as the members extract
        batch = resolve_batch_size(combination.batch_size, torch.device("cpu"))
        per_member = floor_seconds_per_photo(list(combination.members), paths[0], precision, batch, args.repeats)
    floor = 1.0 / sum(per_member.values())
    record = {
        "machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "photos": len(paths),
        "precision": precision, "score_img_per_s": round(rate, 2), "floor_img_per_s": round(floor, 2),
        "score_vs_floor": round(rate / floor, 3), "floor_ms_per_photo": {k: round(v * 1000, 1) for k, v in per_member.items()},
        "fit_from_scratch_minutes_estimate": round((CLIVE_PHOTOS / rate + FIT_FROM_STORE_S) / 60, 1),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "score_speed.json").write_text(json.dumps(record, indent=2))
    members = ", ".join(f"{k} {v} ms" for k, v in record["floor_ms_per_photo"].items())
    md = (f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; "
          f"{len(paths)} photos (500x500), the bundled model (4 members), {precision}, store=None.\n\n"
          "| dfi.score img/s | floor img/s | score / floor |\n|---|---|---|\n"
          f"| {record['score_img_per_s']} | {record['floor_img_per_s']} | **{record['score_vs_floor']}** |\n\n"
          f"Floor per member (bare forward per photo): {members}.\n\n"
          f"Fitting the default model from nothing, estimated: {CLIVE_PHOTOS} photos at this rate + the "
          f"{FIT_FROM_STORE_S:.0f} s fit from stored features = **{record['fit_from_scratch_minutes_estimate']} min** (goal ≤ 30).\n")  # fmt: skip
    (args.out / "score_speed.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
