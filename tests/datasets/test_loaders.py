"""Every loader reads its fixture, a tiny copy of the published layout, into the right labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepfeat_iqa as dfi
from deepfeat_iqa.datasets import list_datasets, load

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FOLDER_OPTIONS = {"labels_csv": "labels.csv", "image_col": "file", "score_col": "score", "group_col": "content"}


def options(name: str) -> dict:
    return FOLDER_OPTIONS if name == "folder" else {}


@pytest.mark.parametrize("name", list_datasets())
def test_every_loader_reads_its_fixture(name: str) -> None:
    ds = load(name, FIXTURES / name, **options(name))
    assert len(ds) > 0 and ds.mos is not None and ds.scale is not None
    assert all(Path(p).is_file() for p in ds.paths)
    assert np.isfinite(ds.mos).all()
    assert ds.root == FIXTURES / name


def test_live_keeps_distorted_entries_and_groups_by_reference() -> None:
    ds = dfi.datasets.load_live(FIXTURES / "live")
    assert len(ds) == 10  # orgs == 1 entries (the originals) are left out
    assert ds.ids[:3] == ["jp2k/img1.bmp", "jp2k/img2.bmp", "jpeg/img1.bmp"]
    assert set(ds.groups) == {"bikes.bmp", "buildings.bmp"}
    assert not ds.scale.higher_is_better and ds.scale.kind == "DMOS"
    assert ds.distortion["type"].tolist()[-2:] == ["fastfading", "fastfading"]
    assert ds.distortion["level"].isna().all()


def test_live_original_dmos_is_one_option_away() -> None:
    realigned = dfi.datasets.load_live(FIXTURES / "live")
    original = dfi.datasets.load_live(FIXTURES / "live", realigned=False)
    np.testing.assert_allclose(original.mos, realigned.mos + 1.0)


def test_csiq_maps_spreadsheet_types_to_folders() -> None:
    ds = dfi.datasets.load_csiq(FIXTURES / "csiq")
    assert ds.ids[0] == "awgn/1600.AWGN.1.png"
    assert ds.distortion.loc["jpeg2000/1600.jpeg2000.2.png"].tolist() == ["jpeg2000", 2]
    assert set(ds.groups) == {"1600", "aerial_city"}
    assert ds.scale.high == 1.0 and not ds.scale.higher_is_better


def test_csiq_reads_a_pyiqa_style_csv(tmp_path: Path) -> None:
    reference = dfi.datasets.load_csiq(FIXTURES / "csiq")
    names = [Path(i).name for i in reference.ids]
    (tmp_path / "csiq.csv").write_text(
        "ref_name,dist_name,dmos\n" + "".join(f"x.png,{n},{m}\n" for n, m in zip(names, reference.mos))
    )
    ds = dfi.datasets.load_csiq(FIXTURES / "csiq", labels=tmp_path / "csiq.csv")
    assert ds.ids == reference.ids
    np.testing.assert_allclose(ds.mos, reference.mos)


@pytest.mark.parametrize(("name", "types"), [("tid2008", 17), ("tid2013", 24)])
def test_tid_parses_reference_type_and_level_from_names(name: str, types: int) -> None:
    ds = load(name, FIXTURES / name)
    assert ds.ids[1] == f"i01_{types:02d}_{4 if types == 17 else 5}.bmp"
    assert set(ds.groups) == {"I01", "I02"}
    assert ds.distortion.loc["i01_11_2.bmp"].tolist() == ["jpeg2000", 2]
    assert ds.paths[2].name == "I01_11_2.BMP"  # the archive's case, not the text file's
    assert ds.scale.high == 9.0


def test_kadid_scores_are_mos_and_references_are_not_unlisted() -> None:
    ds = dfi.datasets.load_kadid10k(FIXTURES / "kadid10k")
    assert len(ds) == 6 and ds.scale.higher_is_better and ds.scale.high == 5.0
    assert ds.distortion.loc["I02_25_05.png"].tolist() == ["contrast-change", 5]
    assert ds.groups[0] == "I01.png"


def test_livec_drops_the_seven_training_images_unless_asked() -> None:
    ds = dfi.datasets.load_livec(FIXTURES / "livec")
    assert ds.ids == ["100.bmp", "101.bmp", "10.bmp", "3.bmp", "1002.JPG"]
    everything = load("clive", FIXTURES / "livec", include_training=True)
    assert everything.ids[:7] == [f"t{k}.bmp" for k in range(1, 8)]
    assert everything.paths[0].parent.name == "trainingImages"
    np.testing.assert_allclose(everything.mos[7:], ds.mos)


def test_koniq_reads_official_sets_and_resolution() -> None:
    ds = dfi.datasets.load_koniq10k(FIXTURES / "koniq10k")
    assert ds.official_split.tolist() == ["train", "train", "val", "test", "train"]
    assert ds.paths[0].parent.name == "1024x768"
    small = load("KonIQ-10k", FIXTURES / "koniq10k", resolution="512x384", score="MOS_zscore")
    assert small.paths[0].parent.name == "512x384"
    np.testing.assert_allclose(small.mos, ds.mos * 20, rtol=1e-5)
    assert small.scale.high == 100.0


def test_koniq_without_sets_file_has_no_official_split(tmp_path: Path) -> None:
    root = tmp_path / "koniq"
    root.mkdir()
    (root / "koniq10k_scores_and_distributions.csv").write_bytes(
        (FIXTURES / "koniq10k" / "koniq10k_scores_and_distributions.csv").read_bytes()
    )
    (root / "512x384").symlink_to(FIXTURES / "koniq10k" / "512x384")
    ds = dfi.datasets.load_koniq10k(root)
    assert ds.official_split is None and ds.paths[0].parent.name == "512x384"


def test_spaq_side_tables_are_typed() -> None:
    ds = dfi.datasets.load_spaq(FIXTURES / "spaq")
    assert list(ds.attributes.columns) == ["brightness", "colorfulness", "contrast", "noisiness", "sharpness"]
    assert ds.scenes.dtypes.eq(bool).all() and ds.scenes.shape == (5, 9)
    assert ds.scenes.loc["00001.jpg"].sum() == 2 and ds.scenes.loc["00001.jpg", "night"]
    exif = ds.exif
    assert exif["flash"].dtype == "boolean" and exif.loc["00005.jpg", "flash"]
    assert np.isnan(exif.loc["00003.jpg", "brightness_value"])
    hour = np.mod(np.degrees(np.arctan2(exif["time_sin"], exif["time_cos"])) / 15, 24).round().tolist()
    assert hour == [13, 14, 3, 9, 22]
    raw = dfi.datasets.load_spaq(FIXTURES / "spaq", exif_sheet="Source EXIF tags").exif
    assert raw.loc["00001.jpg", "time"] == "2018:06:01 13:00:00"


def test_scpqd_targets_and_scene_groups() -> None:
    ds = dfi.datasets.load_scpqd2020(FIXTURES / "scpqd2020")
    assert ds.scale.higher_is_better  # the overall score
    assert ds.aspects.dtypes.eq("Int64").all() and list(ds.aspects.columns) == ["texture", "color", "noise", "exposure"]
    assert ds.groups.tolist() == ["001"] * 3 + ["002"] * 3
    noise = load("scpqd", FIXTURES / "scpqd2020", target="noise")
    assert noise.mos.tolist() == [3, 1, 2, 3, 1, 2] and not noise.scale.higher_is_better
    mean = load("scpqd2020", FIXTURES / "scpqd2020", target="mean-rank")
    assert mean.mos[0] == pytest.approx(7 / 4) and mean.scale.kind == "rank"


def test_load_folder_with_and_without_labels() -> None:
    ds = dfi.datasets.load_folder(FIXTURES / "folder", "labels.csv", image_col="file", score_col="score",
                                  group_col="content", scale=(0, 10))
    assert ds.groups.tolist() == ["a", "a", "b", "b"] and ds.scale.high == 10.0
    assert ds.name == "folder"
    unlabeled = dfi.datasets.load_folder(FIXTURES / "folder" / "shots")
    assert unlabeled.mos is None and len(unlabeled) == 4


def test_subset_keeps_side_tables() -> None:
    ds = dfi.datasets.load_spaq(FIXTURES / "spaq")
    part = ds.subset([4, 0])
    assert part.ids == ["00005.jpg", "00001.jpg"]
    assert part.exif.index.tolist() == part.ids and part.scenes.loc["00001.jpg", "night"]
