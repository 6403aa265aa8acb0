"""Install-time flavour choice (setup.py + [tool.alphacut.dependencies]): one flavour each.

pip cannot drop a dependency through an extra, so ``ALPHACUT_ORT=cuda pip install .``
swaps the runtime list when alphacut is built. These tests read the same lists setup.py
reads and evaluate their markers for each platform.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from alphacut.accel.flavours import FLAVOURS

markers = pytest.importorskip("packaging.markers")
requirements = pytest.importorskip("packaging.requirements")

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_machine": "aarch64"},
    "windows": {"sys_platform": "win32", "platform_machine": "AMD64"},
    "macos": {"sys_platform": "darwin", "platform_machine": "arm64"},
}
# The default install as it was before the flavour became a choice: it must not change.
DEFAULT_BEFORE = [
    "numpy>=1.26", "pillow>=10.4", "psutil>=5.9", "platformdirs>=4.0", "rich>=13.7",
    "textual>=1.0", "textual-image>=0.8", "pymatting>=1.1.12", "scipy>=1.10", "zlib-ng>=0.5",
    "tomli-w>=1.0", "plotext>=5.2",
    # Added since (issue 13): the matting solve keeps BLAS to one thread.
    "threadpoolctl>=3.1",
    "onnxruntime-directml>=1.20; sys_platform == 'win32'",
    "onnxruntime-openvino>=1.22; sys_platform == 'linux' and platform_machine == 'x86_64'",
    "onnxruntime>=1.20; sys_platform != 'win32' and sys_platform != 'linux'",
    "onnxruntime>=1.20; sys_platform == 'linux' and platform_machine != 'x86_64'",
]


def _setup_module():
    spec = importlib.util.spec_from_file_location("alphacut_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the setup() call only runs as __main__
    return module


def _installed(lines: list[str], platform: dict[str, str]) -> dict[str, str]:
    environment = {**markers.default_environment(), **platform}
    found = {}
    for line in lines:
        req = requirements.Requirement(line)
        if req.marker is None or req.marker.evaluate(environment):
            found[req.name] = line
    return found


def test_default_install_is_unchanged():
    setup = _setup_module()
    assert sorted(setup.install_requires({})) == sorted(DEFAULT_BEFORE)
    assert setup.install_requires({"ALPHACUT_ORT": "default"}) == setup.install_requires({})


@pytest.mark.parametrize("choice", ["default", "cuda", "cuda13"])
@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_choice_installs_exactly_one_flavour(choice, platform):
    lines = _setup_module().install_requires({"ALPHACUT_ORT": choice})
    flavours = [name for name in _installed(lines, PLATFORMS[platform]) if name in FLAVOURS]
    assert len(flavours) == 1, (choice, platform, flavours)


def test_cuda_choice_brings_onnxruntime_gpu_with_its_cuda_wheels_and_nvml():
    lines = _setup_module().install_requires({"ALPHACUT_ORT": "CUDA"})
    linux = _installed(lines, PLATFORMS["linux-x86_64"])
    gpu = requirements.Requirement(linux["onnxruntime-gpu"])
    assert gpu.extras == {"cuda", "cudnn"}
    # CUDA 12 builds only (1.27 and later need CUDA 13 and an R580 driver).
    assert gpu.specifier.contains("1.26.0") and not gpu.specifier.contains("1.27.0")
    assert "onnxruntime-openvino" not in linux and "nvidia-ml-py" in linux
    assert "onnxruntime" in _installed(lines, PLATFORMS["macos"])  # no CUDA build there
    cuda13 = _installed(_setup_module().install_requires({"ALPHACUT_ORT": "cuda13"}),
                        PLATFORMS["linux-x86_64"])
    newer = requirements.Requirement(cuda13["onnxruntime-gpu"])
    assert newer.extras == {"cuda", "cudnn"} and not newer.specifier.contains("1.26.0")
    assert newer.specifier.contains("1.31.1")


def test_an_unknown_choice_stops_the_build_with_the_choices():
    with pytest.raises(SystemExit,
                       match=r"ALPHACUT_ORT='rocm' .*use one of: cuda, cuda13, default"):
        _setup_module().install_requires({"ALPHACUT_ORT": "rocm"})
