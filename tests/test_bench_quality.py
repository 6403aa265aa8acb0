"""The quality benchmark and the rembg comparisons (with a stand-in rembg executable)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from alphacut.bench.quality import QualitySettings, find_samples, read_grey, run_quality_bench
from alphacut.bench.rembg import REMBG_ENV, RembgUnavailable, find_rembg, rembg_home
from alphacut.errors import InputError

# A stand-in for ``rembg p -m MODEL [-om] IN OUT``: it insists on finding the model in
# U2NET_HOME (as rembg does before it would download) and writes one PNG per input,
# a constant grey mask with -om, else an RGBA copy, so the plumbing can be checked exactly.
FAKE_REMBG = """\
import os, sys
from pathlib import Path
from PIL import Image
args = sys.argv[1:]
assert args[0] == "p" and args[1] == "-m"
model, rest = args[2], args[3:]
only_mask = "-om" in rest
src, dst = [Path(a) for a in rest if a not in ("-om", "-a")]
if not (Path(os.environ["U2NET_HOME"]) / f"{model}.onnx").is_file():
    sys.exit("model missing from U2NET_HOME")
dst.mkdir(parents=True, exist_ok=True)
for path in sorted(src.glob("**/*")):
    with Image.open(path) as img:
        out = Image.new("L", img.size, 128) if only_mask else img.convert("RGBA")
        out.save(dst / (path.stem + ".png"))
"""


@pytest.fixture
def fake_rembg(tmp_path: Path) -> Path:
    script = tmp_path / "bin" / "rembg"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{FAKE_REMBG}")
    script.chmod(0o755)
    return script


@pytest.fixture
def small_ecssd(ecssd_dir: Path, tmp_path: Path) -> Path:
    """Three ecssd-dev images and their masks (copied: the originals stay read-only)."""
    root = tmp_path / "ecssd3"
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for name in ("0001", "0002", "0003"):
        shutil.copy(ecssd_dir / "images" / f"{name}.jpg", root / "images")
        shutil.copy(ecssd_dir / "masks" / f"{name}.png", root / "masks")
    return root


@pytest.mark.model
def test_quality_mae_agrees_with_plain_numpy_on_the_written_masks(
    small_ecssd: Path, home_with_model: Path, fake_rembg: Path, tmp_path: Path
) -> None:
    masks = tmp_path / "masks"
    settings = QualitySettings(dataset=small_ecssd, provider="cpu", vs_rembg=True,
                               rembg_bin=str(fake_rembg), masks_dir=masks)
    report = run_quality_bench(settings)
    ours = report.tools["alphacut"]
    assert ours.names == ["0001", "0002", "0003"] and ours.errors == []
    numpy_maes = []
    for name, row in zip(ours.names, ours.rows, strict=True):
        pred = np.asarray(Image.open(masks / "alphacut" / f"{name}.png"), dtype=np.float64)
        gt = np.asarray(Image.open(small_ecssd / "masks" / f"{name}.png").convert("L"))
        mae = float(np.mean(np.abs(pred / 255.0 - (gt > 128))))
        numpy_maes.append(mae)
        assert row["mae"] == pytest.approx(mae, abs=1e-12)
        assert row["iou"] > 0.5  # u2netp finds the salient object in these photos
    assert ours.summary["mae"] == pytest.approx(np.mean(numpy_maes))
    # The stand-in rembg wrote grey 128 everywhere: its MAE and the masks' difference are exact.
    theirs = report.tools["rembg"]
    for name, row in zip(theirs.names, theirs.rows, strict=True):
        gt = np.asarray(Image.open(small_ecssd / "masks" / f"{name}.png").convert("L"))
        assert row["mae"] == pytest.approx(np.mean(np.abs(128 / 255 - (gt > 128))))
        pred = np.asarray(Image.open(masks / "alphacut" / f"{name}.png"), dtype=np.float64)
        assert report.mask_difference[name] == pytest.approx(np.mean(np.abs(pred - 128)) / 255)
    assert not report.matte
    data = json.loads(json.dumps(report.as_dict()))
    assert data["ground_truth"] == "binary masks" and len(data["worst"]) == 3
    assert data["worst"][0]["mae"] == max(r["mae"] for r in ours.rows)
    rows = report.csv_rows()
    assert rows[0]["image"] == "0001" and "rembg_mae" in rows[0] and "mask_mean_abs_diff" in rows[0]


@pytest.mark.model
def test_quality_on_alpha_mattes_reports_matting_metrics(
    matting_dir: Path, home_with_model: Path, tmp_path: Path
) -> None:
    report = run_quality_bench(QualitySettings(dataset=matting_dir, provider="cpu", limit=1))
    assert report.matte
    summary = report.tools["alphacut"].summary
    assert summary["sad"] > 0 and summary["mse"] > 0 and summary["grad"] > 0


def test_find_samples_pairs_images_with_masks(tmp_path: Path) -> None:
    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "a.jpg")
    Image.new("RGB", (4, 4)).save(tmp_path / "images" / "b.png")
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    Image.new("L", (4, 4)).save(tmp_path / "masks" / "a.png")
    samples, problems = find_samples(tmp_path)
    assert [s.name for s in samples] == ["a"]
    assert len(problems) == 1 and "b.png" in problems[0] and "no ground truth" in problems[0]
    with pytest.raises(InputError, match="images/ and masks/"):
        find_samples(tmp_path / "images")


def test_read_grey_uses_alpha_of_rgba_and_resizes(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (4, 2), (255, 255, 255, 77))
    rgba.save(tmp_path / "x.png")
    assert read_grey(tmp_path / "x.png").tolist() == [[77] * 4] * 2
    assert read_grey(tmp_path / "x.png", (8, 4)).shape == (4, 8)


def test_missing_pysodmetrics_gives_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphacut.cli import main

    monkeypatch.setitem(sys.modules, "py_sod_metrics", None)
    code = main(["bench", "quality", "--dataset", str(tmp_path), "--no-save"])
    assert code == 1
    assert "pip install 'alphacut[bench]'" in capsys.readouterr().err


def test_find_rembg_order_and_message(fake_rembg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_rembg(str(fake_rembg), environ={}) == str(fake_rembg)
    assert find_rembg(None, environ={REMBG_ENV: str(fake_rembg)}) == str(fake_rembg)
    monkeypatch.setenv("PATH", str(fake_rembg.parent))
    assert find_rembg(None, environ={}) == str(fake_rembg)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RembgUnavailable, match="--rembg-bin"):
        find_rembg(None, environ={})


def test_rembg_home_refuses_a_file_rembg_would_not_accept(tmp_path: Path) -> None:
    wrong = tmp_path / "u2netp.onnx"
    wrong.write_bytes(b"not the model")
    with pytest.raises(RembgUnavailable, match="md5"), rembg_home("u2netp", wrong):
        pass


def test_rembg_home_holds_the_verified_model(model_file: Path) -> None:
    with rembg_home("u2netp", model_file) as home:
        copied = home / "u2netp.onnx"
        assert copied.read_bytes() == model_file.read_bytes()
    assert not copied.exists()


# -- throughput ----------------------------------------------------------------------------
FAKE_ALPHACUT = """\
import sys
from pathlib import Path
from PIL import Image
src, out = Path(sys.argv[1]), Path(sys.argv[sys.argv.index("-o") + 1])
out.mkdir(parents=True, exist_ok=True)
limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else None
for path in sorted(src.iterdir())[:limit]:
    Image.open(path).convert("RGBA").save(out / (path.stem + ".png"))
"""


def _folder_of_images(root: Path, count: int) -> Path:
    folder = root / "photos"
    folder.mkdir()
    for i in range(count):
        Image.new("RGB", (60, 40), (i * 40, 0, 0)).save(folder / f"p{i}.jpg")
    return folder


def test_vs_rembg_interleaves_and_counts_outputs(
    fake_rembg: Path, home_with_model: Path, tmp_path: Path
) -> None:
    from alphacut.bench.throughput import ThroughputSettings, run_vs_rembg

    script = tmp_path / "fake_alphacut.py"
    script.write_text(FAKE_ALPHACUT)
    folder = _folder_of_images(tmp_path, 3)
    steps: list[str] = []
    report = run_vs_rembg(
        ThroughputSettings(images=folder, runs=2, rembg_bin=str(fake_rembg),
                           alphacut_command=(sys.executable, str(script))),
        on_progress=lambda d, t, m: steps.append(m),
    )
    # Order alternates: A B, then B A.
    assert [m.split(":")[0] for m in steps] == ["alphacut", "rembg", "rembg", "alphacut"]
    for tool in report.tools.values():
        assert [r.outputs for r in tool.runs] == [3, 3]
        assert all(r.error == "" and r.seconds > 0 for r in tool.runs)
        if hasattr(os, "wait4"):
            assert all(r.peak_rss_mb and r.peak_rss_mb > 1 for r in tool.runs)
    assert report.speedup.pairs == 2
    if hasattr(os, "wait4"):
        assert report.cpu_ratio.pairs == 2 and report.cpu_ratio.median > 0
    data = json.loads(json.dumps(report.as_dict()))
    assert data["images"] == 3 and data["tools"]["rembg"]["images_per_s"] > 0
    assert data["mean_megapixels"] == pytest.approx(60 * 40 / 1e6, abs=0.01)


@pytest.mark.parametrize(("alpha_matting", "refine"), [(False, "none"), (True, "matting")])
def test_vs_rembg_compares_the_same_job(
    fake_rembg: Path, home_with_model: Path, tmp_path: Path, alpha_matting: bool, refine: str
) -> None:
    from alphacut.bench.throughput import ThroughputSettings, run_vs_rembg

    script = tmp_path / "fake_alphacut.py"
    script.write_text(FAKE_ALPHACUT)
    report = run_vs_rembg(
        ThroughputSettings(images=_folder_of_images(tmp_path, 1), runs=1,
                           rembg_bin=str(fake_rembg), alpha_matting=alpha_matting,
                           alphacut_command=(sys.executable, str(script))),
    )
    ours, theirs = report.tools["alphacut"].command, report.tools["rembg"].command
    assert ours[ours.index("--refine") + 1] == refine
    assert ("-a" in theirs) is alpha_matting
    assert report.as_dict()["settings"]["alpha_matting"] is alpha_matting


def test_vs_rembg_flags_runs_that_wrote_too_few_files(
    fake_rembg: Path, home_with_model: Path, tmp_path: Path
) -> None:
    from alphacut.bench.throughput import ThroughputSettings, run_vs_rembg

    script = tmp_path / "fake_alphacut.py"
    script.write_text(FAKE_ALPHACUT)
    folder = _folder_of_images(tmp_path, 2)
    report = run_vs_rembg(
        ThroughputSettings(images=folder, runs=1, rembg_bin=str(fake_rembg),
                           alphacut_command=(sys.executable, str(script)),
                           alphacut_args=("--limit", "1")),
    )
    assert report.tools["alphacut"].runs[0].error == "wrote 1 of 2 outputs"
    assert report.speedup.pairs == 0 and report.speedup.describe() == "n/a"


@pytest.mark.model
def test_refine_reaches_the_pipeline(small_ecssd: Path, home_with_model: Path,
                                     tmp_path: Path) -> None:
    masks = {}
    for mode in ("none", "guided"):
        out = tmp_path / mode
        report = run_quality_bench(QualitySettings(dataset=small_ecssd, provider="cpu",
                                                   refine=mode, masks_dir=out, limit=1))
        assert f"refine={mode}" in report.tools["alphacut"].detail
        masks[mode] = np.asarray(Image.open(out / "alphacut" / "0001.png"), dtype=np.int16)
    # A guided filter follows the photo's edges: the alpha must change somewhere.
    assert np.abs(masks["none"] - masks["guided"]).max() > 0
