"""A streaming PNG encoder for 8-bit L, RGB and RGBA images: Up filter, zlib, bands of rows.

Why not Pillow's encoder: it tries every PNG filter on every row ("adaptive") and uses the
system zlib, which makes PNG writing the slowest stage of a camera-size batch. On a 13 MP
RGBA cutout, measured side by side on this machine: Pillow compress_level 1: 1305 ms,
16.3 MB; Pillow's default level 6: 4397 ms, 13.3 MB; Up filter + zlib level 1: 649 ms,
15.5 MB; Up filter + zlib-ng (python-zlib-ng, a maintained binding) level 2: 292 ms of
deflate for 14.7 MB, level 3: 377 ms for 13.6 MB. The output is a standard PNG that any
decoder reads back bit-exactly (tested against Pillow). Filtering works in bands of rows
with reused buffers, so no full-size copy of the photo is made.

``clear_hidden`` writes RGB 0 under fully transparent pixels, as WebP's encoder does by
default and as rembg's cutouts have: nothing visible changes, and long zero runs deflate
fast. Measured on six 9 MP lomiri cutouts at level 2: 1.43 s and 52 MB with the photo's
colours kept, 0.82 s and 23 MB cleared.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np
from PIL import Image
from zlib_ng import zlib_ng

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}
_UP_FILTER = 2
_IDAT_BYTES = 1 << 20
BAND_ROWS = 128


def _chunk(fh: BinaryIO, kind: bytes, data: bytes | bytearray | memoryview) -> None:
    fh.write(struct.pack(">I", len(data)))
    fh.write(kind)
    fh.write(data)
    fh.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))


def _packed(image: Image.Image, box: tuple[int, int, int, int], rawmode: str, size: int) -> bytes:
    """The pixels of ``box`` packed as ``rawmode`` (``size`` bytes), read straight from
    Pillow's storage.

    Pillow's raw encoder takes a box, the way its own savers use it; ``crop`` + ``tobytes``
    would copy the band first and then join 64 KB pieces, and RGB came out as 3-byte pixels
    to be widened again. Packing RGB as RGBX words instead took writing six lomiri cutouts
    (95 MP) from 0.90 to 0.64 s of CPU, 0.39 s of it deflate, with the same bytes.
    """
    image.load()
    encoder = Image._getencoder(image.mode, "raw", (rawmode,))
    encoder.setimage(image.im, box)
    _, status, data = encoder.encode(size)
    if status != 1 or len(data) != size:
        raise OSError(f"packing {rawmode} pixels failed (status {status})")
    return data


def write_png(
    image: Image.Image,
    fh: BinaryIO,
    *,
    level: int = 2,
    alpha: Image.Image | None = None,
    clear_hidden: bool = False,
    text: tuple[bytes, bytes] | None = None,
) -> None:
    """Encode ``image`` (mode L, RGB or RGBA; others become RGBA) as PNG into ``fh``.

    With ``alpha`` (mode L, same size) an RGB image is written as RGBA, interleaved band
    by band, so a full-size RGBA copy of a camera photo is never made. With
    ``clear_hidden`` the RGB of pixels whose alpha is 0 is written as 0. ``text`` is one
    ``(keyword, value)`` pair written as a ``tEXt`` chunk before the image data.
    """
    if alpha is not None and image.mode != "RGB":
        image = image.convert("RGB")
    elif alpha is None and image.mode not in _COLOUR_TYPES:
        image = image.convert("RGBA")
    colour_type, channels = _COLOUR_TYPES["RGBA" if alpha is not None else image.mode]
    width, height = image.size
    row_bytes = width * channels
    fh.write(PNG_SIGNATURE)
    _chunk(fh, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
    if text is not None:
        _chunk(fh, b"tEXt", text[0] + b"\0" + text[1])
    compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, 15, 9)
    # Bands are packed one at a time, so no full-size copy of the photo is ever made
    # (a batch keeps several photos in flight), and the band buffers are reused.
    rows_max = min(BAND_ROWS, height)
    interleaved = np.empty((rows_max, width, channels), dtype=np.uint8)
    if alpha is not None:
        # RGB + A -> RGBA as 32-bit words: Pillow packs RGB as RGBX words (its own layout,
        # so a plain copy), the X byte is masked off and the alpha or-ed in.
        alpha_words = np.empty(rows_max * width, dtype="<u4")
        rgba_words = interleaved.reshape(-1).view("<u4")
    filtered = np.empty((rows_max, row_bytes + 1), dtype=np.uint8)
    filtered[:, 0] = _UP_FILTER
    previous: np.ndarray | None = None
    pending = bytearray()
    for top in range(0, height, BAND_ROWS):
        bottom = min(height, top + BAND_ROWS)
        rows = bottom - top
        box = (0, top, width, bottom)
        if alpha is not None:
            count = rows * width
            rgbx = np.frombuffer(_packed(image, box, "RGBX", count * 4), dtype="<u4")
            band_alpha = np.frombuffer(_packed(alpha, box, "L", count), dtype=np.uint8)
            rgba = rgba_words[:count]
            np.bitwise_and(rgbx, 0x00FFFFFF, out=rgba)
            np.left_shift(band_alpha, 24, out=alpha_words[:count], dtype="<u4")
            np.bitwise_or(rgba, alpha_words[:count], out=rgba)
            if clear_hidden:
                np.multiply(rgba, band_alpha != 0, out=rgba, casting="unsafe")
            band = interleaved[:rows].reshape(rows, row_bytes)
        else:
            pixels = np.frombuffer(_packed(image, box, image.mode, rows * row_bytes),
                                   dtype=np.uint8)
            if clear_hidden and channels == 4:
                words = pixels.view("<u4")
                np.multiply(words, pixels[3::4] != 0,
                            out=interleaved[:rows].reshape(-1).view("<u4"), casting="unsafe")
                band = interleaved[:rows].reshape(rows, row_bytes)
            else:
                band = pixels.reshape(rows, row_bytes)
        band_filtered = filtered[:rows]
        # uint8 arithmetic wraps modulo 256, exactly as the PNG Up filter is defined.
        if previous is None:
            band_filtered[0, 1:] = band[0]
        else:
            np.subtract(band[0], previous, out=band_filtered[0, 1:])
        np.subtract(band[1:], band[:-1], out=band_filtered[1:, 1:])
        previous = band[-1].copy()
        pending += compressor.compress(band_filtered.data)
        if len(pending) >= _IDAT_BYTES:
            _chunk(fh, b"IDAT", pending)
            pending = bytearray()
    pending += compressor.flush()
    _chunk(fh, b"IDAT", pending)
    _chunk(fh, b"IEND", b"")
