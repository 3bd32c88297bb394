"""evaluate's prediction of an image head: one thread (the row rule evaluate used before 0.2) vs the libraries'
default threads (``head_threads_for``, the rule of ``fit`` and ``QualityModel.predict``), interleaved.

Issue 18 point 6. A random-weight SPAQ-BL head, fitted for one epoch, predicts 24 generated photos
(320 x 240) on center crops; each repetition times ``evaluation._evaluate._predict`` once under
``runtime.threads.for_rows`` (one thread below 4096 rows) and once as evaluate now calls it. Medians, the
machine record and the 1-minute load average go to ``benchmarks/results/image_predict_threads.json``.

Usage::

    python benchmarks/image_predict_threads.py            # Lite0 at 224 px and timm's test_efficientnet at 32 px
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from helpers.image_sets import make_images  # noqa: E402

from deepfeat_iqa.api import fit  # noqa: E402
from deepfeat_iqa.evaluation._evaluate import _predict  # noqa: E402
from deepfeat_iqa.runtime.machine import describe, one_line  # noqa: E402
from deepfeat_iqa.runtime.threads import for_rows  # noqa: E402

CASES = (("efficientnet_lite0", 224), ("test_efficientnet", 32))


def main(reps: int = 5) -> dict:
    ds = make_images(Path(tempfile.mkdtemp()) / "photos", n_groups=8, levels=3, size=(240, 320))
    rows = []
    for backbone, crop in CASES:
        head = fit(ds, head="spaq-bl", backbone=backbone, weights="random", epochs=1, batch_size=8, crop_size=crop,
                   test_views="center", val_views="center", num_workers=0, progress=False, precision="fp32").estimator
        _predict(head, ds, ds)  # warm-up
        one, default, load = [], [], []
        for _ in range(reps):
            start = time.perf_counter()
            with for_rows(len(ds)):
                _predict(head, ds, ds)
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            _predict(head, ds, ds)
            default.append(time.perf_counter() - start)
            load.append(os.getloadavg()[0])
        row = {"backbone": backbone, "crop": crop, "images": len(ds), "one_thread_s": one, "default_threads_s": default,
               "median_one_s": statistics.median(one), "median_default_s": statistics.median(default), "load_1min": load}
        print(f"{backbone} @ {crop}px: one thread {row['median_one_s']:.3f} s, default threads {row['median_default_s']:.3f} s "
              f"(load {min(load):.1f}-{max(load):.1f})")
        rows.append(row)
    machine = describe()
    print(one_line(machine))
    return {"machine": machine, "rows": rows}


if __name__ == "__main__":
    out = HERE / "results" / "image_predict_threads.json"
    out.write_text(json.dumps(main(), indent=1))
    print(f"wrote {out}")
