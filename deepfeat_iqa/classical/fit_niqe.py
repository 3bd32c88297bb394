"""Fit NIQE's pristine model and write it as the package data file (how ``data/niqe_pristine.npz`` was made).

    python -m deepfeat_iqa.classical.fit_niqe ../shared/data/pristine            # rewrites the shipped file
    python -m deepfeat_iqa.classical.fit_niqe photos/ --out my_niqe.npz          # a model of your own

Every image under the folder (recursively) is used at its own size; the file records the image count,
patch count, patch size and sharpness threshold next to the 36 means and the 36x36 covariance.
"""

from __future__ import annotations

import argparse
import json
from importlib.resources import files
from pathlib import Path

import numpy as np

from deepfeat_iqa.datasets import IMAGE_SUFFIXES
from deepfeat_iqa.inputs.images import load_rgb
from deepfeat_iqa.classical._niqe import MODEL_FILE, PATCH, SHARPNESS_FRACTION, fit_model


def write_model(folder: Path, out: Path) -> dict:
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"No images under {folder}.")
    mean, cov, n_patches = fit_model([load_rgb(p) for p in paths])
    provenance = {
        "images": len(paths), "source": folder.name, "patches": n_patches, "patch": PATCH,
        "sharpness_fraction": SHARPNESS_FRACTION, "script": "python -m deepfeat_iqa.classical.fit_niqe",
    }  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, mean=mean, cov=cov, provenance=np.asarray(json.dumps(provenance, sort_keys=True)))
    return provenance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="Folder of pristine (undistorted) photos")
    parser.add_argument("--out", type=Path, default=Path(str(files("deepfeat_iqa.classical") / "data" / MODEL_FILE)))
    args = parser.parse_args(argv)
    print(json.dumps(write_model(args.folder, args.out)), "->", args.out)


if __name__ == "__main__":
    main()
