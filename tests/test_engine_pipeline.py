"""The removal pipeline on real photos with the real model."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from alphacut.errors import DecodeError, OutputExistsError
from alphacut.pipeline.batch import BatchRunner
from alphacut.pipeline.decode import decode, model_input_rgb
from alphacut.pipeline.jobs import plan_jobs
from alphacut.pipeline.output import TEMP_MARK, OutputOptions, render, subject_box, write_atomic


def _run(remover, inputs, out: Path, **opts) -> list:
    options = OutputOptions(**opts)
    jobs, problems = plan_jobs(inputs, out, options)
    assert problems == []
    return list(BatchRunner(remover, options).run(jobs))


def test_cutout_keeps_rgb_exactly_and_has_soft_alpha(remover, photo: Path) -> None:
    cutout = remover.remove(photo)
    with Image.open(photo) as img:
        original = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    assert np.array_equal(np.asarray(cutout.rgb), original)
    alpha = np.asarray(cutout.alpha)
    assert alpha.shape == original.shape[:2]
    soft = ((alpha > 0) & (alpha < 255)).sum()
    assert soft > 100, "alpha should have soft edges, not a hard threshold"
    assert alpha.max() == 255 and alpha.min() == 0
    assert cutout.mask.dtype == np.float32 and cutout.mask.shape == (320, 320)


def test_png_output_is_rgba_with_original_pixels(remover, photo: Path, tmp_path: Path) -> None:
    [result] = _run(remover, [photo], tmp_path / "out")
    assert result.status == "done", result.error
    with Image.open(result.job.dest) as out, Image.open(photo) as src:
        assert out.mode == "RGBA" and out.size == src.size
        arr = np.asarray(out)
        original = np.asarray(ImageOps.exif_transpose(src).convert("RGB"))
    visible = arr[..., 3] > 0
    assert 0 < visible.mean() < 1
    # Every pixel that shows keeps the photo's colour; hidden ones are written as 0.
    assert np.array_equal(arr[..., :3][visible], original[visible])
    assert not arr[..., :3][~visible].any()
    assert result.timings.inference > 0 and result.provider == "cpu"


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_keep_hidden_rgb_keeps_every_pixel(
    remover, photo: Path, tmp_path: Path, fmt: str
) -> None:
    [result] = _run(remover, [photo], tmp_path / "out", format=fmt, keep_hidden_rgb=True)
    assert result.status == "done", result.error
    with Image.open(result.job.dest) as out, Image.open(photo) as src:
        arr = np.asarray(out)
        original = np.asarray(ImageOps.exif_transpose(src).convert("RGB"))
    assert (arr[..., 3] == 0).any()
    assert np.array_equal(arr[..., :3], original)


@pytest.mark.parametrize(
    ("fmt", "suffix", "mode", "extra"),
    [
        ("webp", ".webp", "RGBA", {}),
        ("webp-lossy", ".webp", "RGBA", {"quality": 80}),
        ("jpg", ".jpg", "RGB", {"bg": (255, 255, 255)}),
        ("png", ".png", "L", {"mask_only": True}),
        ("png", ".png", "RGB", {"bg": (0, 128, 255)}),
    ],
)
def test_every_output_format(
    remover, photo: Path, tmp_path: Path, fmt, suffix, mode, extra
) -> None:
    [result] = _run(remover, [photo], tmp_path / "out", format=fmt, **extra)
    assert result.status == "done", result.error
    assert result.job.dest.suffix == suffix
    with Image.open(result.job.dest) as out:
        assert out.mode == mode
        out.load()
    if fmt == "webp":
        with Image.open(result.job.dest) as out, Image.open(photo) as src:
            # Lossless WebP must keep the RGB of opaque pixels exactly.
            arr = np.asarray(out)
            opaque = arr[..., 3] == 255
            src_rgb = np.asarray(ImageOps.exif_transpose(src).convert("RGB"))
            assert np.array_equal(arr[..., :3][opaque], src_rgb[opaque])


def test_background_colour_is_composited(remover, photo: Path) -> None:
    cutout = remover.remove(photo)
    flat = render(cutout.rgb, cutout.alpha, OutputOptions(bg=(255, 0, 0)))
    arr = np.asarray(flat)
    alpha = np.asarray(cutout.alpha)
    assert (arr[alpha == 0] == [255, 0, 0]).all()
    assert np.array_equal(arr[alpha == 255], np.asarray(cutout.rgb)[alpha == 255])


def test_background_image_covers_frame(remover, photo: Path, tmp_path: Path) -> None:
    bg = tmp_path / "bg.png"
    Image.new("RGB", (50, 30), (0, 255, 0)).save(bg)
    [result] = _run(remover, [photo], tmp_path / "out", bg_image=bg)
    with Image.open(result.job.dest) as out, Image.open(photo) as src:
        assert out.mode == "RGB" and out.size == src.size


def test_crop_to_subject_with_margin(remover, photo: Path) -> None:
    cutout = remover.remove(photo)
    box = subject_box(cutout.alpha, 0)
    assert box is not None
    cropped = render(cutout.rgb, cutout.alpha, OutputOptions(crop_margin=10))
    left, top, right, bottom = box
    assert cropped.width == min(cutout.alpha.width, right + 10) - max(0, left - 10)
    assert cropped.height == min(cutout.alpha.height, bottom + 10) - max(0, top - 10)
    assert cropped.mode == "RGBA"


def test_exif_rotation_is_applied(remover, photo: Path, tmp_path: Path) -> None:
    with Image.open(photo) as img:
        rgb = img.convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    rotated = tmp_path / "rotated.jpg"
    rgb.save(rotated, exif=exif.tobytes(), quality=95)
    decoded = decode(rotated)
    assert decoded.size == (rgb.height, rgb.width)
    [result] = _run(remover, [rotated], tmp_path / "out")
    with Image.open(result.job.dest) as out:
        assert out.size == (rgb.height, rgb.width)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "RGBA", "I", "1"])
def test_mode_conversions(mode: str, tmp_path: Path, remover) -> None:
    base = Image.radial_gradient("L").resize((64, 48))
    if mode == "I;16":
        img = Image.fromarray(np.asarray(base, np.uint16) * 257).convert("I;16")
    elif mode == "I":
        img = base.convert("I")
    elif mode == "P":
        img = Image.merge("RGB", (base, base, base)).convert("P")
        img.info["transparency"] = 0
    else:
        img = Image.merge("RGB", (base, base.rotate(90), base)).convert(mode)
    suffix = {"CMYK": ".jpg", "I": ".tif"}.get(mode, ".png")
    path = tmp_path / f"img{suffix}"
    img.save(path)
    decoded = decode(path)
    assert decoded.rgb.mode == "RGB" and decoded.size == (64, 48)
    if mode == "I;16":
        # 16-bit data is scaled to 8 bits, not clipped at 255.
        assert np.array_equal(np.asarray(decoded.rgb)[..., 0], np.asarray(base))
    if mode in ("LA", "RGBA", "P"):
        assert decoded.alpha is not None
    cutout = remover.remove(path)
    assert cutout.alpha.size == (64, 48)


def test_input_transparency_is_kept(remover, tmp_path: Path) -> None:
    img = Image.new("RGBA", (80, 60), (200, 10, 10, 255))
    img.paste((0, 0, 0, 0), (0, 0, 40, 60))
    path = tmp_path / "half.png"
    img.save(path)
    alpha = np.asarray(remover.remove(path).alpha)
    assert (alpha[:, :40] == 0).all()


def test_model_input_shrinks_large_images_cheaply() -> None:
    big = Image.new("RGB", (4000, 3000), (10, 20, 30))
    small = model_input_rgb(big, (320, 320))
    assert small.shape == (320, 320, 3) and small.dtype == np.uint8
    assert (small == [10, 20, 30]).all()


def test_existing_outputs_error_skip_overwrite(remover, photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    [first] = _run(remover, [photo], out)
    assert first.status == "done"
    before = first.job.dest.read_bytes()
    [again] = _run(remover, [photo], out)
    assert again.status == "failed" and "exists" in again.error
    [skipped] = _run(remover, [photo], out, existing="skip")
    assert skipped.status == "skipped"
    # A stale output of ours (other pixels, alphacut's marker) is replaced; a file without
    # the marker never is (tests/test_reliability_hostile.py).
    write_atomic(Image.new("RGB", (4, 4)), first.job.dest, OutputOptions(existing="overwrite"))
    assert first.job.dest.read_bytes() != before
    [replaced] = _run(remover, [photo], out, existing="overwrite")
    assert replaced.status == "done" and replaced.job.dest.read_bytes() == before
    assert OutputExistsError.__mro__[1].__name__ == "OutputError"


def test_no_temp_files_left_and_inputs_untouched(
    remover, photos: list[Path], tmp_path: Path
) -> None:
    folder = photos[0].parent
    snapshot = {p: p.read_bytes() for p in photos}
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    options = OutputOptions()
    jobs, problems = plan_jobs([folder], tmp_path / "out", options)
    results = list(BatchRunner(remover, options).run(jobs))
    statuses = {r.job.source.name: r.status for r in results}
    assert statuses.pop("broken.jpg") == "failed"
    assert set(statuses.values()) == {"done"}
    assert [r.index for r in results] == sorted(r.index for r in results)
    assert not list((tmp_path / "out").rglob(f"*{TEMP_MARK}"))
    assert {p: p.read_bytes() for p in photos} == snapshot


def test_output_into_input_folder_never_overwrites_input(tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(src)
    jobs, problems = plan_jobs([tmp_path], tmp_path, OutputOptions())
    assert jobs == [] and "overwrite the input" in problems[0].reason


def test_output_tree_mirrors_input_tree(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    for rel in ("a.jpg", "sub/b.png", "sub/deeper/c.webp", "sub/notes.txt"):
        (root / rel).write_bytes(b"x")
    out = tmp_path / "out"
    flat, _ = plan_jobs([root], out, OutputOptions())
    assert [j.dest for j in flat] == [out / "a.png"]
    deep, _ = plan_jobs([root], out, OutputOptions(format="webp"), recursive=True)
    assert [j.dest.relative_to(out).as_posix() for j in deep] == [
        "a.webp",
        "sub/b.webp",
        "sub/deeper/c.webp",
    ]


def test_decode_errors_are_one_line_and_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("hello")
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (1, 2, 3)).save(buf, "JPEG")
    truncated = tmp_path / "trunc.jpg"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    for path, words in ((empty, "empty"), (text, "not a recognised"), (truncated, "truncated")):
        with pytest.raises(DecodeError) as info:
            decode(path)
        message = str(info.value)
        assert message.startswith(str(path)) and words in message and "\n" not in message


def test_pixel_limit_is_enforced_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (5000, 3000)).save(path)
    with pytest.raises(DecodeError, match="MP limit"):
        decode(path, max_pixels=10_000_000)


def test_background_image_is_decoded_once_per_batch(
    remover, photos: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alphacut.pipeline import batch

    bg = tmp_path / "bg.png"
    Image.new("RGB", (40, 30), (0, 255, 0)).save(bg)
    calls = []
    real = batch.load_background
    monkeypatch.setattr(batch, "load_background", lambda o: calls.append(o) or real(o))
    results = _run(remover, photos, tmp_path / "out", bg_image=bg, crop_margin=5)
    assert [r.status for r in results] == ["done"] * len(photos) and len(calls) == 1
    for result in results:
        with Image.open(result.job.dest) as out, Image.open(result.job.source) as src:
            assert out.mode == "RGB"
            assert out.width <= src.width and out.height <= src.height
