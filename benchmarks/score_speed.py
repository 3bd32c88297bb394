"""Scoring photos with the bundled default model, against its bare feature-extraction floor (issue 19).

    python benchmarks/score_speed.py [--photos 48] [--repeats 5] [--name score_speed]

Measured side by side in one run, on clive-dev photos (500x500 JPEGs; scikit-image's photos when clive-dev
is absent):

* ``dfi.score(photos, store=None)``: decoding, the members' views, their forward passes, pooling and
  their GPRs, i.e. everything a user waits for (after one warm-up call that loads the networks);
* the floor: for each member, a bare ``forward_features`` loop over pre-made tensors of that member's input
  (the whole photo for ``full512``; its 224-px grid or random crops for ``grid512`` and ``random9in512``), in the model's precision, at
  the fastest of batch 1, 2, 4, 8 and the extraction's batch (chosen once), summed over the members.

The two are timed back to back in each of ``--repeats`` rounds (the machine's speed drifts by ±10 % between
runs, so timing them apart, or taking the best of many floor runs against a few score runs, measures the
drift); the reported ratio is the median round's. Goal: score ≥ 0.85x of the floor.

With ``--fit-from-scratch`` it also times fitting the default model from nothing (goal ≤ 30 min on 2 cores):
the model card's one command, ``deepfeat-iqa fit --images <clive-dev> --labels ... --precision fp32``, in a fresh
process with an empty cache and store (every photo decoded and extracted once per member, then the GPRs).

Writes ``results/<name>.{json,md}`` (``score_speed`` by default; one name per CPU kind) with the machine record and the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results"
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


class Floor:
    """Each member's bare ``forward_features`` loop over pre-made tensors shaped like its views of a sample photo.

    The batch size is chosen once per member (the fastest of 1, 2, 4, 8 and the extraction's batch); each
    :meth:`seconds` call then times the same work as scoring ``n`` photos, so the floor and ``dfi.score`` are
    timed the same way, round by round.
    """

    def __init__(self, members: list, sample: Path, precision: str, batch: int) -> None:
        import torch

        from deepfeat_iqa.extraction._block import load_backbone, make_view
        from deepfeat_iqa.inputs.images import load_rgb
        from deepfeat_iqa.runtime.precision import memory_format

        self.precision, self.fmt = precision, memory_format(precision, torch.device("cpu"))
        self.loops = []  # (label, model, input batch, crops per photo)
        for member in members:
            loaded = load_backbone(member.backbone, member.weights, 0, torch.device("cpu"))
            model = loaded.model.eval().to(memory_format=self.fmt)
            view = make_view(member.views, 0, loaded.config)
            crops = view.crops(load_rgb(sample, shrink_to=view.max_short_side()), "")
            best, best_x = float("inf"), None
            for size in sorted({1, 2, 4, 8, min(batch, 32)}):
                x = torch.randn(size, 3, *crops[0].shape[:2]).contiguous(memory_format=self.fmt)
                self._forward(model, x)  # warm-up
                per_crop = self._time(model, x, max(1, 16 // size)) / (max(1, 16 // size) * size)
                if per_crop < best:
                    best, best_x = per_crop, x
            self.loops.append((f"{member.backbone} {member.views}", model, best_x, len(crops)))

    def _forward(self, model, x) -> None:
        import torch

        from deepfeat_iqa.runtime.precision import autocast

        with torch.inference_mode(), autocast(self.precision, torch.device("cpu")):
            model.forward_features(x)

    def _time(self, model, x, calls: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            self._forward(model, x)
        return time.perf_counter() - start

    def seconds(self, n: int) -> dict[str, float]:
        """Per member, seconds of bare forwards for ``n`` photos' crops."""
        found = {}
        for label, model, x, per_photo in self.loops:
            calls = max(1, round(n * per_photo / x.shape[0]))
            found[label] = self._time(model, x, calls) * n * per_photo / (calls * x.shape[0])
        return found


def fit_from_scratch_minutes() -> float | None:
    """Wall minutes of the model card's retrain command in a fresh process with an empty cache and store."""
    import subprocess
    import tempfile

    if not CLIVE.is_dir():
        return None
    cli = str(Path(sys.executable).parent / "deepfeat-iqa")
    with tempfile.TemporaryDirectory() as cache:
        command = [cli, "fit", "--images", str(CLIVE), "--labels", str(CLIVE.parent / "labels.csv"), "--precision", "fp32",
                   "--out", str(Path(cache) / "default.dfi")]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "DEEPFEAT_IQA_CACHE": cache})
        return round((time.perf_counter() - start) / 60, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--name", default="score_speed", help="file stem of the results (e.g. one per CPU kind)")
    parser.add_argument("--fit-from-scratch", action="store_true", help="also time the model card's retrain command")
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
        import torch

        from deepfeat_iqa.heads._combination import _MEMO, _crop_offsets

        precision = resolve_precision(combination.precision, torch.device("cpu"))  # as the members extract
        batch = resolve_batch_size(combination.batch_size, torch.device("cpu"))
        floor = Floor(list(combination.members), paths[0], precision, batch)
        rounds = []  # (score seconds, floor seconds per member): the two timed back to back, round by round
        for _ in range(args.repeats):
            _MEMO.clear()  # the combination remembers member features per photo within a process
            _crop_offsets.cache_clear()  # ... and where each photo's crops lie: new photos pay for both
            start = time.perf_counter()
            dfi.score(paths, store=None)
            rounds.append((time.perf_counter() - start, floor.seconds(len(paths))))
    ratios = sorted(sum(per_member.values()) / score_s for score_s, per_member in rounds)
    middle = rounds[[sum(r[1].values()) / r[0] for r in rounds].index(ratios[len(ratios) // 2])]
    score_s, per_member = middle
    record = {
        "machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "photos": len(paths),
        "precision": precision, "rounds": len(rounds), "score_img_per_s": round(len(paths) / score_s, 2),
        "floor_img_per_s": round(len(paths) / sum(per_member.values()), 2), "score_vs_floor": round(ratios[len(ratios) // 2], 3),
        "score_vs_floor_rounds": [round(r, 3) for r in ratios],
        "floor_ms_per_photo": {k: round(v / len(paths) * 1000, 1) for k, v in per_member.items()},
        "fit_from_scratch_minutes": fit_from_scratch_minutes() if args.fit_from_scratch else None,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=2))
    members = ", ".join(f"{k} {v} ms" for k, v in record["floor_ms_per_photo"].items())
    md = (f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; "
          f"{len(paths)} photos (500x500), the bundled model ({len(per_member)} members), {precision}, store=None.\n\n"
          f"Median of {len(rounds)} rounds, each timing `dfi.score` and the floor back to back "
          f"(score / floor by round: {', '.join(map(str, record['score_vs_floor_rounds']))}).\n\n"
          "| dfi.score img/s | floor img/s | score / floor |\n|---|---|---|\n"
          f"| {record['score_img_per_s']} | {record['floor_img_per_s']} | **{record['score_vs_floor']}** |\n\n"
          f"Floor per member (bare forward per photo): {members}.\n\n"
          + (f"Fitting the default model from nothing (the model card's `deepfeat-iqa fit` command, empty cache, "
             f"{CLIVE.parent.name}'s 581 photos): **{record['fit_from_scratch_minutes']} min** (goal ≤ 30).\n"
             if record["fit_from_scratch_minutes"] is not None else ""))  # fmt: skip
    (args.out / f"{args.name}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
