"""The edge benchmark's per-image listing: none against the default, regressions marked."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw

from alphacut.bench.edge_per_image import ImageRow, alpha_scores, compare_set, format_rows
from alphacut.pipeline.matte import upsample_alpha


def test_alpha_scores() -> None:
    truth = np.zeros((10, 20), dtype=np.uint8)
    truth[:, :10] = 255
    alpha = truth.copy()
    alpha[:, 10:12] = 255  # 20 pixels wrong
    sad, mae, iou = alpha_scores(alpha, truth)
    assert sad == 20 / 1000 and mae == 20 / 200 and iou == 100 / 120


def test_rows_mark_regressions_and_bounds() -> None:
    better = ImageRow("ecssd-dev", "a", 2.0, 1.5, 0.02, 0.015, 0.95, "matting 2/5 regions")
    slightly = ImageRow("ecssd-dev", "b", 2.0, 2.02, 0.02, 0.0202, 0.95, "matting 1/5 regions")
    far = ImageRow("ecssd-dev", "c", 2.0, 2.2, 0.02, 0.022, 0.95, "matting 5/5 regions")
    assert not better.worse and slightly.worse and not slightly.beyond_bounds
    assert far.beyond_bounds
    table = format_rows([better, slightly, far])
    lines = table.splitlines()
    assert lines[0] == "### ecssd-dev"
    assert lines[3].endswith("|  |") and lines[4].endswith("| worse |")
    assert lines[5].endswith("| WORSE! |")
    assert "worse on 2, beyond bounds on 1" in lines[-1] and "+10.0 % (c)" in lines[-1]


def test_compare_set_scores_one_mask_two_ways(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    truth = Image.new("L", (400, 300), 0)
    ImageDraw.Draw(truth).ellipse((100, 60, 300, 240), fill=255)
    Image.merge("RGB", (truth, truth, truth)).save(tmp_path / "images" / "one.png")
    truth.save(tmp_path / "masks" / "one.png")
    mask = np.asarray(truth.resize((320, 320)), dtype=np.float32) / 255.0

    class Remover:
        def remove(self, path: Path) -> SimpleNamespace:
            rgb = Image.open(path).convert("RGB")
            return SimpleNamespace(rgb=rgb, mask=mask, alpha=upsample_alpha(mask, rgb.size))

    (row,) = compare_set(tmp_path, Remover())
    assert row.name == "one" and row.iou_none > 0.95
    # A 400 px photo is near the mask's resolution: the default keeps the model's mask.
    assert row.decision.startswith("skipped") and row.sad_default == row.sad_none
