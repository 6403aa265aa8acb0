"""The closed sets of option values, shared by the library, the config file and the CLI.

Plain data with no heavy imports, so ``alphacut --help`` can list them as argparse choices.
"""

from __future__ import annotations

from typing import Literal, get_args

OutputFormat = Literal["png", "webp", "webp-lossy", "jpg"]
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)

ExistingPolicy = Literal["error", "skip", "overwrite"]
EXISTING_POLICIES: tuple[str, ...] = get_args(ExistingPolicy)

RefineMode = Literal["none", "guided", "matting"]
REFINE_MODES: tuple[str, ...] = get_args(RefineMode)

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

Preference = Literal["high-performance", "low-power", "cpu"]
PREFERENCES: tuple[str, ...] = get_args(Preference)

GRAPHICS_MODES: tuple[str, ...] = ("auto", "kitty", "sixel", "halfcell", "unicode")
