"""The CUDA and cuDNN libraries an onnxruntime-gpu build needs: load them, name what is missing.

onnxruntime-gpu's CUDA provider library has no run path. It works only when libcudart,
libcublas, libcudnn … are already loaded or on the loader path; otherwise ONNX Runtime
quietly runs the session on the CPU (rembg's most reported problem). The ``nvidia-*-cu12``
wheels put these libraries under ``site-packages/nvidia/*/lib``. :func:`load_cuda_libraries`
loads the list ONNX Runtime's own ``preload_dlls`` uses, from those wheels first and then the
loader path, and records for each one where it came from, or why it failed together with the
pip line that fixes it; it also reads the CUDA driver, CUDA runtime and cuDNN versions.
"""

from __future__ import annotations

import ctypes
import importlib.metadata as metadata
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Loader = Callable[[str], Any]  # ctypes.CDLL or a stand-in; raises OSError when it cannot load

DRIVER_LIBRARY = "libcuda.so.1"
# Oldest driver branch for each CUDA major (NVIDIA's minor-version compatibility table).
DRIVER_FOR_CUDA: dict[int, str] = {12: "R525", 13: "R580"}
MISSING_FILE = re.compile(r"(lib[\w.+-]+?\.so(?:\.\d+)*): cannot open shared object file")
# ORT's own wording, e.g. "CUDA failure 35: CUDA driver version is insufficient … ; GPU=-1 ; …"
LIBRARY_FAILURE = re.compile(r"\b(?:CUDA|CUDNN|CUBLAS|CUFFT|CURAND) failure \d+: [^;\n]+")


@dataclass(frozen=True)
class CudaLibrary:
    """One library ONNX Runtime's CUDA provider needs, and what happened when it was loaded."""

    file: str  # e.g. "libcudnn.so.9"
    requirement: str  # the pip requirement that provides it, e.g. "nvidia-cudnn-cu12~=9.0"
    path: str = ""  # where it was loaded from ("" when not loaded)
    package_version: str = ""  # version of the installed wheel, "" when none
    error: str = ""
    other_versions: tuple[str, ...] = ()  # same library, another major version, found nearby

    @property
    def loaded(self) -> bool:
        return not self.error

    def problem(self) -> str:
        """One line naming the file and the fix, or "" when it loaded."""
        if self.loaded:
            return ""
        if self.other_versions:
            found = ", ".join(self.other_versions)
            return (f"{self.file} not found (found {found}, another major version): "
                    f"pip install '{self.requirement}'")
        if "cannot open shared object file" in self.error:
            return f"{self.file} not found: pip install '{self.requirement}'"
        return f"{self.file} does not load ({self.error}): pip install --force-reinstall " \
               f"'{self.requirement}'"


@dataclass(frozen=True)
class CudaReport:
    """The CUDA stack under an onnxruntime-gpu build, as loaded in this process."""

    package: str  # "onnxruntime-gpu"
    version: str  # its version
    build_cuda: str  # CUDA version onnxruntime-gpu was built with, e.g. "12.8"
    driver_cuda: str = ""  # newest CUDA the installed driver supports, "" when no driver
    runtime_cuda: str = ""  # version of the libcudart that was loaded
    cudnn: str = ""  # version of the libcudnn that was loaded
    driver_error: str = ""
    libraries: tuple[CudaLibrary, ...] = field(default_factory=tuple)

    @property
    def build_major(self) -> int | None:
        return _major(self.build_cuda)

    def problems(self) -> list[str]:
        """Every missing or mismatched piece, one line each with its fix."""
        lines = [lib.problem() for lib in self.libraries if not lib.loaded]
        major = self.build_major
        if self.driver_error:
            lines.append(f"{DRIVER_LIBRARY} not found: no NVIDIA driver is installed or visible "
                         "here (in a container: run it with the GPU passed through)")
        elif self.driver_cuda and major is not None and (_major(self.driver_cuda) or 0) < major:
            branch = DRIVER_FOR_CUDA.get(major, "a newer driver")
            lines.append(
                f"the NVIDIA driver supports CUDA {self.driver_cuda}, but {self.package} "
                f"{self.version} needs CUDA {major}: update the driver to {branch} or newer, "
                "or install the CUDA 12 build (ALPHACUT_ORT=cuda pip install alphacut)"
            )
        return lines

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "version": self.version,
            "build_cuda": self.build_cuda,
            "driver_cuda": self.driver_cuda or None,
            "runtime_cuda": self.runtime_cuda or None,
            "cudnn": self.cudnn or None,
            "libraries": [
                {"file": lib.file, "requirement": lib.requirement, "path": lib.path or None,
                 "package_version": lib.package_version or None, "error": lib.error or None}
                for lib in self.libraries
            ],
            "problems": self.problems(),
        }

    def describe(self) -> str:
        """One line: the versions that were loaded, e.g. ``…: CUDA 12.9, cuDNN 9.28.0, …``."""
        runtime = f"CUDA {self.runtime_cuda}" if self.runtime_cuda else "CUDA runtime not loaded"
        driver = f"driver CUDA {self.driver_cuda}" if self.driver_cuda else "no driver"
        cudnn = f"cuDNN {self.cudnn}" if self.cudnn else "cuDNN not loaded"
        return (f"{self.package} {self.version} (built for CUDA {self.build_cuda}): "
                f"{runtime}, {cudnn}, {driver}")


def load_cuda_libraries(
    ort: Any,
    *,
    load: Loader = ctypes.CDLL,
    site_dir: Path | None = None,
    requirements: Sequence[str] | None = None,
) -> CudaReport | None:
    """Load what ``ort``'s CUDA provider needs and report it (None for builds without CUDA).

    Loading is what makes the pip-installed libraries visible to ONNX Runtime, so the real
    backend calls this once before its first CUDA or TensorRT session. ``requirements``
    (the nvidia wheels onnxruntime-gpu's extras name) default to its installed metadata.
    """
    build_cuda = str(getattr(ort, "cuda_version", "") or "")
    if not build_cuda:
        return None
    site = site_dir or Path(ort.__file__).resolve().parent.parent
    package = str(getattr(ort, "package_name", "") or "onnxruntime-gpu")
    requirements = _gpu_requirements(package) if requirements is None else list(requirements)
    libraries: list[CudaLibrary] = []
    handles: dict[str, Any] = {}
    for parts in _library_paths(ort, build_cuda):
        file = parts[-1]
        requirement = requirement_for(parts[-3] if len(parts) >= 3 else "", requirements,
                                      build_cuda)
        handle, path, error = _load_one(load, site.joinpath(*parts), file)
        if handle is not None:
            handles[file] = handle
        libraries.append(CudaLibrary(
            file=file, requirement=requirement, path=path, error=error,
            package_version=_installed_version(_requirement_name(requirement)),
            other_versions=() if handle is not None else _other_majors(site, parts),
        ))
    driver_cuda, driver_error = _driver_version(load)
    runtime = next((h for f, h in handles.items() if f.startswith("libcudart")), None)
    cudnn = next((h for f, h in handles.items() if f.startswith("libcudnn.")), None)
    return CudaReport(
        package=package,
        version=str(getattr(ort, "__version__", "")),
        build_cuda=build_cuda,
        driver_cuda=driver_cuda,
        runtime_cuda=_runtime_version(runtime),
        cudnn=_cudnn_version(cudnn),
        driver_error=driver_error,
        libraries=tuple(libraries),
    )


def explain_provider_error(text: str, report: CudaReport | None) -> str:
    """A CUDA/TensorRT session error in plain words, with the fix where one is known."""
    missing = MISSING_FILE.search(text)
    if missing:
        file = missing.group(1)
        for lib in report.libraries if report else ():
            if lib.file == file:
                return lib.problem() or f"{file} not found"
        if file.startswith(("libnvinfer", "libnvonnxparser")):
            return (f"{file} not found: TensorRT 10 is not installed "
                    "(the CUDA adapter works without it)")
        return f"{file} not found"
    lowered = text.lower()
    if "no cuda-capable device" in lowered or "cuda failure 100:" in lowered:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        seen = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
        return f"no CUDA GPU is visible to this process{seen}"
    if "install tensorrt libraries" in lowered:
        return "TensorRT 10 is not installed (the CUDA adapter works without it)"
    failure = LIBRARY_FAILURE.search(text)
    short = failure.group(0).strip() if failure else text.strip()
    if "driver version is insufficient" in lowered and report is not None and report.problems():
        return f"{short}: {report.problems()[-1]}"
    return short


def providers_library_error(ort: Any, kind: str, load: Loader = ctypes.CDLL) -> str:
    """Why ``libonnxruntime_providers_<kind>.so`` cannot load ("" when it can), as the loader says.

    ONNX Runtime hides this error (it only logs it) and quietly uses the CPU.
    """
    module_file = getattr(ort, "__file__", None)
    if not module_file:
        return ""
    library = Path(module_file).resolve().parent / "capi" / f"libonnxruntime_providers_{kind}.so"
    if not library.is_file():
        return ""
    try:
        load(str(library))
    except OSError as exc:
        return str(exc)
    return ""


def cpu_landing_reason(ort: Any, kind: str, report: CudaReport | None,
                       load: Loader = ctypes.CDLL) -> str:
    """Why a CUDA/TensorRT session landed on the CPU: the provider library's load error,
    else the first problem in ``report``, else ""."""
    why = providers_library_error(ort, kind, load)
    if why:
        return explain_provider_error(why, report)
    problems = report.problems() if report is not None else []
    return problems[0] if problems else ""


def requirement_for(subdir: str, requirements: Sequence[str], build_cuda: str) -> str:
    """The pip requirement providing ``site-packages/nvidia/<subdir>``, from ORT's own metadata.

    onnxruntime-gpu's ``[cuda,cudnn]`` extras name most wheels with their versions
    (``nvidia-cudnn-cu12~=9.0``); cuBLAS comes in through cuDNN, so it is named by pattern.
    """
    stem = "nvidia-" + subdir.replace("_", "-")
    for requirement in requirements:
        name = _requirement_name(requirement)
        if re.sub(r"-cu\d+$", "", name) == stem:
            return requirement
    major = _major(build_cuda) or 12
    suffixed = any(re.search(r"-cu\d+$", _requirement_name(r)) for r in requirements
                   if "cudnn" not in r)
    return f"{stem}-cu{major}" if suffixed or not requirements else stem


def _library_paths(ort: Any, build_cuda: str) -> list[tuple[str, ...]]:
    # onnxruntime's own list (the one preload_dlls uses) when this version has it.
    own = getattr(ort, "_get_nvidia_dll_paths", None)
    if callable(own):
        try:
            return [tuple(p) for p in own(False, True, True)]
        except Exception:
            pass
    major = str(_major(build_cuda) or 12)
    cufft = "12" if major == "13" else "11"
    return [
        ("nvidia", "cublas", "lib", f"libcublasLt.so.{major}"),
        ("nvidia", "cublas", "lib", f"libcublas.so.{major}"),
        ("nvidia", "cuda_nvrtc", "lib", f"libnvrtc.so.{major}"),
        ("nvidia", "curand", "lib", "libcurand.so.10"),
        ("nvidia", "cufft", "lib", f"libcufft.so.{cufft}"),
        ("nvidia", "cuda_runtime", "lib", f"libcudart.so.{major}"),
        ("nvidia", "cudnn", "lib", "libcudnn.so.9"),
    ]


def _load_one(load: Loader, wheel_path: Path, file: str) -> tuple[Any, str, str]:
    """(handle, where from, error): the wheel's copy first, then the loader's search path."""
    if wheel_path.is_file():
        try:
            return load(str(wheel_path)), str(wheel_path), ""
        except OSError as exc:
            return None, "", str(exc)
    try:
        return load(file), _mapped_path(file) or "loader path", ""
    except OSError as exc:
        return None, "", str(exc)


def _mapped_path(file: str) -> str:
    # Where the dynamic loader really found it (Linux), for the report.
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                if line.rstrip().endswith("/" + file):
                    return line.split()[-1]
    except OSError:
        return ""
    return ""


def _other_majors(site: Path, parts: tuple[str, ...]) -> tuple[str, ...]:
    file = parts[-1]
    stem = file.split(".so", 1)[0]
    folder = site.joinpath(*parts[:-1]).parent.parent
    found = sorted({p.name for p in folder.glob(f"*/lib/{stem}.so.*")} - {file}) \
        if folder.is_dir() else []
    return tuple(name for name in found if re.fullmatch(rf"{re.escape(stem)}\.so\.\d+", name))


def _driver_version(load: Loader) -> tuple[str, str]:
    try:
        driver = load(DRIVER_LIBRARY)
    except OSError as exc:
        return "", str(exc)
    value = ctypes.c_int(0)
    try:
        if driver.cuDriverGetVersion(ctypes.byref(value)) != 0:
            return "", "cuDriverGetVersion failed"
    except (AttributeError, OSError) as exc:
        return "", str(exc)
    return _cuda_version(value.value), ""


def _runtime_version(cudart: Any) -> str:
    if cudart is None:
        return ""
    value = ctypes.c_int(0)
    try:
        if cudart.cudaRuntimeGetVersion(ctypes.byref(value)) != 0:
            return ""
    except (AttributeError, OSError):
        return ""
    return _cuda_version(value.value)


def _cudnn_version(cudnn: Any) -> str:
    if cudnn is None:
        return ""
    try:
        read = cudnn.cudnnGetVersion
        read.restype = ctypes.c_size_t
        number = int(read())
    except (AttributeError, OSError):
        return ""
    # cuDNN 9 encodes major * 10000 + minor * 100 + patch (8.x used major * 1000).
    if number >= 90000:
        return f"{number // 10000}.{number % 10000 // 100}.{number % 100}"
    return f"{number // 1000}.{number % 1000 // 100}.{number % 100}"


def _cuda_version(number: int) -> str:
    """CUDA's integer version (12040) as text ("12.4")."""
    return f"{number // 1000}.{number % 1000 // 10}" if number > 0 else ""


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _gpu_requirements(package: str) -> list[str]:
    """The nvidia wheels ``package``'s [cuda,cudnn] extras name, markers stripped."""
    try:
        requires = metadata.requires(package) or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for line in requires:
        spec, _, marker = line.partition(";")
        if "extra" in marker and spec.strip().startswith("nvidia-"):
            found.append(spec.strip().replace(" ", ""))
    return found


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
