"""GPU telemetry next to the CPU figures: NVML readings in bench hardware and the status line.

No GPU here: a scripted NVML handle answers like one H200 that gets busier and warmer.
"""

from __future__ import annotations

import time
from itertools import count

from alphacut.accel.nvidia import NvidiaGpu
from alphacut.bench.report import HARDWARE_COLUMNS, hardware_rows
from alphacut.bench.sampler import ResourceSampler, gpu_figures, merge_usages

GIB = 1024**3


class FakeNvml:
    """Every read is busier, uses more memory and runs warmer than the last."""

    available = True
    error = ""

    def __init__(self) -> None:
        self._step = count()

    def gpus(self, *, readings: bool = True) -> list[NvidiaGpu]:
        step = min(next(self._step), 10)
        return [
            NvidiaGpu(index=0, name="NVIDIA H200", temperature_c=40.0 + step,
                      utilisation_percent=10.0 * step, memory_used_bytes=(1 + step) * GIB,
                      memory_total_bytes=141 * GIB),
            NvidiaGpu(index=1, name="NVIDIA H200", temperature_c=30.0,
                      utilisation_percent=0.0, memory_used_bytes=GIB // 2,
                      memory_total_bytes=141 * GIB),
        ]


class NoNvml:
    available = False
    error = "nvidia-ml-py not installed"


def test_sampler_keeps_the_busiest_gpu_figures():
    with ResourceSampler(interval=0.01, gpu=FakeNvml()) as sampler:
        time.sleep(0.5)
    usage = sampler.usage
    assert usage is not None
    assert usage.gpu_percent_max is not None and usage.gpu_percent_max >= 20.0
    assert usage.gpu_percent_mean is not None and 0 < usage.gpu_percent_mean < usage.gpu_percent_max
    assert usage.gpu_memory_peak_mb is not None and usage.gpu_memory_peak_mb >= 3 * 1024
    assert usage.gpu_temp_max_c is not None and usage.gpu_temp_max_c >= 42.0
    assert usage.as_dict()["gpu_temp_max_c"] == round(usage.gpu_temp_max_c, 1)


def test_without_a_gpu_every_gpu_figure_is_unknown():
    with ResourceSampler(interval=0.01, gpu=NoNvml()) as sampler:
        time.sleep(0.05)
    usage = sampler.usage
    assert usage is not None
    assert (usage.gpu_percent_max, usage.gpu_memory_peak_mb, usage.gpu_temp_max_c) == (
        None, None, None)
    assert gpu_figures([])["gpu_percent_mean"] is None


def test_figures_and_merging():
    readings = [NvidiaGpu(0, "A", 50.0, 20.0, GIB, 2 * GIB),
                NvidiaGpu(0, "A", 60.0, 80.0, 2 * GIB, 2 * GIB),
                NvidiaGpu(1, "B", 90.0, 5.0, GIB, 2 * GIB)]
    figures = gpu_figures(readings)
    # GPU 0 is the busy one; GPU 1's temperature does not leak into its figures.
    assert figures == {"gpu_percent_max": 80.0, "gpu_percent_mean": 50.0,
                       "gpu_memory_peak_mb": 2048.0, "gpu_temp_max_c": 60.0}
    with ResourceSampler(interval=0.01, gpu=FakeNvml()) as first:
        time.sleep(0.05)
    with ResourceSampler(interval=0.01, gpu=NoNvml()) as second:
        time.sleep(0.05)
    merged = merge_usages([first.usage, second.usage])
    assert merged is not None and merged.gpu_percent_max == first.usage.gpu_percent_max
    assert merged.gpu_percent_mean == first.usage.gpu_percent_mean  # unknown phases skipped
    assert merge_usages([]) is None


def test_hardware_table_shows_gpu_figures_or_na():
    base = {key: None for key, _ in HARDWARE_COLUMNS if key not in ("temperature", "gpu")}
    base |= {"adapter": "cuda:0", "temp_start_c": None, "temp_max_c": None, "temp_end_c": None,
             "errors": 0}
    gpu_column = [key for key, _ in HARDWARE_COLUMNS].index("gpu")
    with_gpu = {**base, "gpu_percent_max": 87.0, "gpu_memory_peak_mb": 3276.8,
                "gpu_temp_max_c": 61.2}
    old_saved_run = dict(base)  # written before GPU telemetry existed: no GPU keys
    rows = hardware_rows([with_gpu, old_saved_run])
    assert rows[0][gpu_column] == "87/3277/61"
    assert rows[1][gpu_column] == "n/a"


def test_gpu_text_for_status_bar_and_reports():
    gpu = NvidiaGpu(0, "NVIDIA H200", 61.0, 87.0, int(3.2 * GIB), 141 * GIB)
    assert gpu.short() == "GPU0 87% 3.2/141 GiB 61 °C"
    assert gpu.describe() == "GPU 0 NVIDIA H200: 141.0 GiB (3.2 GiB used), 61 °C, 87% busy"
    unknown = NvidiaGpu(1, "NVIDIA A2")
    assert unknown.short() == "GPU1 n/a mem n/a n/a °C"
    assert unknown.describe() == "GPU 1 NVIDIA A2"


def test_bench_hardware_runs_the_refine_it_is_given(tmp_path, monkeypatch):
    from PIL import Image

    from alphacut.accel.fake import FakeBackend
    from alphacut.bench.hardware import HardwareSettings, run_hardware_bench
    from alphacut.pipeline import remover as remover_module

    seen: list[str] = []

    class Spy(remover_module.Remover):
        def __init__(self, spec, runner, options=None, **kwargs):
            super().__init__(spec, runner, options, **kwargs)
            seen.append(self.options.refine)

    monkeypatch.setattr(remover_module, "Remover", Spy)
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"stand-in: the fake backend never reads it")
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (400, 300), (200, 40, 40)).save(photo)
    settings = HardwareSettings(images=(photo,), providers=("cpu",), runs=1, warmup=0,
                                refine="none")
    report = run_hardware_bench(settings, model_path=model, backend=FakeBackend())
    assert seen == ["none"] and report.as_dict()["settings"]["refine"] == "none"
    assert report.adapters[0].images_done == 1
