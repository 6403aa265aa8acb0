"""Models built on this machine from a verified catalogue model (source kind ``derived``).

A recipe is code plus pinned data: the int8 recipe quantizes the verified fp32 u2netp with
calibration ranges shipped in the package (``data/``, pinned by sha256 here). No photo is
decoded, so with the pinned library versions the bytes are reproducible, and the store still
refuses any result whose sha256 differs from the catalogue's.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alphacut.checksum import sha256_file
from alphacut.errors import ModelError


@dataclass(frozen=True)
class DerivedRecipe:
    """How one derived model is made from its base model (``RECIPES`` names it)."""

    ranges_file: str  # under alphacut/models/data/
    ranges_sha256: str
    exclude: tuple[str, ...]  # convolutions kept in fp32


RECIPES: dict[str, DerivedRecipe] = {
    "int8-conv97": DerivedRecipe(
        ranges_file="u2netp-int8-ranges.json",
        ranges_sha256="3874e3222618a687643fd94fd66390f821e1ccd676739accdb5d711ee1a7af49",
        exclude=("conv:97",),
    ),
}


def build(recipe_name: str, base: Path, dest: Path) -> None:
    """Write the model that ``recipe_name`` makes from the verified ``base`` file to ``dest``."""
    recipe = RECIPES.get(recipe_name)
    if recipe is None:
        raise ModelError(f"unknown derived-model recipe {recipe_name!r}")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ModelError(
            "building this model needs the onnx package: pip install 'alphacut[quantize]'"
        ) from None
    from alphacut.models.quantize import QuantRecipe, build_from_ranges

    ranges = resources.files("alphacut.models") / "data" / recipe.ranges_file
    with resources.as_file(ranges) as ranges_path:
        digest = sha256_file(Path(ranges_path))
        if digest != recipe.ranges_sha256:
            raise ModelError(f"{recipe.ranges_file}: sha256 {digest} does not match the pin")
        build_from_ranges(base, Path(ranges_path), dest, QuantRecipe(exclude=recipe.exclude))
