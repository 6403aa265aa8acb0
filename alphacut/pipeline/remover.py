"""The Remover: one model, one inference session, reused for every image."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from alphacut.accel import Runner, open_runner
from alphacut.accel.adapter import Adapter, honours_precision
from alphacut.accel.backend import Backend
from alphacut.choices import Precision, RefineMode
from alphacut.models.catalogue import DEFAULT_MODEL, ModelSpec
from alphacut.models.recipes import Recipe, recipe_for
from alphacut.models.store import ModelStore, ResolvedModel
from alphacut.paths import AppPaths
from alphacut.pipeline.confidence import Confidence, assess
from alphacut.pipeline.decode import DEFAULT_MAX_PIXELS, DecodedImage, decode, model_input_rgb
from alphacut.pipeline.matte import DEFAULT_REFINE, make_alpha


@dataclass
class StageTimings:
    """Milliseconds spent in each stage for one image."""

    decode: float = 0.0
    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    encode: float = 0.0
    confidence: float = 0.0

    @property
    def total(self) -> float:
        return (
            self.decode + self.preprocess + self.inference + self.postprocess + self.encode
            + self.confidence
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "decode": round(self.decode, 2),
            "preprocess": round(self.preprocess, 2),
            "inference": round(self.inference, 2),
            "postprocess": round(self.postprocess, 2),
            "encode": round(self.encode, 2),
            "confidence": round(self.confidence, 2),
            "total": round(self.total, 2),
        }


@dataclass
class Cutout:
    """The result for one image: original RGB, full-resolution alpha, and the raw mask."""

    rgb: Image.Image  # mode "RGB", exactly the decoded pixels
    alpha: Image.Image  # mode "L", same size as rgb
    mask: np.ndarray  # (h, w) float32 in 0..1 at model resolution
    provider: str
    timings: StageTimings = field(default_factory=StageTimings)
    notes: list[str] = field(default_factory=list)
    confidence: Confidence | None = None

    def rgba(self) -> Image.Image:
        out = self.rgb.copy()
        out.putalpha(self.alpha)
        return out


@dataclass
class Prepared:
    """One image between stages: decoded, as a model input, with the time spent so far."""

    decoded: DecodedImage
    tensor: np.ndarray
    timings: StageTimings
    provider: str = ""  # the adapter that ran inference (it can change mid-batch)
    # The model's raw side outputs that the confidence reads (see Recipe.stage_indices).
    stages: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class RemoveOptions:
    """How masks are turned into alpha.

    ``refine`` defaults to :data:`~alphacut.pipeline.matte.DEFAULT_REFINE` (matting), chosen by
    measurement; ``"none"`` is the fast path. ``decontaminate`` changes the colour of edge
    pixels and costs about a second per camera-size photo, so it is opt-in.
    """

    refine: RefineMode = DEFAULT_REFINE
    decontaminate: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class Remover:
    """Background removal with one model on one adapter; create once, call many times."""

    def __init__(
        self,
        spec: ModelSpec,
        runner: Runner,
        options: RemoveOptions | None = None,
        *,
        precision: Precision = "fp32",
    ) -> None:
        self.spec = spec
        self.precision = precision
        self.runner = runner
        self.options = options or RemoveOptions()
        self.recipe: Recipe = recipe_for(spec)
        if self.options.decontaminate:
            # pymatting's import takes seconds; pay it while the first image decodes.
            import threading

            from alphacut.pipeline.refine import preload

            threading.Thread(target=preload, name="alphacut-preload", daemon=True).start()

    @classmethod
    def open(
        cls,
        model: str = DEFAULT_MODEL,
        *,
        provider: str = "auto",
        strict: bool = False,
        threads: int | None = None,
        options: RemoveOptions | None = None,
        store: ModelStore | None = None,
        model_path: Path | None = None,
        precision: Precision = "fp32",
        backend: Backend | None = None,
        paths: AppPaths | None = None,
        streams: int = 1,
    ) -> Remover:
        """Open a verified cached model (never downloads) on the requested provider.

        ``model`` is a catalogue name or one added with ``alphacut models add``; either way
        the file is loaded only after its sha256 matches the pin. ``model_path`` uses that
        file instead, with the named model's settings. ``backend`` replaces ONNX Runtime
        (tests use the fake one); ``paths`` places the model cache and the probe cache.
        ``streams`` > 1 (a batch, see :func:`alphacut.accel.threads.batch_streams`) lets an
        OpenVINO CPU session run that many images at once; 1 keeps one image fastest.
        """
        store = store or ModelStore(paths)
        if model_path is None:
            resolved = store.resolve(model)
        else:
            resolved = ResolvedModel(store.spec(model), Path(model_path))
        runner = open_runner(
            resolved.session_options(precision, streams),
            provider=provider,
            strict=strict,
            threads=threads,
            backend=backend,
            paths=store.paths,
        )
        if precision != "fp32" and not honours_precision(runner.adapter):
            runner.notes.append(
                f"{precision} applies to OpenVINO on a CPU; {runner.adapter.label} runs fp32"
            )
            precision = "fp32"
        return cls(resolved.spec, runner, options, precision=precision)

    @property
    def provider(self) -> str:
        """The adapter in use, e.g. ``cpu`` or ``openvino:CPU`` (``+bf16`` when reduced)."""
        return self._label(self.runner.adapter)

    def _label(self, adapter: Adapter) -> str:
        if self.precision != "fp32" and honours_precision(adapter):
            return f"{adapter.label}+{self.precision}"
        return adapter.label

    def prepare(self, rgb: Image.Image) -> np.ndarray:
        """Full-resolution RGB -> model input tensor."""
        small = model_input_rgb(rgb, self.spec.input_size)
        return self.recipe.preprocess(self.spec, small)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """Model input tensor -> soft mask at model resolution."""
        return self.recipe.postprocess(self.runner.run(tensor))

    def predict_mask(self, rgb: Image.Image) -> np.ndarray:
        """The model's soft mask (model resolution) for an RGB image; used for previews."""
        return self.infer(self.prepare(rgb))

    # -- the stages, timed here once for the single-image API and the batch runner ----------
    def load(self, image: Image.Image | Path | str | DecodedImage) -> Prepared:
        """Decode stage (a path, an already decoded image or a Pillow image) then the
        model-input stage."""
        timings = StageTimings()
        start = time.perf_counter()
        if isinstance(image, DecodedImage):
            decoded = image
        elif isinstance(image, (str, Path)):
            decoded = decode(Path(image), max_pixels=self.options.max_pixels)
        else:
            from alphacut.pipeline.decode import to_rgb8

            rgb, alpha = to_rgb8(image)
            decoded = DecodedImage(path=Path("<memory>"), rgb=rgb, alpha=alpha)
        timings.decode = _ms(start)
        start = time.perf_counter()
        tensor = self.prepare(decoded.rgb)
        timings.preprocess = _ms(start)
        return Prepared(decoded, tensor, timings)

    def run_model(self, prepared: Prepared) -> np.ndarray:
        """Inference stage: the soft mask; records the adapter and frees the input tensor."""
        start = time.perf_counter()
        # The adapter that ran this image: a concurrent or later run may have fallen back.
        outputs, adapter = self.runner.run_on_adapter(prepared.tensor)
        mask = self.recipe.postprocess(outputs)
        prepared.stages = self.recipe.stage_outputs(outputs)
        prepared.timings.inference = _ms(start)
        prepared.provider = self._label(adapter)
        prepared.tensor = np.empty(0, np.float32)
        return mask

    def complete(self, prepared: Prepared, mask: np.ndarray) -> Cutout:
        """Alpha stage: mask -> full-resolution alpha (refined as configured), combined with
        the input's own alpha, and how far the mask can be trusted."""
        decoded, timings = prepared.decoded, prepared.timings
        start = time.perf_counter()
        confidence = assess(mask, [self.recipe.to_mask(stage) for stage in prepared.stages])
        prepared.stages = []
        timings.confidence = _ms(start)
        start = time.perf_counter()
        alpha = make_alpha(mask, decoded.rgb, refine=self.options.refine)
        if decoded.alpha is not None:
            # A pixel the input already made transparent stays transparent.
            from PIL import ImageChops

            alpha = ImageChops.multiply(alpha, decoded.alpha)
        rgb = decoded.rgb
        if self.options.decontaminate:
            from alphacut.pipeline.refine import decontaminate

            rgb = decontaminate(rgb, alpha)
        timings.postprocess = _ms(start)
        return Cutout(
            rgb=rgb,
            alpha=alpha,
            mask=mask,
            provider=prepared.provider or self.provider,
            timings=timings,
            notes=list(decoded.notes),
            confidence=confidence,
        )

    def remove(self, image: Image.Image | Path | str | DecodedImage) -> Cutout:
        """Remove the background of one image (a path, a decoded image or a Pillow image)."""
        prepared = self.load(image)
        return self.complete(prepared, self.run_model(prepared))
