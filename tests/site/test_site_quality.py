"""The catalog's quality section: the render's figures in plain words, beside the stock paste-back."""

from __future__ import annotations

import json
import re

from pipeline.site.quality import headlines, is_stock
from tests.helpers import run_alpha


def _restore_metrics(entry: dict) -> dict:
    stages = entry["stages"]
    if "blend" in (stages.get("restore") or {}).get("metrics", {}):
        return stages["restore"]["metrics"]
    return stages["lipsync"]["metrics"]["restore"]


def test_quality_in_plain_words_beside_the_stock_paste_back(demo):
    # ep01 stands for a stock render: its lock entry carries the figures a stock paste-back
    # (blend alpha, no blur or erosion) of this face measured (the restore benchmark's 7.9 and 2.0).
    lock_file = demo / "alpha.lock"
    lock = json.loads(lock_file.read_text())
    seam = _restore_metrics(lock["episodes"]["ep02-the-seam"])
    stock = dict(seam, blend="alpha", blur=0, erode=0, seam_rect_mean=7.9, seam_inner_mean=2.04)
    ep01 = lock["episodes"]["ep01-hello"]["stages"]
    ep01.setdefault("lipsync", {}).setdefault("metrics", {})["restore"] = stock
    ep01.pop("restore", None)
    lock_file.write_text(json.dumps(lock, indent=1))
    result = run_alpha("-C", str(demo), "build", "site")
    assert result.exit_code == 0, result.stderr
    page = (demo / "site" / "episodes" / "ep02-the-seam" / "index.html").read_text()
    section = page[page.index('id="quality"'):page.index('id="history"')]
    inner = f"{seam['seam_inner_mean']:.2f}"
    assert re.search(rf"Colour step at the edge of the mouth: <strong>{inner} grey levels</strong> "
                     r'<span class="baseline">\(stock paste-back: 2\.0, in <a href="\.\./\.\./episodes/ep01-hello/">'
                     r"Hello, world</a>\)",
                     section), section
    assert "Colour step at the edge of the pasted rectangle: <strong>0 grey levels</strong>" in section
    assert "stock paste-back: 7.9" in section
    assert "seam_inner_mean" not in section.split("<details")[0]  # internal keys only in the full table
    stock_page = (demo / "site" / "episodes" / "ep01-hello" / "index.html").read_text()
    assert "(stock paste-back:" not in stock_page  # no baseline beside the baseline itself


def test_headlines_skip_what_a_render_did_not_measure():
    stock = {"restore": {"blend": "alpha", "blur": 0, "erode": 0, "seam_inner_mean": 2.04}}
    assert is_stock(stock) and not is_stock({"restore": {"blend": "poisson", "blur": 0, "erode": 0}})
    figures = headlines({"restore": {"blend": "poisson", "seam_inner_mean": 0.2891, "fallbacks": 0}},
                        ("Hello", "episodes/ep01-hello/", stock))
    assert [(f.label, f.value, f.baseline) for f in figures] == [
        ("Colour step at the edge of the mouth", "0.29 grey levels", "2.0"),
        ("Frames that fell back to the stock paste-back", "0 frames", None)]
    assert headlines({}, None) == []
