"""Each report kind rendered in headless Chromium: every image loads, the console stays empty, a screenshot is taken.

Skips with the reason where Chromium is absent (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.browser import chromium, image_states, render
from helpers.reports import evaluation_result, recorded_study, score_table

from deepfeat_iqa.evaluation.report import score_report


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    chromium()


def _check(page: Path, tmp_path: Path, expected_images: int) -> None:
    rendered = render(page, tmp_path)
    states = image_states(rendered.dom)
    assert len(states) >= expected_images and set(states) == {"yes"}, states
    assert rendered.console == [], rendered.console
    assert 'data-images="' in rendered.dom and rendered.screenshot.stat().st_size > 10_000


def test_score_report_in_browser(photo_dir: Path, tmp_path: Path) -> None:
    table = score_table(photo_dir)
    page = score_report(table, tmp_path / "report", failed={str(tmp_path / "x.jpg"): "not an image"})
    _check(page, tmp_path, len(table))
    # the sort control ran: its count line was filled in by the script
    assert f"{len(table)} of {len(table)} photos" in render(page, tmp_path).dom


def test_evaluation_report_in_browser(photo_dir: Path, tmp_path: Path) -> None:
    written = evaluation_result(photo_dir).save_report(tmp_path / "eval")
    _check(written["html"], tmp_path, 3 + 4)


def test_cross_experiment_page_in_browser(photo_dir: Path, tmp_path: Path) -> None:
    from deepfeat_iqa.studies._cross import CrossStudy
    from deepfeat_iqa.studies._html_report import experiment_page

    result = evaluation_result(photo_dir, n_splits=1)
    study = CrossStudy({(a, b): result for a in ("live", "csiq", "tid2013") for b in ("live", "csiq", "tid2013") if a != b})
    heatmap = study.heatmap(tmp_path / "out" / "cross.png")
    page = experiment_page(tmp_path / "out" / "cross.html", "cross (smoke)", heatmap=heatmap,
                           tables=[("SROCC", study.matrix("srocc")), ("pairs", study.to_frame())])  # fmt: skip
    _check(page, tmp_path, 1)


def test_sweep_page_and_a_linked_cell_page_in_browser(photo_dir: Path, tmp_path: Path) -> None:
    import re

    from deepfeat_iqa.studies._html_report import sweep_page

    study = recorded_study(tmp_path / "study.db", photo_dir)
    page = sweep_page(study, tmp_path / "out" / "tiny.html", "tiny", best=("Best", study.best(k=1)), heatmap=None)
    rendered = render(page, tmp_path)
    assert rendered.console == [], rendered.console
    link = re.search(r'<td style="background[^"]*"><a [^>]*href="(tiny_cells/[^"]+)"', rendered.dom).group(1)  # a heatmap square
    _check(page.parent / link, tmp_path, 1 + 4)  # the linked page renders: its scatter and misjudged photos load
