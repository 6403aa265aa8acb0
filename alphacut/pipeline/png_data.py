"""Checking that a PNG's compressed data really holds every row its header claims.

Pillow stops quietly when the zlib stream ends early: a header of 10000x10000 with one row
of data decodes as a full-size, mostly black image, even with ``LOAD_TRUNCATED_IMAGES``
off. Here the IDAT stream is inflated to its very end (output counted, then dropped, in
1 MiB steps so memory stays flat) and compared with the size the header implies. zlib-ng
inflates a 12 MP RGB photo in about 0.1 s, a small part of decoding it.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from zlib_ng import zlib_ng

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))
_STEP = 1 << 20


def expected_bytes(width: int, height: int, depth: int, colour: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines (one filter byte per row) the header implies."""
    bits = depth * _CHANNELS.get(colour, 4)

    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits + 7) // 8) if w and h else 0

    if not interlaced:
        return rows(width, height)
    return sum(
        rows((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
        for x0, y0, dx, dy in _ADAM7
    )


def png_data_problem(fh: BinaryIO) -> str | None:
    """``None`` when the image data is complete, else a one-line reason.

    ``fh`` is positioned at the start of a PNG whose chunk structure and CRCs were
    already checked; a damaged chunk layout is reported, never raised.
    """
    fh.seek(8)
    head = fh.read(8 + 13)
    if len(head) < 21 or head[4:8] != b"IHDR":
        return "damaged PNG header"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[8:21])
    expected = expected_bytes(width, height, depth, colour, interlace == 1)
    fh.seek(4, 1)  # IHDR's CRC
    inflater = zlib_ng.decompressobj()
    produced = 0
    while True:
        header = fh.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I", header[:4])[0], header[4:]
        if kind == b"IEND":
            break
        if kind != b"IDAT":
            fh.seek(length + 4, 1)
            continue
        data = fh.read(length)
        fh.seek(4, 1)
        try:
            while data and not inflater.eof:
                produced += len(inflater.decompress(data, _STEP))
                data = inflater.unconsumed_tail
        except zlib_ng.error as exc:
            return f"damaged PNG (zlib: {exc})"
    try:
        while not inflater.eof and (chunk := inflater.decompress(b"", _STEP)):
            produced += len(chunk)
    except zlib_ng.error as exc:
        return f"damaged PNG (zlib: {exc})"
    if produced < expected or not inflater.eof:
        return f"truncated image data ({produced:,} of {expected:,} bytes)"
    return None
