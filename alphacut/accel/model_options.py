"""One record for a model file and what every session on it must honour."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphacut.accel.agreement import EXACT, AgreementRule
from alphacut.checksum import sha256_file
from alphacut.choices import Precision


@dataclass(frozen=True)
class ModelOptions:
    """A model file plus the options its sessions, probes and cache entries depend on.

    ``sha256`` keys the probe cache (hashed from the file when empty);
    ``disabled_optimizers`` names ONNX Runtime graph transforms that would break the model;
    ``agreement`` is how close to the CPU's outputs an adapter must stay (the model's own);
    ``precision`` is ``fp32`` (exact) or ``bf16`` (OpenVINO on a CPU with bf16 units only);
    ``streams`` is how many inferences one OpenVINO CPU session runs at once, each on its share
    of the cores (1: every core on one image, the lowest latency; a batch asks for more, see
    :func:`alphacut.accel.threads.batch_streams`). Other adapters ignore it.
    ``ResolvedModel.session_options`` fills it from a catalogue or added model.
    """

    path: Path
    sha256: str = ""
    disabled_optimizers: tuple[str, ...] = ()
    agreement: AgreementRule = EXACT
    precision: Precision = "fp32"
    streams: int = 1

    @classmethod
    def of(cls, model: ModelOptions | Path | str) -> ModelOptions:
        """``model`` itself, or a bare path with every option at its default."""
        return model if isinstance(model, ModelOptions) else cls(Path(model))

    def key(self) -> str:
        """The probe-cache key: the pinned sha256, else the file's own."""
        return self.sha256 or sha256_file(self.path)
