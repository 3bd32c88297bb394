"""Regenerate the report screenshots in docs/img/ (needs Chromium): ``PYTHONPATH=.:tests python benchmarks/report_screenshots.py``.

The inputs are illustrative, not a model's output: scikit-image's photos at graded Gaussian blur, with
scores (and sds) that fall with the blur, so the pictures show what each report looks like at a glance.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from helpers.browser import FLAGS, chromium
from PIL import Image, ImageFilter

DOCS = Path(__file__).resolve().parents[1] / "docs" / "img"


def photos(folder: Path) -> list[tuple[Path, int]]:
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "cat"):
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        image.thumbnail((400, 400))
        for level in range(3):
            path = folder / f"{name}_blur{level}.jpg"
            image.filter(ImageFilter.GaussianBlur(2.5 * level)).save(path, quality=90)
            made.append((path, level))
    return made


def shoot(page: Path, png: Path, size: str = "1200,900") -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}",
                        "--hide-scrollbars", page.resolve().as_uri()], check=True, capture_output=True, timeout=120)  # fmt: skip
    print(png)


def main() -> None:
    from deepfeat_iqa.evaluation.report import score_report
    from deepfeat_iqa.evaluation.results import EvaluationResult
    from deepfeat_iqa.evaluation.metrics import summary_and_mapping

    root = Path(tempfile.mkdtemp(prefix="dfi-shots-"))
    made = photos(root / "photos")
    rng = np.random.default_rng(3)
    level = np.array([lv for _, lv in made], dtype=float)
    score = 72 - 18 * level + rng.normal(0, 6, len(made))
    table = pd.DataFrame({"id": [p.name for p, _ in made], "path": [str(p) for p, _ in made], "score": score,
                          "sd": 3 + 2.5 * level + rng.uniform(0, 2, len(made))})  # fmt: skip
    broken = root / "photos" / "IMG_0042.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    shoot(score_report(table, root / "score", failed={str(broken): "Image is corrupt or truncated and cannot be decoded"},
                       note="Illustration: scikit-image photos at three blur levels."), DOCS / "score-report.png")  # fmt: skip

    y_true = 80 - 20 * level + rng.normal(0, 5, len(made))
    frames, rows = [], []
    for split in range(3):
        y_pred = y_true + rng.normal(0, 9, len(made))
        frames.append(pd.DataFrame({"id": table["id"], "path": table["path"], "split": split, "y_true": y_true, "y_pred": y_pred}))
        metrics, _ = summary_and_mapping(y_true, y_pred)
        rows.append({"split": split, "n_train": 54, "n_test": len(made), **metrics})
    info = {"head": "gpr", "dataset": "blur-demo", "protocol": "repeated", "seed": 0, "test_size": 0.25,
            "feature_key": {"backbone": "efficientnet_lite0", "layer": "blocks.4", "pooling": "avg", "views": "full384"},
            "scale": {"kind": "MOS", "low": 0.0, "high": 100.0, "higher_is_better": True}, "versions": {"deepfeat_iqa": "0.2"}}  # fmt: skip
    result = EvaluationResult(pd.DataFrame(rows).set_index("split"), pd.concat(frames, ignore_index=True), info)
    shoot(result.save_report(root / "evaluate")["html"], DOCS / "evaluate-report.png", size="1200,1500")


if __name__ == "__main__":
    main()
