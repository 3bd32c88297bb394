"""Peak memory of selecting rows from feature stores of growing size: lazy LazyRows vs reading the store.

For each store size N (rows of ``dim`` float16 features, chunked as ``extract`` chunks them), a fresh
child process opens the array, selects 10k random rows and computes ``X`` (the float32 mean over
views), and reports its peak RSS (``ru_maxrss``) above the RSS it had right after imports. The lazy
path should stay flat in N; reading the whole array first (what a non-lazy FeatureSet did) grows with it.

Writes ``benchmarks/results/lazy_rss.json`` and ``.md``. Measured on the shared 2-core machine;
memory, unlike time, does not depend on the load.

Usage::

    python benchmarks/lazy_rss.py                # N in {50k, 200k}, dim 2048, 10k rows selected
    python benchmarks/lazy_rss.py --quick        # N in {20k, 80k}, dim 512
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from deepfeat_iqa.store._zarr import chunk_rows_for

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import resource, sys, time
import numpy as np, zarr
sys.path.insert(0, sys.argv[4])
from deepfeat_iqa.features._lazy import LazyRows, mean_over_views
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
array = zarr.open_array(sys.argv[1], mode="r")
rows = np.random.default_rng(0).choice(array.shape[0], int(sys.argv[2]), replace=False)
start = time.perf_counter()
if sys.argv[3] == "lazy":
    X = mean_over_views(LazyRows(array).take(rows))
else:
    X = np.asarray(array[...], dtype=np.float32)[rows].mean(axis=1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{(peak - base) / 1024:.1f} {seconds:.3f} {X.shape[0]}")
"""


def make_store(path: Path, n: int, dim: int) -> None:
    """A store-shaped float16 array of ``n`` rows, written a chunk at a time (never whole in memory)."""
    chunk = chunk_rows_for(n, 1, dim, 2)
    array = zarr.create_array(str(path), shape=(n, 1, dim), chunks=(chunk, 1, dim), dtype="float16", fill_value=np.nan)
    rng = np.random.default_rng(0)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        array[start:stop] = rng.normal(size=(stop - start, 1, dim)).astype(np.float16)


def measure(path: Path, select: int, mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(select), mode, str(ROOT)], check=True, capture_output=True, text=True)
    rss, seconds, rows = out.stdout.split()
    return {"peak_rss_above_start_mb": float(rss), "seconds": float(seconds), "rows": int(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--select", type=int, default=10_000)
    args = parser.parse_args()
    sizes, dim = ((20_000, 80_000), 512) if args.quick else ((50_000, 200_000), 2048)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"store-{n}.zarr"
            started = time.perf_counter()
            make_store(path, n, dim)
            print(f"N={n}: store written in {time.perf_counter() - started:.0f} s", flush=True)
            lazy = measure(path, args.select, "lazy")
            eager = measure(path, args.select, "eager")
            rows.append({"n_store": n, "dim": dim, "store_mb": n * dim * 2 / 2**20, "lazy": lazy, "eager_read_all": eager})
            print(f"N={n}: lazy {lazy['peak_rss_above_start_mb']:.0f} MB in {lazy['seconds']:.1f} s; "
                  f"read-all {eager['peak_rss_above_start_mb']:.0f} MB in {eager['seconds']:.1f} s", flush=True)  # fmt: skip
    growth = rows[-1]["lazy"]["peak_rss_above_start_mb"] / rows[0]["lazy"]["peak_rss_above_start_mb"]
    result = {
        "machine": "shared 2-core machine (other jobs running); RSS does not depend on load",
        "select_rows": args.select, "dim": dim, "rows": rows,
        "lazy_rss_growth_for_store_x": sizes[-1] / sizes[0], "lazy_rss_growth": growth,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    name = "lazy_rss_quick" if args.quick else "lazy_rss"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Peak RSS selecting {args.select:,} rows (float16, dim {dim})", "",
        "Measured on the shared 2-core machine; peak RSS above the child's RSS after imports.", "",
        "| store rows | store size | lazy: peak RSS | lazy: time | read whole store: peak RSS | read whole: time |",
        "|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['n_store']:,} | {r['store_mb']:.0f} MB | {r['lazy']['peak_rss_above_start_mb']:.0f} MB | {r['lazy']['seconds']:.1f} s "
            f"| {r['eager_read_all']['peak_rss_above_start_mb']:.0f} MB | {r['eager_read_all']['seconds']:.1f} s |"
        )
    lines += ["", f"Store {sizes[-1] // sizes[0]}x larger: lazy peak RSS x{growth:.2f}."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
