"""How long ``score_report`` takes for N photos (synthetic 500x500 JPEGs), cold (thumbnails made) and warm (reused).

Only the report step is timed, given a score table; the scores themselves are random. Prints the times and
the size of ``index.html`` and writes them, with the machine and the load, to ``results/report_speed.{json,md}``.
``python benchmarks/report_speed.py [N] [DIR]`` (default 1000 photos, a temp folder).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


OUT = Path(__file__).resolve().parent / "results"


def main(n: int = 1000, root: Path | None = None) -> None:
    from deepfeat_iqa.evaluation.report import score_report
    from deepfeat_iqa.runtime import machine

    load_before = os.getloadavg()[0]

    root = Path(root or tempfile.mkdtemp(prefix="dfi-report-speed-"))
    photos = root / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    base = rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)
    for i in range(n):
        path = photos / f"photo_{i:05d}.jpg"
        if not path.exists():  # smooth noise, different per photo: JPEG sizes like real 500x500 photos (~50-80 kB)
            tile = np.roll(base, i, axis=(0, 1)) // 2 + rng.integers(0, 128, (50, 50, 3), dtype=np.uint8)
            Image.fromarray(tile).resize((500, 500), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(path)
    table = pd.DataFrame({"id": [p.name for p in paths], "path": [str(p) for p in paths],
                          "score": rng.uniform(0, 100, n), "sd": rng.uniform(2, 10, n)})  # fmt: skip
    out = root / "report"
    rows = []
    for label in ("cold (thumbnails made)", "warm (thumbnails reused)"):
        start = time.perf_counter()
        page = score_report(table, out)
        seconds = time.perf_counter() - start
        thumbs = sum(p.stat().st_size for p in (out / "thumbs").glob("*.jpg"))
        rows.append({"run": label, "seconds": round(seconds, 2), "index_kb": round(page.stat().st_size / 1024),
                     "thumbs_mb": round(thumbs / 2**20, 1)})  # fmt: skip
        print(f"{n} photos, {label}: {seconds:.2f} s; index.html {page.stat().st_size / 1024:.0f} kB; thumbs/ {thumbs / 2**20:.1f} MB")
    record = {"machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "photos": n, "rows": rows}
    OUT.mkdir(exist_ok=True)
    (OUT / "report_speed.json").write_text(json.dumps(record, indent=2))
    lines = [f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; {n} photos.", "",
             "| run | seconds | index.html kB | thumbs/ MB |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['run']} | {r['seconds']} | {r['index_kb']} | {r['thumbs_mb']} |" for r in rows]
    (OUT / "report_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
