"""Sixel data with every colour register defined before the first pixel.

textual-image defines each register the first time a band uses it. xterm (VT340 mode)
then draws the whole first band in wrong colours: a stripe of debris along the top of
every preview. Defining the palette up front, as libsixel does, avoids it and costs
nothing. Nothing here imports Textual.
"""

from __future__ import annotations

import re

# DCS P1;P2;P3 q, then optional raster attributes "Pan;Pad;Ph;Pv.
_HEADER = re.compile(r'(\x1bP[\d;]*q(?:"[\d;]*)?)')
# A colour definition: #register;colour system;a;b;c (the body holds no other '#...;').
_DEFINITION = re.compile(r"#(\d+);(\d+);(\d+);(\d+);(\d+)")


def palette_first(sixel: str) -> str:
    """``sixel`` with every colour definition moved in front of the pixel data."""
    header = _HEADER.match(sixel)
    if header is None:
        return sixel
    body = sixel[header.end():]
    definitions: dict[str, str] = {}

    def select_only(match: re.Match[str]) -> str:
        register = match.group(1)
        if register in definitions and definitions[register] != match.group(0):
            raise ValueError(f"sixel register {register} is defined twice with different colours")
        definitions[register] = match.group(0)
        return f"#{register}"

    body = _DEFINITION.sub(select_only, body)
    return header.group(1) + "".join(definitions.values()) + body
