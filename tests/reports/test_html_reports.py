"""The HTML reports' content, without a browser: contact sheet, failures, cached thumbnails, evaluation page."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.reports import evaluation_result, recorded_study, score_table

from deepfeat_iqa.evaluation.report import score_report


def test_score_report_sorts_marks_confidence_and_lists_failures(photo_dir: Path, tmp_path: Path) -> None:
    broken = photo_dir / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    table = score_table(photo_dir)  # includes broken.jpg: scored (say) but undecodable for a thumbnail
    page = score_report(table, tmp_path / "report", failed={"/photos/gone.png": "left out by extraction"})
    html = page.read_text()
    assert page.name == "index.html" and "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    scores = [float(s) for s in re.findall(r'class="card" data-score="([^"]+)"', html)]
    assert scores == sorted(scores) and len(scores) == len(table)  # worst first, every scored photo a card
    assert html.count('class="conf conf-') == len(table)  # a confidence mark per photo (the table has sd)
    assert "Photos that could not be scored (2)" in html and "gone.png" in html and "broken.jpg" in html
    assert "cannot be decoded" in html or "not an image" in html  # the reason, from the image loader
    assert len(list((tmp_path / "report" / "thumbs").glob("*.jpg"))) == len(table) - 1


def test_thumbnails_are_made_once(photo_dir: Path, tmp_path: Path) -> None:
    table = score_table(photo_dir, with_sd=False)
    score_report(table, tmp_path / "r")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "r" / "thumbs").iterdir()}
    html = score_report(table.assign(score=table["score"] + 1), tmp_path / "r").read_text()
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "r" / "thumbs").iterdir()}
    assert before == after and len(before) == len(table)  # reused, not rewritten
    assert "conf-" not in html.replace(".conf-", "") and "most uncertain" not in html  # no sd: no confidence marks


def test_evaluation_report_shows_the_most_misjudged_photos(photo_dir: Path, tmp_path: Path) -> None:
    result = evaluation_result(photo_dir)
    written = result.save_report(tmp_path / "eval")
    html = written["html"].read_text()
    for section in ("Summary over splits", "Per split", "Diagnostics", "Predicted too high", "Predicted too low", "Run record"):
        assert section in html
    assert html.count('src="plots/') == 3 and html.count('src="thumbs/') >= 4
    assert "MOS" in html and "resnet18" in html and "mean of 2 splits" in html


def _hrefs(html: str) -> list[str]:
    return re.findall(r'<a[^>]* href="([^"]+)"', html)


def test_sweep_page_links_each_done_cell_to_its_evaluation_page(photo_dir: Path, tmp_path: Path) -> None:
    from deepfeat_iqa.studies._html_report import sweep_page

    study = recorded_study(tmp_path / "study.db", photo_dir)  # 2 backbones x 2 layers x 2 heads, the last cell failed
    table = study.table()
    done = table.loc[table["status"] == "done", "cell_id"].tolist()
    page = sweep_page(study, tmp_path / "out" / "tiny.html", "tiny", best=("Best", study.best(k=1)), heatmap=None)
    html = page.read_text()
    cell_links = [h for h in _hrefs(html) if h.startswith("tiny_cells/")]
    assert sorted(set(cell_links)) == sorted(f"tiny_cells/{c}.html" for c in done)  # every done cell, no failed one
    all_cells = html[html.index("<h2>All cells</h2>"):]
    assert len([h for h in _hrefs(all_cells) if h.startswith("tiny_cells/")]) == len(done)  # one link per done row
    assert html.count('class="grid"') == 1 and "failed" in html
    for href in set(cell_links):
        target = (page.parent / href).resolve()
        cell_html = target.read_text()
        assert "Per split" in cell_html and "Predicted too high" in cell_html
        for local in _hrefs(cell_html) + re.findall(r'src="([^"]+)"', cell_html):  # every relative link resolves
            assert (target.parent / local).resolve().is_file(), (href, local)
        assert "../tiny.html" in _hrefs(cell_html)
    assert len(list((page.parent / "tiny_cells" / "plots").glob("*_scatter.png"))) == len(done)

    written = {p: p.stat().st_mtime_ns for p in (page.parent / "tiny_cells").rglob("*") if p.is_file()}
    sweep_page(study, page, "tiny", best=("Best", study.best(k=1)), heatmap=None)  # a rerun reuses every cell page
    assert {p: p.stat().st_mtime_ns for p in (page.parent / "tiny_cells").rglob("*") if p.is_file()} == written
