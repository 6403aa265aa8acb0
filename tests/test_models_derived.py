"""``u2netp-int8``: built here from the verified u2netp and pinned like any download."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from alphacut.errors import ModelError
from alphacut.models import catalogue, derive
from alphacut.models.store import ModelStore

pytest.importorskip("onnx")


def test_int8_is_built_offline_from_the_cached_base_and_verified(
    home_with_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")  # a derived model needs no network
    store = ModelStore()
    path = store.ensure("u2netp-int8")
    spec = catalogue.get_model("u2netp-int8")
    assert store.status(spec).verified and path.stat().st_size == spec.size
    assert spec.disabled_optimizers == ("WeightBiasQuantization",) and spec.family == "u2net"
    assert not list(path.parent.glob(".derive-*"))


def test_a_build_with_other_bytes_is_refused(
    home_with_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = catalogue.get_model("u2netp-int8")
    wrong = catalogue.ModelSpec(**{**real.__dict__, "sha256": "0" * 64})
    monkeypatch.setattr(ModelStore, "spec", lambda self, name: (
        wrong if name == "u2netp-int8" else catalogue.get_model(name)))
    store = ModelStore()
    with pytest.raises(ModelError, match="pinned build") as info:
        store.ensure("u2netp-int8")
    assert "onnx 1." in str(info.value)
    models = home_with_model / "cache" / "models"
    assert not (models / "u2netp-int8.onnx").exists()
    assert not list(models.glob(".derive-*")) and not list(models.glob(".*.part"))


def test_tampered_calibration_ranges_are_refused(
    home_with_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = derive.RECIPES["int8-conv97"]
    monkeypatch.setitem(derive.RECIPES, "int8-conv97",
                        derive.DerivedRecipe(**{**recipe.__dict__, "ranges_sha256": "1" * 64}))
    with pytest.raises(ModelError, match="does not match the pin"):
        ModelStore().ensure("u2netp-int8")


def test_without_onnx_the_error_says_what_to_install(
    home_with_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ModelError, match=r"alphacut\[quantize\]"):
        ModelStore().ensure("u2netp-int8")


def test_int8_masks_stay_close_to_fp32(home_with_model: Path, photo: Path) -> None:
    from alphacut.pipeline.remover import Remover

    ModelStore().ensure("u2netp-int8")
    fp32 = Remover.open("u2netp", provider="cpu")
    int8 = Remover.open("u2netp-int8", provider="cpu")
    a, b = fp32.remove(photo).mask, int8.remove(photo).mask
    # Measured 0.002 mean difference on ecssd-dev; with ORT's WeightBiasQuantization
    # transform (which the catalogue turns off for this model) it is ~0.6.
    assert float(np.abs(a - b).mean()) < 0.03
    assert b.std() > 0.05


_PROBE_SCRIPT = """
import json, sys
from pathlib import Path
from alphacut.accel.adapter import Adapter
from alphacut.accel.ort_backend import OrtBackend
from alphacut.accel.probe import probe, reference_outputs
from alphacut.models import catalogue
from alphacut.models.store import ModelStore
from alphacut.pipeline.probe_photos import probe_tensors

spec = catalogue.get_model("u2netp-int8")
backend = OrtBackend(disabled_optimizers=spec.disabled_optimizers)
if "OpenVINOExecutionProvider" not in backend.discover().runtime.providers:
    print(json.dumps(None))
    sys.exit(0)
path = ModelStore().ensure("u2netp-int8")
inputs = probe_tensors(spec, [Path(p) for p in sys.argv[1:]])
reference = reference_outputs(backend, path, threads=1, inputs=inputs)
ov = Adapter(provider="OpenVINOExecutionProvider", device="CPU")
run = probe(backend, path, ov, threads=1, reference=reference, steady_runs=1,
            rule=spec.agreement, inputs=inputs)
print(json.dumps(run.result.as_dict()))
"""


def _probe_openvino_int8(photos: list[Path], **env: str) -> dict | None:
    """Probe u2netp-int8 on OpenVINO against the CPU, in a fresh process with ``env`` set."""
    import json
    import os
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", _PROBE_SCRIPT, *map(str, photos)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=600, check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("isa_cap", ["", "AVX2"], ids=["native-isa", "onednn-avx2"])
def test_openvino_int8_agrees_with_the_cpu_at_mask_level(
    home_with_model: Path, photo_sources: list[Path], isa_cap: str
) -> None:
    """OpenVINO's real int8 kernels differ from the CPU provider's by up to ~0.8 on single
    values (AVX2) while the masks agree: the probe judges the mask, on photos, by the model's
    rule. ``ONEDNN_MAX_CPU_ISA=AVX2`` makes OpenVINO's CPU plugin (oneDNN) take its AVX2
    paths, so an AVX-512 machine checks what an AVX2-only CPU would do (the old max-difference
    rule failed there: 0.82 > 0.25)."""
    if not photo_sources:
        pytest.skip("no real photos: run 'alphacut demo --headless' or provide ../shared/data")
    env = {"ONEDNN_MAX_CPU_ISA": isa_cap} if isa_cap else {}
    result = _probe_openvino_int8(photo_sources, **env)
    if result is None:
        pytest.skip("no OpenVINO provider installed")
    rule = catalogue.get_model("u2netp-int8").agreement
    assert result["status"] == "ok", result["error"]
    assert result["max_abs_diff"] > 1e-3  # real int8 kernels on both sides, not a copy
    assert result["mask_mean_diff"] <= rule.mask_mean_diff
    assert result["mask_iou"] >= rule.mask_min_iou
