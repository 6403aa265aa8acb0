"""What machine and software a benchmark ran on, so its numbers can be compared honestly."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Every ONNX Runtime flavour installs the same ``onnxruntime`` import package.
ORT_DISTRIBUTIONS: tuple[str, ...] = (
    "onnxruntime",
    "onnxruntime-openvino",
    "onnxruntime-gpu",
    "onnxruntime-directml",
    "onnxruntime-qnn",
)
# Environment variables that change how many threads the kernels use.
THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "ORT_NUM_THREADS",
)
_LIB_VERSION = re.compile(r"lib{name}\.so\.(\d+\.\d+\.\d+)$")


@dataclass
class Environment:
    """A record of the hardware and software under test."""

    cpu_model: str
    physical_cores: int | None
    logical_cpus: int | None
    ram_gib: float
    os: str
    python: str
    ort_flavour: str
    ort_version: str
    ep_versions: dict[str, str] = field(default_factory=dict)
    ort_providers: list[str] = field(default_factory=list)
    model: str = ""
    model_sha256: str = ""
    threads: dict[str, str] = field(default_factory=dict)
    # Instruction sets (avx2, avx512f, avx512_vnni, avx512_bf16, amx_*, avx_vnni -> True /
    # False / None unknown), the CPU class they make, and an oneDNN ISA cap if one is set.
    cpu_class: str = ""
    cpu_isa: dict[str, bool | None] = field(default_factory=dict)
    onednn_max_cpu_isa: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else ``platform``)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def ort_distribution() -> tuple[str, str]:
    """(flavour, version) of the installed ONNX Runtime wheel, read without importing it."""
    for name in ORT_DISTRIBUTIONS:
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "none", ""


def bundled_library_version(distribution: str, library: str) -> str:
    """Version of a library shipped inside a wheel, from its file name (``libX.so.1.2.3``)."""
    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        return ""
    pattern = re.compile(_LIB_VERSION.pattern.format(name=re.escape(library)))
    for entry in files:
        match = pattern.search(entry.name)
        if match:
            return match.group(1)
    return ""


def ep_versions(flavour: str) -> dict[str, str]:
    """Versions of the execution-provider runtimes we can identify."""
    versions: dict[str, str] = {}
    openvino = bundled_library_version(flavour, "openvino")
    if not openvino:
        try:
            openvino = metadata.version("openvino")
        except metadata.PackageNotFoundError:
            openvino = ""
    if openvino:
        versions["OpenVINO"] = openvino
    return versions


def collect(
    *,
    model: str = "",
    model_path: Path | None = None,
    intra_op_threads: int | None = None,
    providers: tuple[str, ...] = (),
) -> Environment:
    """Describe this machine, the ORT build and (optionally) the model file under test."""
    import psutil

    from alphacut.accel.cpu_isa import detect
    from alphacut.checksum import sha256_file

    flavour, version = ort_distribution()
    isa = detect()
    threads = {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}
    if intra_op_threads is not None:
        threads["intra_op_num_threads"] = str(intra_op_threads)
        threads["inter_op_num_threads"] = "1"
    return Environment(
        cpu_model=cpu_model(),
        physical_cores=psutil.cpu_count(logical=False),
        logical_cpus=psutil.cpu_count(logical=True),
        ram_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=platform.platform(),
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        ort_flavour=flavour,
        ort_version=version,
        ep_versions=ep_versions(flavour),
        ort_providers=list(providers),
        model=model,
        model_sha256=sha256_file(model_path) if model_path else "",
        threads=threads,
        cpu_class=isa.cpu_class,
        cpu_isa=isa.as_dict(),
        onednn_max_cpu_isa=isa.onednn_cap,
    )
