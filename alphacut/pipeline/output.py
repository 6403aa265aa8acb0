"""Turning a cutout into an output file: format, background, crop, naming and atomic writes."""

from __future__ import annotations

import errno
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageColor

from alphacut.choices import OUTPUT_FORMATS, ExistingPolicy, OutputFormat
from alphacut.errors import OutputError, OutputExistsError
from alphacut.pipeline.ownership import (
    EXISTS_REASON,
    PNG_TEXT,
    is_our_output,
    marker_params,
    not_ours_reason,
)
from alphacut.pipeline.png_encoder import write_png
from alphacut.pipeline.regular_file import NotRegularFileError, open_regular

_SUFFIX = {"png": ".png", "webp": ".webp", "webp-lossy": ".webp", "jpg": ".jpg"}
TEMP_MARK = ".alphacut-tmp"
_O_BINARY = getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class OutputOptions:
    """What to write for each image."""

    format: OutputFormat = "png"
    quality: int = 90  # lossy WebP and JPEG
    mask_only: bool = False
    bg: tuple[int, int, int] | None = None
    bg_image: Path | None = None
    crop_margin: int | None = None  # None: no crop; otherwise pixels of margin around the subject
    existing: ExistingPolicy = "error"
    png_compress_level: int = 2
    webp_method: int = 0
    # RGB under alpha 0 is invisible; writing it as 0 (like WebP and rembg) halves PNG size
    # and encode time. Kept only on request, for editors that re-matte the photo later.
    keep_hidden_rgb: bool = False

    def suffix(self) -> str:
        return ".png" if self.mask_only and self.format != "jpg" else _SUFFIX[self.format]

    def validate(self) -> None:
        """Reject combinations that cannot produce a sensible file."""
        from alphacut.errors import ConfigError

        if self.format not in OUTPUT_FORMATS:
            raise ConfigError(
                f"unknown format {self.format!r}; use one of {', '.join(OUTPUT_FORMATS)}"
            )
        if self.format == "jpg" and not (self.bg or self.bg_image or self.mask_only):
            raise ConfigError("JPEG has no transparency: add --bg COLOR, --bg-image or --mask-only")
        if not 1 <= self.quality <= 100:
            raise ConfigError("--quality must be between 1 and 100")


def parse_color(text: str) -> tuple[int, int, int]:
    """``'#ffffff'``, ``'white'``, ``'rgb(0,0,0)'`` -> an RGB triple."""
    from alphacut.errors import ConfigError

    try:
        rgb = ImageColor.getrgb(text)
    except ValueError:
        raise ConfigError(f"cannot parse colour {text!r}; try '#ffffff' or 'white'") from None
    return rgb[0], rgb[1], rgb[2]


def subject_box(alpha: Image.Image, margin: int) -> tuple[int, int, int, int] | None:
    """Bounding box of pixels with alpha above ~5%, widened by ``margin`` and clipped."""
    box = alpha.point(lambda v: 255 if v > 12 else 0).getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    return (
        max(0, left - margin),
        max(0, top - margin),
        min(alpha.width, right + margin),
        min(alpha.height, bottom + margin),
    )


def _cover(bg: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop ``bg`` so it covers ``size`` (like CSS background-size: cover)."""
    width, height = size
    scale = max(width / bg.width, height / bg.height)
    resized = bg.convert("RGB").resize(
        (max(width, round(bg.width * scale)), max(height, round(bg.height * scale))),
        Image.Resampling.BILINEAR,
    )
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def _crop_to_subject(
    rgb: Image.Image, alpha: Image.Image, background: Image.Image | None, margin: int | None
) -> tuple[Image.Image, Image.Image, Image.Image | None]:
    if margin is None:
        return rgb, alpha, background
    box = subject_box(alpha, margin)
    if box is None:
        return rgb, alpha, background
    return rgb.crop(box), alpha.crop(box), background.crop(box) if background else None


def render(
    rgb: Image.Image,
    alpha: Image.Image,
    options: OutputOptions,
    *,
    background: Image.Image | None = None,
) -> Image.Image:
    """Compose the output image (RGBA cutout, flattened on a background, or the mask).

    ``background`` may be any size: it is scaled to cover the frame before any crop, so
    cropping to the subject crops the background with it.
    """
    if background is not None and background.size != rgb.size:
        background = _cover(background, rgb.size)
    rgb, alpha, background = _crop_to_subject(rgb, alpha, background, options.crop_margin)
    if options.mask_only:
        return alpha
    if background is not None or options.bg is not None:
        base = background if background is not None else Image.new("RGB", rgb.size, options.bg)
        return Image.composite(rgb, base, alpha)
    out = rgb.copy()
    out.putalpha(alpha)
    return out


def load_background(options: OutputOptions) -> Image.Image | None:
    """The ``--bg-image`` decoded as RGB (``render`` scales it to each frame), or None."""
    if options.bg_image is None:
        return None
    from alphacut.errors import ConfigError

    try:
        with open_regular(options.bg_image) as fh, Image.open(fh) as bg:
            return bg.convert("RGB")
    except NotRegularFileError as exc:
        reason = f"--bg-image {options.bg_image} is {exc.kind}, not an image file"
        raise ConfigError(reason) from None


def encode_params(options: OutputOptions) -> tuple[str, dict[str, object]]:
    """Pillow format name and save() keyword arguments for ``options``."""
    if options.mask_only and options.format != "jpg":
        return "PNG", {"compress_level": options.png_compress_level}
    if options.format == "png":
        return "PNG", {"compress_level": options.png_compress_level}
    if options.format == "webp":
        return "WEBP", {"lossless": True, "method": options.webp_method, "quality": 0,
                        "exact": options.keep_hidden_rgb}
    if options.format == "webp-lossy":
        return "WEBP", {"quality": options.quality, "method": 4, "exact": options.keep_hidden_rgb}
    return "JPEG", {"quality": options.quality}


def save_output(
    rgb: Image.Image,
    alpha: Image.Image,
    path: Path,
    options: OutputOptions,
    *,
    background: Image.Image | None = None,
) -> int:
    """Compose and write one output atomically; returns its size in bytes.

    A plain RGBA cutout skips composing and hands RGB and alpha to the encoder: the PNG
    encoder interleaves them band by band, saving a full-size copy of the photo.
    """
    image, band = _compose(rgb, alpha, options, background)
    return write_atomic(image, path, options, alpha=band)


def encode_output(
    rgb: Image.Image,
    alpha: Image.Image,
    options: OutputOptions,
    *,
    background: Image.Image | None = None,
) -> bytes:
    """The exact bytes :func:`save_output` would write, in memory.

    For destinations without a rename (object stores publish an upload whole) and for
    comparing a retried image with the file an earlier attempt already wrote.
    """
    image, band = _compose(rgb, alpha, options, background)
    buffer = io.BytesIO()
    encode_image(image, buffer, options, alpha=band)
    return buffer.getvalue()


def _compose(
    rgb: Image.Image,
    alpha: Image.Image,
    options: OutputOptions,
    background: Image.Image | None,
) -> tuple[Image.Image, Image.Image | None]:
    """The image to encode, plus the alpha band when it stays separate (plain cutouts)."""
    plain_cutout = not options.mask_only and options.bg is None and background is None
    if plain_cutout:
        rgb, alpha, _ = _crop_to_subject(rgb, alpha, None, options.crop_margin)
        return rgb, alpha
    return render(rgb, alpha, options, background=background), None


def encode_image(
    image: Image.Image,
    fh: BinaryIO,
    options: OutputOptions,
    *,
    alpha: Image.Image | None = None,
) -> None:
    """Encode ``image`` into ``fh`` in the format ``options`` ask for.

    PNG goes through alphacut's streaming encoder (twice as fast as Pillow's at the same
    level, see ``png_encoder``); WebP and JPEG through Pillow.
    """
    fmt, params = encode_params(options)
    # Every output carries alphacut's marker: --overwrite replaces only marked files.
    if fmt == "PNG":
        write_png(image, fh, level=int(params["compress_level"]), alpha=alpha,
                  clear_hidden=not options.keep_hidden_rgb, text=PNG_TEXT)
        return
    if alpha is not None:
        image = image.copy()
        image.putalpha(alpha)
    image.save(fh, format=fmt, **params, **marker_params(fmt))


def write_atomic(
    image: Image.Image, path: Path, options: OutputOptions, *, alpha: Image.Image | None = None
) -> int:
    """Encode ``image`` (plus ``alpha``, if given) to a temp file beside ``path``, then rename.

    A crash or kill leaves either the old file or the new one, never a partial file; the
    temp name carries the pid so a later run can clean up after a dead one.
    Returns the number of bytes written. If the folder vanishes while the file is being
    written (someone removed the output tree mid-batch), the write is made once more.
    """
    try:
        return _write_once(image, path, options, alpha)
    except FileNotFoundError:
        return _write_once(image, path, options, alpha, retry=False)


def _write_once(
    image: Image.Image,
    path: Path,
    options: OutputOptions,
    alpha: Image.Image | None,
    *,
    retry: bool = True,
) -> int:
    """One attempt of :func:`write_atomic`; a vanished folder raises FileNotFoundError when
    ``retry`` (so the caller can try again), else ``OutputError`` like any write failure."""
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_MARK}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 lets the umask decide permissions, as for any file the user makes;
        # O_EXCL guarantees we never write into somebody else's file.
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
    except OSError as exc:
        if retry and isinstance(exc, FileNotFoundError):
            raise
        raise OutputError(path, f"cannot write {path.parent}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            encode_image(image, fh, options, alpha=alpha)
        _publish(tmp_path, path, options.existing)
    except OutputError:
        tmp_path.unlink(missing_ok=True)
        raise
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        if retry and isinstance(exc, FileNotFoundError):
            raise
        raise OutputError(path, f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path.stat().st_size


def _publish(tmp_path: Path, path: Path, existing: ExistingPolicy) -> None:
    """Move the finished temp file to ``path``, never clobbering a file that is not ours.

    Without ``--overwrite`` a hard link publishes the file only if ``path`` does not exist,
    atomically, so a concurrent run that wrote it a moment ago is seen (and, with
    ``--skip-existing``, counted as skipped); then the temp name is dropped.
    """
    if existing == "overwrite":
        if os.path.lexists(path) and not is_our_output(path):
            raise OutputError(path, not_ours_reason(path))
        os.replace(tmp_path, path)
        return
    try:
        os.link(tmp_path, path)
    except FileExistsError:
        raise OutputExistsError(path, EXISTS_REASON) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        # A file system without hard links (FAT, some shares): check, then rename.
        if os.path.lexists(path):
            raise OutputExistsError(path, EXISTS_REASON) from None
        os.replace(tmp_path, path)
        return
    tmp_path.unlink()


_NO_HARD_LINKS = frozenset(
    getattr(errno, name) for name in ("EPERM", "ENOTSUP", "EOPNOTSUPP", "EMLINK", "ENOSYS")
    if hasattr(errno, name)
)


def check_writable(folder: Path) -> None:
    """Prove that outputs can be written to ``folder``, leaving nothing behind.

    Run once before a batch so an unwritable output folder costs one clear line instead of
    a failure per image after its inference has been paid for. An existing folder gets a
    probe file (made, then removed; it uses the temp naming, so if the process dies right
    here the next run cleans it up). A folder still to be made is judged by its nearest
    existing parent and is made by the first write, so a run that fails to start (a
    missing model) leaves no empty folder.
    """
    if not folder.is_dir():
        parent = next((p for p in folder.absolute().parents if p.is_dir()), None)
        if parent is None or not os.access(parent, os.W_OK | os.X_OK):
            reason = f"cannot write to the output folder: {os.strerror(errno.EACCES)}"
            raise OutputError(folder, reason)
        return
    probe = folder / f".probe.{os.getpid()}.{secrets.token_hex(4)}{TEMP_MARK}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
        os.close(fd)
        probe.unlink()
    except OSError as exc:
        reason = f"cannot write to the output folder: {exc.strerror or exc}"
        raise OutputError(folder, reason) from None


_TEMP_RE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_MARK) + "$")


def clean_stray_temps(folder: Path) -> list[Path]:
    """Remove temp files left in ``folder`` by alphacut processes that are no longer alive."""
    import psutil

    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if not match or not entry.is_file():
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and psutil.pid_exists(pid):
            continue
        try:
            entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed
