"""How long ``score_report`` takes for N photos (synthetic 500x500 JPEGs), cold (thumbnails made) and warm (reused).

Only the report step is timed, given a score table; the scores themselves are random. Prints the times and
the size of ``index.html``. ``python benchmarks/report_speed.py [N] [DIR]`` (default 1000 photos, a temp folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def main(n: int = 1000, root: Path | None = None) -> None:
    from deepfeat_iqa.evaluation.report import score_report

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
    for label in ("cold (thumbnails made)", "warm (thumbnails reused)"):
        start = time.perf_counter()
        page = score_report(table, out)
        seconds = time.perf_counter() - start
        thumbs = sum(p.stat().st_size for p in (out / "thumbs").glob("*.jpg"))
        print(f"{n} photos, {label}: {seconds:.2f} s; index.html {page.stat().st_size / 1024:.0f} kB; thumbs/ {thumbs / 2**20:.1f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000, Path(sys.argv[2]) if len(sys.argv) > 2 else None)
