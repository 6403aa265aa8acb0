"""Telling alphacut's own outputs from the user's files.

Every file alphacut writes carries a small marker in its metadata (a PNG ``tEXt`` chunk
``Software=alphacut``, an XMP ``CreatorTool`` in WebP, a JPEG comment). Only a file with the
marker is ever replaced by ``--overwrite`` or left out of the inputs as an earlier output;
an output name alone proves nothing (``a.webp`` plans ``a.png``, which may be the user's
own photo).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from PIL import Image

from alphacut.errors import OutputError, OutputExistsError
from alphacut.pipeline.regular_file import open_regular

SOFTWARE = "alphacut"
PNG_TEXT = (b"Software", SOFTWARE.encode())
XMP_TOOL = b'xmp:CreatorTool="alphacut"'
XMP_PACKET = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" ' + XMP_TOOL + b"/></rdf:RDF></x:xmpmeta>"
)
JPEG_COMMENT = SOFTWARE.encode()


def marker_params(pillow_format: str) -> dict[str, object]:
    """Extra ``Image.save()`` keyword arguments that mark a WebP or JPEG as ours."""
    if pillow_format == "WEBP":
        return {"xmp": XMP_PACKET}
    if pillow_format == "JPEG":
        return {"comment": JPEG_COMMENT}
    return {}


def is_our_output(path: Path) -> bool:
    """Whether ``path`` is a regular file that alphacut wrote (reads the header only)."""
    try:
        with open_regular(path) as fh, Image.open(fh) as img:
            fmt, info = img.format, img.info
    except Exception:  # missing, special, unreadable or not an image: not ours
        return False
    if fmt == "PNG":
        return info.get("Software") == SOFTWARE
    if fmt == "WEBP":
        xmp = info.get("xmp") or b""
        return XMP_TOOL in (xmp.encode() if isinstance(xmp, str) else xmp)
    if fmt == "JPEG":
        return info.get("comment") == JPEG_COMMENT
    return False


EXISTS_REASON = "exists (use --overwrite or --skip-existing)"


def existing_output_action(path: Path, existing: str) -> Literal["write", "skip"]:
    """What the policy (``error``, ``skip``, ``overwrite``) says before any work on ``path``.

    Raises :class:`OutputExistsError` (no ``--overwrite``/``--skip-existing``) or
    :class:`OutputError` (``--overwrite`` of a file alphacut did not write).
    """
    if not os.path.lexists(path):
        return "write"
    if existing == "skip":
        return "skip"
    if existing == "error":
        raise OutputExistsError(path, EXISTS_REASON)
    if not is_our_output(path):
        raise OutputError(path, not_ours_reason(path))
    return "write"


def not_ours_reason(path: Path) -> str:
    """Why an existing file that alphacut did not write is never replaced."""
    return f"{path} exists and was not written by alphacut; it is never replaced"
