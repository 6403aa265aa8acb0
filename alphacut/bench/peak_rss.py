"""Peak RSS of one whole remove, measured in a fresh interpreter.

    python -m alphacut.bench.edge_quality peak-rss IMAGE --refine matting --decontaminate
    python -m alphacut.bench.edge_quality peak-rss --synthetic-mp 24 --refine guided
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from alphacut.pipeline.matte import REFINE_MODES


def synthetic_photo(path: Path, megapixels: float) -> Path:
    """A 3:2 JPEG of ``megapixels`` with a soft-edged subject on a gradient (made in Pillow)."""
    from PIL import ImageDraw, ImageFilter

    width = int((megapixels * 1e6 * 1.5) ** 0.5)
    height = int(width / 1.5)
    ramp = Image.linear_gradient("L").resize((width, height))
    background = Image.merge(
        "RGB",
        (ramp, Image.new("L", (width, height), 120), ramp.transpose(Image.Transpose.ROTATE_180)),
    )
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).ellipse(
        (width // 4, height // 5, 3 * width // 4, 9 * height // 10), fill=255
    )
    mask = mask.filter(ImageFilter.GaussianBlur(max(2, width // 300)))
    subject = Image.new("RGB", (width, height), (220, 60, 40))
    Image.composite(subject, background, mask).save(path, quality=90)
    return path


def own_peak_rss_mb() -> float:
    """This process's own RSS high-water mark in MiB.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child started from a big parent
    inherits the parent's figure; ``VmHWM`` belongs to the new address space alone.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    from alphacut.bench.memory import peak_rss_mb

    return peak_rss_mb()


def peak_rss_run(
    image: Path, mode: str, decontaminate_colours: bool, model: str, provider: str
) -> dict[str, object]:
    """One whole remove (decode, infer, refine, optional decontamination, PNG encode) here."""
    from alphacut.pipeline.refine import decontaminate
    from alphacut.pipeline.remover import RemoveOptions, Remover

    remover = Remover.open(model, provider=provider, options=RemoveOptions(refine=mode))
    start = time.perf_counter()
    cutout = remover.remove(image)
    rgb = cutout.rgb
    decon_start = time.perf_counter()
    if decontaminate_colours:
        rgb = decontaminate(rgb, cutout.alpha)
    decon_ms = (time.perf_counter() - decon_start) * 1000.0
    with tempfile.TemporaryDirectory() as tmp:
        out = rgb.copy()
        out.putalpha(cutout.alpha)
        out.save(Path(tmp) / "out.png", compress_level=1)
    record: dict[str, object] = {
        "image": str(image),
        "size": list(cutout.rgb.size),
        "refine": mode,
        "decontaminate": decontaminate_colours,
        "stages_ms": cutout.timings.as_dict() | {"decontaminate": round(decon_ms, 2)},
        "seconds": round(time.perf_counter() - start, 3),
        "peak_rss_mb": round(own_peak_rss_mb(), 1),
    }
    if mode == "matting":
        # What the matting gate did (solved or skipped), asked again once the peak is read.
        from alphacut.pipeline.matting import matting_with_decision

        record["matting"] = matting_with_decision(cutout.mask, cutout.rgb)[1].summary()
    return record


def measure_peak_rss(
    image: Path,
    mode: str,
    decontaminate_colours: bool,
    model: str = "u2netp",
    provider: str = "cpu",
    timeout: float = 600.0,
) -> dict[str, object]:
    """Run :func:`peak_rss_run` in a fresh interpreter and return its JSON record."""
    cmd = [
        sys.executable,
        "-m",
        "alphacut.bench.edge_quality",
        "peak-rss",
        str(image),
        "--refine",
        mode,
        "--model",
        model,
        "--provider",
        provider,
    ]
    cmd.append("--decontaminate" if decontaminate_colours else "--no-decontaminate")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"peak-rss run failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_rss_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m alphacut.bench.edge_quality peak-rss")
    parser.add_argument("image", type=Path, nargs="?")
    parser.add_argument("--synthetic-mp", type=float, help="make a synthetic photo this size")
    parser.add_argument("--refine", choices=REFINE_MODES, default="matting")
    parser.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--model", default="u2netp")
    parser.add_argument("--provider", default="cpu")
    return parser



def run_peak_rss(argv: list[str]) -> int:
    """The ``peak-rss`` subcommand: one remove here, its JSON record on stdout."""
    args = build_rss_parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        if args.synthetic_mp:
            image = synthetic_photo(Path(tmp) / "synthetic.jpg", args.synthetic_mp)
        if image is None:
            print("peak-rss needs an IMAGE or --synthetic-mp", file=sys.stderr)
            return 2
        record = peak_rss_run(image, args.refine, args.decontaminate, args.model, args.provider)
    print(json.dumps(record))
    return 0
