"""Quality gate on real photos with ground truth (skipped when ../shared/data is absent).

rembg 2.0.86 with the same model scores MAE 0.0357 and IoU 0.881 on ecssd-dev; a wrong
normalisation or output index pushes MAE far above the gate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from alphacut.pipeline.remover import RemoveOptions, Remover


def test_ecssd_dev_quality_gate(model_file: Path, ecssd_dir: Path) -> None:
    # Plain model output (no refinement): the gate is about the engine itself.
    remover = Remover.open(
        "u2netp", provider="cpu", model_path=model_file, options=RemoveOptions(refine="none")
    )
    maes, ious = [], []
    for image in sorted((ecssd_dir / "images").glob("*.jpg")):
        with Image.open(ecssd_dir / "masks" / f"{image.stem}.png") as gt_img:
            gt = np.asarray(gt_img.convert("L"), np.float32) / 255.0
        alpha = np.asarray(remover.remove(image).alpha, np.float32) / 255.0
        maes.append(float(np.abs(alpha - gt).mean()))
        pred, truth = alpha >= 0.5, gt >= 0.5
        ious.append(float((pred & truth).sum() / max(1, (pred | truth).sum())))
    assert len(maes) >= 50
    assert np.mean(maes) <= 0.040, f"MAE {np.mean(maes):.4f}"
    assert np.mean(ious) >= 0.86, f"IoU {np.mean(ious):.4f}"
