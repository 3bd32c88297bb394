"""The first hour of a new user on this machine: the README's commands, timed cold (issue 17, part 5).

    python benchmarks/first_hour.py [--name first_hour] [--skip-tests]

Runs, one after the other, with an empty cache (``$DEEPFEAT_IQA_CACHE`` in a fresh temporary folder):

* ``deepfeat-iqa score --examples`` (the README's first command, after installing);
* ``deepfeat-iqa demo`` cold (goal ≤ 2 minutes on 2 cores) and again warm;
* ``python -m pytest -n 2 -q`` (the README's test command; goal: well under 10 minutes on 2 cores).

Each is wall-clock time of a fresh process, so imports count, as they do for a user. Writes
``results/<name>.{json,md}`` with the machine record. An AVX2-only CPU is imitated on an AMX one with
``ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`` (docs/precision.md); the record says so. Run it with
nothing else running (load ≤ 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
GOALS_S = {"demo cold": 120, "tests": 600}


def timed(label: str, command: list[str], env: dict[str, str]) -> dict[str, object]:
    """Wall seconds and exit status of ``command`` in a fresh process (its output goes to a log)."""
    start = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = (run.stdout + run.stderr).strip().splitlines()[-1:] or [""]
    print(f"{label}: {seconds:.1f} s (exit {run.returncode}) {tail[0][:120]}", flush=True)
    return {"step": label, "seconds": round(seconds, 1), "exit": run.returncode, "last_line": tail[0][:200]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="first_hour")
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from deepfeat_iqa.runtime import machine

    load_before = os.getloadavg()[0]
    cli = [str(Path(sys.executable).parent / "deepfeat-iqa")]
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "DEEPFEAT_IQA_CACHE": cache}
        steps = [
            timed("score --examples (cold)", [*cli, "score", "--examples", "--out", str(Path(work) / "scores.csv")], env),
            timed("demo cold", [*cli, "demo", "--out", str(Path(work) / "demo")], env),
            timed("demo warm", [*cli, "demo", "--out", str(Path(work) / "demo")], env),
        ]
        if not args.skip_tests:
            steps.append(timed("tests", [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"], env))
    record = {"machine": machine.describe(), "load_before": load_before, "load_after": os.getloadavg()[0], "steps": steps}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=2))
    lines = [
        f"Measured on {machine.one_line(record['machine'])}, load {load_before:.2f} → {record['load_after']:.2f}; "
        "empty cache, each step a fresh process.\n",
        "| step | wall s | goal s | exit |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s['step']} | {s['seconds']} | {GOALS_S.get(s['step'], '')} | {s['exit']} |" for s in steps]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return max(int(s["exit"]) for s in steps)


if __name__ == "__main__":
    sys.exit(main())
