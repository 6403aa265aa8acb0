"""ONNX Runtime flavour check: loud warning and fix when two are installed, no ORT import."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import subprocess
import sys

from alphacut.accel.flavours import check_flavours, preferred_flavour


def test_two_flavours_give_a_loud_warning_with_the_fix():
    report = check_flavours(
        installed=(("onnxruntime", "1.22.0"), ("onnxruntime-openvino", "1.24.1")),
        platform="linux", machine="x86_64",
    )
    assert report.conflict
    assert report.fix == (
        "pip uninstall -y onnxruntime onnxruntime-openvino; "
        "pip install --force-reinstall onnxruntime-openvino"
    )
    warning = report.warning()
    assert warning is not None and "WARNING: 2 ONNX Runtime flavours" in warning
    assert "onnxruntime 1.22.0, onnxruntime-openvino 1.24.1" in warning
    assert warning.endswith(report.fix)


def test_a_cuda_build_the_user_chose_is_the_one_kept():
    report = check_flavours(
        installed=(("onnxruntime", "1.24.1"), ("onnxruntime-gpu", "1.24.1")),
        platform="linux", machine="x86_64",
    )
    assert report.keep == "onnxruntime-gpu"
    assert report.fix.endswith("pip install --force-reinstall onnxruntime-gpu")


def test_platform_defaults():
    assert preferred_flavour([], "win32", "AMD64") == "onnxruntime-directml"
    assert preferred_flavour([], "linux", "x86_64") == "onnxruntime-openvino"
    assert preferred_flavour([], "linux", "aarch64") == "onnxruntime"
    assert preferred_flavour([], "darwin", "arm64") == "onnxruntime"


def test_one_flavour_is_quiet_and_none_says_what_to_install():
    one = check_flavours(installed=(("onnxruntime-openvino", "1.24.1"),), platform="linux",
                         machine="x86_64")
    assert not one.conflict and one.warning() is None
    none = check_flavours(installed=(), platform="win32", machine="AMD64")
    assert none.missing and "pip install onnxruntime-directml" in (none.warning() or "")


def test_real_check_reads_metadata_without_importing_onnxruntime():
    code = (
        "import sys, json\n"
        "from alphacut.accel.flavours import check_flavours\n"
        "r = check_flavours()\n"
        "print(json.dumps([list(x) for x in r.installed]))\n"
        "print('onnxruntime' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[-1] == "False"
    installed = {name for name, _ in json.loads(out[0])}
    # Whatever distribution provides the importable onnxruntime package must be listed.
    providers_of_ort = metadata.packages_distributions().get("onnxruntime", [])
    assert {name.lower() for name in providers_of_ort} <= installed


def test_providers_command_module_and_flavour_check_stay_light():
    code = (
        "import sys\n"
        "import alphacut.commands.providers, alphacut.accel.flavours\n"
        "from alphacut.accel.flavours import check_flavours\n"
        "check_flavours()\n"
        "print(sorted(m for m in ('numpy', 'onnxruntime', 'rich', 'PIL') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_an_alphacut_installed_for_cuda_keeps_onnxruntime_gpu():
    from alphacut.accel.flavours import chosen_flavour

    cuda = ["numpy>=1.26", "onnxruntime-gpu[cuda,cudnn]<1.27,>=1.24; sys_platform == \"win32\""]
    default = ["onnxruntime-openvino>=1.22; sys_platform == \"linux\"", "onnxruntime>=1.20"]
    assert chosen_flavour(cuda) == "onnxruntime-gpu"
    assert chosen_flavour(default) is None
    # Openvino came back (say, a plain reinstall): the fix keeps the CUDA build.
    report = check_flavours(installed=(("onnxruntime-gpu", "1.26.0"),
                                       ("onnxruntime-openvino", "1.24.1")),
                            platform="linux", machine="x86_64", chosen="onnxruntime-gpu")
    assert report.fix.endswith("pip install --force-reinstall onnxruntime-gpu")
    missing = check_flavours(installed=(), platform="linux", machine="x86_64",
                             chosen="onnxruntime-gpu")
    assert "pip install onnxruntime-gpu" in (missing.warning() or "")
