"""Each way a layout can be off gives an error (or warning) naming the file, the row and the fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.io import loadmat, savemat

from deepfeat_iqa.datasets import UnlistedImagesWarning, list_datasets, load
from deepfeat_iqa.errors import ConfigError, DataError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FOLDER_OPTIONS = {"labels_csv": "labels.csv", "image_col": "file", "score_col": "score", "group_col": "content"}

#: name -> (main label file, one listed image, the folder strays would sit in), all relative to the root
LAYOUT = {
    "live": ("dmos_realigned.mat", "wn/img2.bmp", "wn"),
    "csiq": ("csiq.DMOS.xlsx", "dst_imgs/blur/aerial_city.BLUR.1.png", "dst_imgs/blur"),
    "tid2008": ("mos_with_names.txt", "distorted_images/i02_01_1.bmp", "distorted_images"),
    "tid2013": ("mos_with_names.txt", "distorted_images/i02_01_1.bmp", "distorted_images"),
    "kadid10k": ("dmos.csv", "images/I02_10_03.png", "images"),
    "livec": ("Data/AllMOS_release.mat", "Images/101.bmp", "Images"),
    "koniq10k": ("koniq10k_scores_and_distributions.csv", "1024x768/10024517224.jpg", "1024x768"),
    "spaq": ("Annotations/MOS and Image attribute scores.xlsx", "TestImage/00004.jpg", "TestImage"),
    "scpqd2020": ("scpqd2020.csv", "images/002/phone01.jpg", "images/002"),
    "folder": ("labels.csv", "shots/b/2.jpg", "shots/a"),
    "synth": ("labels.csv", "images/ra/ra__gaussian_blur-1.png", "images/ra"),
}


def options(name: str) -> dict:
    return FOLDER_OPTIONS if name == "folder" else {}


@pytest.fixture()
def copy(tmp_path: Path):
    """A writable copy of one fixture."""

    def make(name: str) -> Path:
        return Path(shutil.copytree(FIXTURES / name, tmp_path / name))

    return make


def test_layout_table_covers_every_loader() -> None:
    assert sorted(LAYOUT) == list_datasets()


@pytest.mark.parametrize("name", list_datasets())
def test_missing_root_says_what_the_folder_should_hold(name: str, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"`{name}`: root .*nowhere.* does not exist.*it holds"):
        load(name, tmp_path / "nowhere", **options(name))


@pytest.mark.parametrize("name", [n for n in LAYOUT if n != "folder"])
def test_missing_label_file_is_named(name: str, copy) -> None:
    root = copy(name)
    label = LAYOUT[name][0]
    (root / label).unlink()
    with pytest.raises(DataError, match=rf"label file .*{Path(label).name}.* not found"):
        load(name, root)


def test_missing_label_file_for_a_folder(copy) -> None:
    root = copy("folder")
    with pytest.raises(DataError, match=r"label file 'scores.csv' not found.*relative to the image folder"):
        load("folder", root, labels_csv="scores.csv")


@pytest.mark.parametrize("name", list_datasets())
def test_listed_but_missing_images_are_counted_with_the_first(name: str, copy) -> None:
    root = copy(name)
    image = LAYOUT[name][1]
    (root / image).unlink()
    with pytest.raises(DataError) as info:
        load(name, root, **options(name))
    message = str(info.value)
    assert f"`{name}`: 1 " in message and "name images missing under" in message
    assert Path(image).name in message and ("row" in message or "line" in message or "entry" in message)


@pytest.mark.parametrize("name", list_datasets())
def test_unlisted_images_only_warn(name: str, copy) -> None:
    root = copy(name)
    Image.new("RGB", (8, 8)).save(root / LAYOUT[name][2] / "stray.png")
    with pytest.warns(UnlistedImagesWarning, match=r"1 image under .* not listed in .*stray\.png"):
        ds = load(name, root, **options(name))
    assert "stray.png" not in " ".join(ds.ids)


def _edit_csv(path: Path, row: int, column: str, value: object) -> None:
    table = pd.read_csv(path, dtype=str)
    table.loc[row, column] = value
    table.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("name", "column", "value", "shown"),
    [("kadid10k", "dmos", "abc", "row 3: 'abc'"), ("koniq10k", "MOS", None, "row 3: empty")],
)
def test_unparsable_or_empty_csv_score_names_the_row(name, column, value, shown, copy) -> None:
    root = copy(name)
    _edit_csv(root / LAYOUT[name][0], 1, column, value)
    expected = rf"1 row of {LAYOUT[name][0]} has a missing or non-numeric '{column}' \({shown}\)"
    with pytest.raises(DataError, match=expected):
        load(name, root)


def test_unparsable_score_in_a_spreadsheet(copy) -> None:
    root = copy("spaq")
    path = root / LAYOUT["spaq"][0]
    table = pd.read_excel(path, dtype=object)
    table.loc[3, "MOS"] = "n/a"
    table.to_excel(path, index=False)
    with pytest.raises(DataError, match=r"non-numeric 'MOS' \(row 5: 'n/a'\)\. Fix those cells"):
        load("spaq", root)


def test_unparsable_score_in_the_csiq_workbook_counts_title_rows(copy) -> None:
    from openpyxl import load_workbook

    root = copy("csiq")
    book = load_workbook(root / "csiq.DMOS.xlsx")
    book["all_by_image"]["I6"] = None  # the second data row's dmos; the header sits on row 4
    book.save(root / "csiq.DMOS.xlsx")
    with pytest.raises(DataError, match=r"non-numeric 'dmos' \(row 6: empty\)"):
        load("csiq", root)


def test_unparsable_score_in_a_text_file(copy) -> None:
    root = copy("tid2013")
    path = root / "mos_with_names.txt"
    lines = path.read_text().splitlines()
    lines[2] = "x.y " + lines[2].split()[1]
    path.write_text("\n".join(lines))
    expected = r"1 line of mos_with_names.txt has a missing or non-numeric 'score' \(line 3: 'x.y'\)"
    with pytest.raises(DataError, match=expected):
        load("tid2013", root)


def test_nan_score_in_a_mat_file(copy) -> None:
    root = copy("livec")
    path = root / "Data" / "AllMOS_release.mat"
    mos = loadmat(path)["AllMOS_release"]
    mos[0, 9] = np.nan
    savemat(path, {"AllMOS_release": mos})
    expected = r"AllMOS_release.mat has a missing or non-numeric 'AllMOS_release' \(entry 10: "
    with pytest.raises(DataError, match=expected):
        load("livec", root)


def test_duplicate_rows_are_named(copy) -> None:
    root = copy("kadid10k")
    path = root / "dmos.csv"
    table = pd.read_csv(path)
    pd.concat([table, table.iloc[[2]]]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"dmos.csv lists 1 image more than once \(first: I01_25_05.png at rows 4, 8\)"):
        load("kadid10k", root)


def test_duplicate_lines_in_tid_ignore_case(copy) -> None:
    root = copy("tid2008")
    path = root / "mos_with_names.txt"
    path.write_text(path.read_text() + "4.0 I01_01_1.BMP\n")
    with pytest.raises(DataError, match=r"lists 1 image more than once \(first: i01_01_1.bmp at lines 1, 7\)"):
        load("tid2008", root)


def test_missing_column_suggests_the_close_one(copy) -> None:
    root = copy("folder")
    with pytest.raises(DataError, match=r"no column 'scores'.*Did you mean 'score'\?.*score_col="):
        load("folder", root, labels_csv="labels.csv", image_col="file", score_col="scores")


def test_unknown_database_lists_known_and_suggests() -> None:
    expected = r"Unknown database 'koniq1k'\. Did you mean 'koniq10k'.*Known: csiq, folder, kadid10k"
    with pytest.raises(ConfigError, match=expected):
        load("koniq1k", "/tmp")


def test_unknown_option_lists_accepted_ones() -> None:
    with pytest.raises(ConfigError, match=r"`koniq10k` takes no option 'resolutoin'\. Its options: resolution, score"):
        load("koniq10k", FIXTURES / "koniq10k", resolutoin="512x384")


def test_bad_option_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="resolution='800x600'"):
        load("koniq10k", FIXTURES / "koniq10k", resolution="800x600")
    with pytest.raises(ConfigError, match=r"target='sharpness'; scpqd2020.csv supports overall, texture"):
        load("scpqd2020", FIXTURES / "scpqd2020", target="sharpness")


def test_koniq_without_image_folder_says_which_zip(copy) -> None:
    root = copy("koniq10k")
    shutil.rmtree(root / "1024x768")
    shutil.rmtree(root / "512x384")
    with pytest.raises(DataError, match=r"no image folder 1024x768/ or 512x384/.*koniq10k_1024x768.zip"):
        load("koniq10k", root)


def test_wrong_live_entry_count(copy) -> None:
    root = copy("live")
    labels = loadmat(root / "dmos_realigned.mat")
    savemat(root / "dmos_realigned.mat", {"dmos_new": labels["dmos_new"][:, :-1], "orgs": labels["orgs"][:, :-1]})
    with pytest.raises(DataError, match=r"dmos_new has 981 entries.*Release 2 has 982"):
        load("live", root)


def test_mat_file_without_the_variable_lists_what_it_has(copy) -> None:
    root = copy("livec")
    savemat(root / "Data" / "AllMOS_release.mat", {"mos": np.ones((1, 12))})
    with pytest.raises(DataError, match=r"AllMOS_release.mat holds no variable 'AllMOS_release' \(it has: mos\)"):
        load("livec", root)


def test_scpqd_ranks_must_be_whole_numbers(copy) -> None:
    root = copy("scpqd2020")
    _edit_csv(root / "scpqd2020.csv", 4, "color", "2.5")
    with pytest.raises(DataError, match=r"'color' must hold ranks .* row 6 has '2.5'"):
        load("scpqd2020", root)


def test_spaq_side_workbook_must_cover_every_image(copy) -> None:
    root = copy("spaq")
    path = root / "Annotations" / "Scene category labels.xlsx"
    pd.read_excel(path).iloc[:-1].to_excel(path, index=False)
    with pytest.raises(DataError, match=r"1 image of the MOS workbook have no row in Scene category labels.xlsx"):
        load("spaq", root)


def _european(table: Path) -> None:
    """Rewrite a comma-separated label table the way a spreadsheet in a decimal-comma locale exports it."""
    frame = pd.read_csv(table)
    frame.to_csv(table, sep=";", decimal=",", index=False)


def test_semicolon_tables_with_decimal_commas_are_read(copy) -> None:
    """`image;mos` / `a.jpg;3,5` (issue 21: it failed with "no column 'image' (columns: image;mos)")."""
    root = copy("folder")
    expected = load("folder", root, **FOLDER_OPTIONS)
    _european(root / "labels.csv")
    text = (root / "labels.csv").read_text()
    assert text.startswith("file;score;content") and ";4,16;" in text  # the export really is European
    european = load("folder", root, **FOLDER_OPTIONS)
    assert european.ids == expected.ids
    np.testing.assert_array_equal(european.mos, expected.mos)
    np.testing.assert_array_equal(european.groups, expected.groups)


def test_semicolon_tables_with_decimal_points_keep_their_points(copy) -> None:
    root = copy("folder")
    expected = load("folder", root, **FOLDER_OPTIONS)
    pd.read_csv(root / "labels.csv").to_csv(root / "labels.csv", sep=";", index=False)
    np.testing.assert_array_equal(load("folder", root, **FOLDER_OPTIONS).mos, expected.mos)


def test_a_label_path_that_could_mean_two_files_says_which_it_read(copy, tmp_path: Path, monkeypatch) -> None:
    """The image folder's file wins, with a warning naming both (issue 21: a stray `scores.csv` in the working
    folder was read instead, silently); a file found only in the working folder is read with a warning too."""
    root = copy("folder")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "labels.csv").write_text("id,path,score\nx,x.jpg,1\n")
    monkeypatch.chdir(elsewhere)
    with pytest.warns(UserWarning, match=r"'labels.csv' exists in the image folder .* and in the working folder .*reading the one in the image folder"):
        ds = load("folder", root, labels_csv="labels.csv", image_col="file", score_col="score", group_col="content")
    assert len(ds) > 1  # the image folder's table, not the stray one
    (elsewhere / "only-here.csv").write_text((root / "labels.csv").read_text())
    with pytest.warns(UserWarning, match=r"'only-here.csv' is not in the image folder .*; reading .*cwd/only-here.csv' from the working folder"):
        load("folder", root, labels_csv="only-here.csv", image_col="file", score_col="score", group_col="content")
