"""Models built on this machine from a verified catalogue model (source kind ``derived``).

A build is code plus pinned data: the int8 build quantizes the verified fp32 u2netp with
calibration ranges shipped in the package (``data/``, pinned by sha256 here). No photo is
decoded, so with the pinned library versions the bytes are reproducible, and the store still
refuses any result whose sha256 differs from the catalogue's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alphacut.checksum import sha256_file
from alphacut.errors import ChecksumError, ModelError
from alphacut.models.catalogue import ModelSpec, Source
from alphacut.models.fetch import copy_verified


@dataclass(frozen=True)
class DerivedBuild:
    """How one derived model is made from its base model (``BUILDS`` names it)."""

    ranges_file: str  # under alphacut/models/data/
    ranges_sha256: str
    exclude: tuple[str, ...]  # convolutions kept in fp32


BUILDS: dict[str, DerivedBuild] = {
    "int8-conv97": DerivedBuild(
        ranges_file="u2netp-int8-ranges.json",
        ranges_sha256="3874e3222618a687643fd94fd66390f821e1ccd676739accdb5d711ee1a7af49",
        exclude=("conv:97",),
    ),
}


def build(build_name: str, base: Path, dest: Path) -> None:
    """Write the model that ``build_name`` makes from the verified ``base`` file to ``dest``."""
    plan = BUILDS.get(build_name)
    if plan is None:
        raise ModelError(f"unknown derived-model build {build_name!r}")
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ModelError(
            "building this model needs the onnx package: pip install 'alphacut[quantize]'"
        ) from None
    from alphacut.models.quantize import QuantSettings, build_from_ranges

    ranges = resources.files("alphacut.models") / "data" / plan.ranges_file
    with resources.as_file(ranges) as ranges_path:
        digest = sha256_file(Path(ranges_path))
        if digest != plan.ranges_sha256:
            raise ModelError(f"{plan.ranges_file}: sha256 {digest} does not match the pin")
        build_from_ranges(base, Path(ranges_path), dest, QuantSettings(exclude=plan.exclude))


def build_verified(spec: ModelSpec, source: Source, base: Path, dest: Path) -> Path:
    """Build ``spec`` from the verified ``base`` file and move it to ``dest`` only if it
    matches the pinned size and sha256, like a download."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".derive-", dir=dest.parent) as work:
        built = Path(work) / dest.name
        build(source.member, base, built)
        try:
            return copy_verified(
                built, dest, sha256=spec.sha256, size=spec.size,
                what=f"{spec.name} built from {source.url}",
            )
        except ChecksumError as exc:
            from importlib.metadata import version

            from alphacut.accel.flavours import installed_flavours

            runtimes = ", ".join(f"{name} {ver}" for name, ver in installed_flavours())
            raise ChecksumError(
                f"{exc} (onnx {version('onnx')}, {runtimes} write different bytes than "
                "the pinned build: install the versions in alphacut's 'quantize' extra)"
            ) from None
