"""Photo inputs for adapter probes: masks are judged on pictures, not on noise.

A quantized model's agreement with the CPU is judged at mask level (see
:mod:`alphacut.accel.agreement`), which only means something on a photo with a subject.
The demo photos are used when ``alphacut demo`` has cached them; otherwise a fixed
synthetic scene (a figure on a textured, graded background) stands in, so a probe never
needs the network and always sees the same pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from alphacut.errors import DecodeError
from alphacut.models.catalogue import ModelSpec
from alphacut.models.recipes import recipe_for
from alphacut.pipeline.decode import decode, model_input_rgb

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PHOTOS = 4


def cached_demo_photos(samples: Path | None = None) -> list[Path]:
    """The demo photos in the cache (``alphacut demo`` fetches them), sorted; [] if none."""
    if samples is None:
        from alphacut.paths import AppPaths

        samples = AppPaths.from_env().samples
    try:
        return sorted(p for p in samples.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    except OSError:
        return []


def synthetic_scene(size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A fixed, photo-like test scene: a shaded figure in front of a textured gradient."""
    width, height = size
    rng = np.random.default_rng(1234)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    sky = np.array([96, 140, 196], np.float32)
    ground = np.array([92, 120, 70], np.float32)
    background = np.broadcast_to(sky * (1 - ramp) + ground * ramp, (height, width, 3)).copy()
    texture = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), "L")
    texture = texture.filter(ImageFilter.GaussianBlur(3))
    background += (np.asarray(texture, np.float32)[..., None] - 128.0) * 0.5
    scene = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(scene)
    cx = width // 2
    draw.ellipse((cx - 70, height * 0.35, cx + 70, height + 40), fill=(178, 62, 40))
    draw.ellipse((cx - 42, height * 0.1, cx + 42, height * 0.1 + 90), fill=(226, 180, 150))
    draw.ellipse((cx - 46, height * 0.08, cx + 46, height * 0.1 + 30), fill=(60, 40, 30))
    return scene.filter(ImageFilter.GaussianBlur(1))


def probe_tensors(
    spec: ModelSpec, photos: list[Path] | None = None, *, limit: int = MAX_PHOTOS
) -> list[np.ndarray]:
    """Model input tensors for a probe: up to ``limit`` photos, else the synthetic scene.

    ``photos`` defaults to the cached demo photos; unreadable ones are skipped.
    """
    recipe = recipe_for(spec)
    images: list[Image.Image] = []
    for path in (cached_demo_photos() if photos is None else photos)[:limit]:
        try:
            images.append(decode(path).rgb)
        except DecodeError:
            continue
    if not images:
        images = [synthetic_scene()]
    return [recipe.preprocess(spec, model_input_rgb(rgb, spec.input_size)) for rgb in images]
