"""Recreate ``tests/datasets/fixtures/``: tiny copies of each database's published layout.

Every fixture keeps the real file formats and names (``.mat`` written by scipy, ``.xlsx`` by
openpyxl, the publisher's column names) with a handful of 8x8 generated images, so the loaders are
tested against the layouts users unpack, at a few kilobytes. Run ``python tests/datasets/make_fixtures.py``
after changing it; the output is deterministic apart from spreadsheet timestamps.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from PIL import Image
from scipy.io import savemat

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RNG = np.random.default_rng(0)


def image(path: Path) -> None:
    """An 8x8 RGB noise image in the format the suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def cell(strings: list[str], shape: tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array of strings, as savemat writes object arrays."""
    out = np.empty(len(strings), dtype=object)
    out[:] = strings
    return out.reshape(shape)


def live(root: Path) -> None:
    """982 label entries like the real files; only 2 per folder are distorted (orgs == 0) and on disk."""
    folders = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))
    refs = ["bikes.bmp", "buildings.bmp"]
    dmos, orgs, refnames = [], [], []
    for folder, count in folders:
        for j in range(1, count + 1):
            kept = j <= 2
            dmos.append(round(20 + 10 * j + RNG.uniform(0, 5), 3) if kept else 0.0)
            orgs.append(0 if kept else 1)
            refnames.append(refs[(j - 1) % 2])
            if kept:
                image(root / folder / f"img{j}.bmp")
    for ref in refs:
        image(root / "refimgs" / ref)
    dmos_row, orgs_row = np.array([dmos]), np.array([orgs], dtype=float)
    savemat(root / "dmos_realigned.mat", {"dmos_new": dmos_row, "orgs": orgs_row, "dmos_std": np.ones_like(dmos_row)})
    savemat(root / "dmos.mat", {"dmos": dmos_row + 1.0, "orgs": orgs_row})
    savemat(root / "refnames_all.mat", {"refnames_all": cell(refnames, (1, len(refnames)))})


CSIQ_ROWS = [  # image, dst_idx, dst_type, dst_lev, dmos_std, dmos
    (1600, 1, "noise", 1, 0.02, 0.061989),
    (1600, 5, "jpeg 2000", 2, 0.03, 0.135311),
    (1600, 4, "fnoise", 1, 0.02, 0.041221),
    ("aerial_city", 3, "blur", 1, 0.02, 0.027045),
    ("aerial_city", 6, "contrast", 3, 0.04, 0.251310),
    ("aerial_city", 2, "jpeg", 4, 0.05, 0.607260),
]
CSIQ_FILES = {"noise": ("awgn", "AWGN"), "jpeg 2000": ("jpeg2000", "jpeg2000"), "fnoise": ("fnoise", "fnoise"),
              "blur": ("blur", "BLUR"), "contrast": ("contrast", "contrast"), "jpeg": ("jpeg", "JPEG")}


def csiq(root: Path) -> None:
    """csiq.DMOS.xlsx with the publisher's title rows and its header starting in column D."""
    book = Workbook()
    sheet = book.active
    sheet.title = "all_by_image"
    sheet["A1"] = "CSIQ image quality database: DMOS"
    sheet["A2"] = "Larson & Chandler"
    sheet.append([])
    sheet.append([None, None, None, "image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"])
    for row in CSIQ_ROWS:
        sheet.append([None, None, None, *row])
    book.create_sheet("all_by_distortion")
    book.save(root / "csiq.DMOS.xlsx")
    for ref, _, kind, level, _, _ in CSIQ_ROWS:
        folder, token = CSIQ_FILES[kind]
        image(root / "dst_imgs" / folder / f"{ref}.{token}.{level}.png")
    for ref in ("1600", "aerial_city"):
        image(root / "src_imgs" / f"{ref}.png")


def tid(root: Path, types: int, levels: int) -> None:
    """mos_with_names.txt written in lower case; one archive file upper case, as in the real archive."""
    lines = []
    for ref in (1, 2):
        for kind, level in ((1, 1), (types, levels), (11, 2)):
            name = f"i{ref:02d}_{kind:02d}_{level}.bmp"
            lines.append(f"{RNG.uniform(1, 7):.5f} {name}")
            on_disk = name.upper() if kind == 11 else name
            image(root / "distorted_images" / on_disk)
        image(root / "reference_images" / f"I{ref:02d}.BMP")
    (root / "mos_with_names.txt").write_text("\n".join(lines) + "\n")


def kadid(root: Path) -> None:
    rows = []
    for ref in (1, 2):
        image(root / "images" / f"I{ref:02d}.png")
        for kind, level in ((1, 1), (10, 3), (25, 5)):
            name = f"I{ref:02d}_{kind:02d}_{level:02d}.png"
            image(root / "images" / name)
            rows.append({"dist_img": name, "ref_img": f"I{ref:02d}.png", "dmos": round(RNG.uniform(1, 5), 2),
                         "var": round(RNG.uniform(0, 1), 3)})
    pd.DataFrame(rows).to_csv(root / "dmos.csv", index=False)


def livec(root: Path) -> None:
    names = [f"t{k}.bmp" for k in range(1, 8)] + ["100.bmp", "101.bmp", "10.bmp", "3.bmp", "1002.JPG"]
    for name in names:
        image(root / "Images" / ("trainingImages" if name.startswith("t") else "") / name)
    mos = np.round(RNG.uniform(5, 95, (1, len(names))), 4)
    (root / "Data").mkdir(parents=True, exist_ok=True)
    savemat(root / "Data" / "AllImages_release.mat", {"AllImages_release": cell(names, (len(names), 1))})
    savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos})
    savemat(root / "Data" / "AllStdDev_release.mat", {"AllStdDev_release": np.full_like(mos, 18.0)})


def koniq(root: Path) -> None:
    names = ["10004473376.jpg", "10007357496.jpg", "10024517224.jpg", "10028336946.jpg", "1003188364.jpg"]
    counts = RNG.integers(0, 40, (len(names), 5))
    mos = (counts * np.arange(1, 6)).sum(1) / counts.sum(1)
    scores = pd.DataFrame({"image_name": names, **{f"c{k}": counts[:, k - 1] for k in range(1, 6)},
                           "c_total": counts.sum(1), "MOS": mos.round(6), "SD": 0.5,
                           "MOS_zscore": (mos * 20).round(6)})
    scores.to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)
    sets = scores.drop(columns="MOS_zscore").assign(set=["training", "training", "validation", "test", "training"])
    sets.to_csv(root / "koniq10k_distributions_sets.csv", index=False)
    for name in names:
        image(root / "1024x768" / name)
        image(root / "512x384" / name)


def spaq(root: Path) -> None:
    """The three workbooks with SPAQ's column names; EXIF's time tag spans two columns under one header."""
    names = [f"{k:05d}.jpg" for k in range(1, 6)]
    for name in names:
        image(root / "TestImage" / name)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    scores = RNG.uniform(5, 95, (len(names), 6)).round(2)
    pd.DataFrame(scores, columns=["MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"]) \
        .assign(**{"Image name": names})[["Image name", "MOS", "Brightness", "Colorfulness", "Contrast",
                                           "Noisiness", "Sharpness"]] \
        .to_excel(root / "Annotations" / "MOS and Image attribute scores.xlsx", index=False)
    scene_cols = ["Animal", "Cityscape", "Human", "Indoor scene", "Landscape", "Night scene", "Plant",
                  "Still-life", "Others"]
    labels = np.zeros((len(names), 9))
    for i, picks in enumerate(([1, 5], [4], [0, 6, 7], [8], [2, 3])):
        labels[i, picks] = round(1 / len(picks), 6)
    pd.DataFrame(labels, columns=scene_cols).assign(**{"Image name": names})[["Image name", *scene_cols]] \
        .to_excel(root / "Annotations" / "Scene category labels.xlsx", index=False)
    book = Workbook()
    encoded = book.active
    encoded.title = "EXIF tags"
    encoded.append(["Image name", "Focal length", "F-number", "Exposure time", "ISO", "Brightness", "Flash",
                    "Time", None])
    hours = [13, 14, 3, 9, 22]
    for name, hour in zip(names, hours):
        angle = 2 * np.pi * hour / 24
        encoded.append([name, 4.2, 1.7, 0.01, 200, 1.5 if hour != 3 else None, int(hour == 22),
                        round(float(np.cos(angle)), 6), round(float(np.sin(angle)), 6)])
    source = book.create_sheet("Source EXIF tags")
    source.append(["Image name", "Focal length", "F-number", "Exposure time", "ISO", "Brightness", "Flash", "Time"])
    for name, hour in zip(names, hours):
        source.append([name, 4.2, 1.7, 0.01, 200, 1.5, int(hour == 22), f"2018:06:01 {hour:02d}:00:00"])
    book.save(root / "Annotations" / "EXIF_tags.xlsx")


def scpqd(root: Path) -> None:
    rows = []
    for scene in ("001", "002"):
        for phone, ranks in (("phone01", (1, 2, 3, 1)), ("phone02", (2, 1, 1, 3)), ("phone03", (3, 3, 2, 2))):
            path = f"{scene}/{phone}.jpg"
            image(root / "images" / path)
            rows.append({"image": path, "scene": scene, "texture": ranks[0], "color": ranks[1], "noise": ranks[2],
                         "exposure": ranks[3], "overall": round(float(RNG.uniform(30, 90)), 2)})
    pd.DataFrame(rows).to_csv(root / "scpqd2020.csv", index=False)


def folder(root: Path) -> None:
    rows = []
    for k, content in enumerate(("a", "a", "b", "b")):
        path = f"shots/{content}/{k}.jpg"
        image(root / path)
        rows.append({"file": path, "score": round(float(RNG.uniform(1, 10)), 2), "content": content})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)


def synth(root: Path) -> None:
    """Two 48x48 noise references through dfi.synth.build, two distortions each (what `deepfeat-iqa synth` writes)."""
    from deepfeat_iqa.synth import build

    refs = root.parent / "_synth_refs"
    for name in ("ra", "rb"):
        ref = refs / f"{name}.png"
        ref.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(RNG.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(ref)
    build(sorted(refs.glob("*.png")), root, per_image=2, seed=0, progress=False)
    shutil.rmtree(refs)


BUILDERS = {
    "live": live,
    "csiq": csiq,
    "tid2008": lambda root: tid(root, types=17, levels=4),
    "tid2013": lambda root: tid(root, types=24, levels=5),
    "kadid10k": kadid,
    "livec": livec,
    "koniq10k": koniq,
    "spaq": spaq,
    "scpqd2020": scpqd,
    "folder": folder,
    "synth": synth,
}


def main(names: list[str] | None = None) -> None:
    for name, build in BUILDERS.items():
        if names and name not in names:
            continue
        root = FIXTURES / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        build(root)
    size = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"wrote {FIXTURES} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or None)  # e.g. `python tests/datasets/make_fixtures.py synth` rebuilds only that one
