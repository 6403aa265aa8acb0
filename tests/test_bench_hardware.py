"""The hardware benchmark on tiny runs (2 images, 1 run) with the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from alphacut.accel.adapter import Adapter, ProbeResult
from alphacut.accel.backend import Discovery, RuntimeInfo
from alphacut.bench import history
from alphacut.bench.hardware import (
    HardwareSettings,
    expand_providers,
    run_hardware_bench,
)
from alphacut.bench.report import HARDWARE_COLUMNS, hardware_rows, write_csv


@pytest.fixture(scope="module")
def two_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("bench-images")
    # Two sizes so that the pipeline's resize paths both run.
    Image.new("RGB", (400, 300), (200, 40, 40)).save(folder / "a.jpg")
    img = Image.new("RGB", (1300, 900), (30, 160, 60))
    img.paste((250, 250, 250), (400, 200, 900, 700))
    img.save(folder / "b.png")
    return (folder / "a.jpg", folder / "b.png")


def _openvino_cpu_available() -> bool:
    runnable, _ = expand_providers("all")
    return "openvino:CPU" in runnable


@pytest.fixture(scope="module")
def report(two_images: tuple[Path, ...], model_file: Path):
    providers = ("cpu", "openvino:CPU") if _openvino_cpu_available() else ("cpu",)
    settings = HardwareSettings(images=two_images, providers=providers, runs=1, warmup=0)
    steps: list[tuple[int, int, str]] = []
    result = run_hardware_bench(
        settings, model_path=model_file, on_progress=lambda d, t, m: steps.append((d, t, m))
    )
    result.steps = steps  # type: ignore[attr-defined]
    return result


@pytest.mark.model
def test_each_adapter_gets_every_measurement(report) -> None:
    assert [a.label for a in report.adapters][0] == "cpu"
    for adapter in report.adapters:
        assert adapter.errors == []
        assert adapter.session_create_ms > 0 and adapter.first_inference_ms > 0
        assert len(adapter.inference_ms) == 2  # 2 images x 1 run
        assert len(adapter.end_to_end_ms) == 2
        assert len(adapter.inference_pass_s) == len(adapter.end_to_end_pass_s) == 1
        assert adapter.images_per_s > 0
        summary = adapter.summary()
        assert summary["inference_p50_ms"] <= summary["inference_p99_ms"]
        assert summary["peak_rss_mb"] > 10
        assert summary["cpu_percent"] is not None and summary["cpu_percent"] > 0
        # The end-to-end time covers decode..write, so it is never below inference alone.
        assert min(adapter.end_to_end_ms) > 0


@pytest.mark.model
def test_openvino_is_measured_and_paired_with_cpu(report) -> None:
    if not _openvino_cpu_available():
        pytest.skip("OpenVINO EP is not in this ONNX Runtime build")
    labels = [a.label for a in report.adapters]
    assert labels == ["cpu", "openvino:CPU"]
    ratio = report.end_to_end_speedup["openvino:CPU"]
    assert ratio.pairs == 1 and ratio.low == ratio.high == ratio.median > 0
    assert report.inference_speedup["openvino:CPU"].pairs == 1
    assert "openvino:CPU" in report.verdict


@pytest.mark.model
def test_report_is_json_with_environment_and_progress(report) -> None:
    data = json.loads(json.dumps(report.as_dict()))
    env = data["environment"]
    assert env["model_sha256"] and len(env["model_sha256"]) == 64
    assert env["ort_version"] and env["physical_cores"] >= 1
    assert env["threads"]["intra_op_num_threads"]
    assert "CPUExecutionProvider" in env["ort_providers"]
    assert data["settings"]["runs"] == 1
    done, total, _ = report.steps[-1]
    assert done == total


@pytest.mark.model
def test_table_rows_and_csv(report, tmp_path: Path) -> None:
    rows = hardware_rows([a.summary() for a in report.adapters])
    saved = json.loads(json.dumps(report.as_dict()))
    assert hardware_rows(saved["adapters"]) == rows  # a saved run shows the same table
    assert len(rows) == len(report.adapters)
    assert all(len(row) == len(HARDWARE_COLUMNS) for row in rows)
    path = tmp_path / "h.csv"
    write_csv(path, [a.summary() for a in report.adapters])
    lines = path.read_text().splitlines()
    assert lines[0].startswith("requested,adapter,session_create_ms")
    assert len(lines) == 1 + len(report.adapters)


@pytest.mark.model
def test_unavailable_and_repeated_adapters_are_listed_not_fatal(
    two_images, model_file: Path
) -> None:
    settings = HardwareSettings(images=two_images[:1], providers=("cpu", "cuda", "cpu"), runs=1,
                                warmup=0)
    result = run_hardware_bench(settings, model_path=model_file)
    assert [a.label for a in result.adapters] == ["cpu"]
    assert "cuda" in result.unavailable
    # The second "cpu" (as when auto picks the CPU) is measured once.
    assert "measured once" in result.unavailable["cpu"]
    assert result.inference_speedup == {}
    assert "nothing to compare" in result.verdict


def test_expand_providers_uses_discovery_and_lists_skipped() -> None:
    gpu = Adapter(provider="OpenVINOExecutionProvider", device="GPU", device_type="gpu")
    gpu = gpu.with_probe(ProbeResult(status="skipped", error="no GPU render node"))
    ov_cpu = Adapter(provider="OpenVINOExecutionProvider", device="CPU", device_type="cpu")
    discovery = Discovery(RuntimeInfo("1.0", "onnxruntime-openvino", ()), (gpu, ov_cpu))
    runnable, skipped = expand_providers("all", discovery)
    assert runnable == ("cpu", "openvino:CPU")
    assert skipped == {"openvino:GPU": "no GPU render node"}
    assert expand_providers("auto") == (("cpu", "auto"), {})
    assert expand_providers("cpu, openvino:CPU,cpu") == (("cpu", "openvino:CPU"), {})


@pytest.mark.model
def test_cli_writes_json_csv_and_saves_a_run(
    two_images, home_with_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphacut.cli import main

    folder = tmp_path / "imgs"
    folder.mkdir()
    shutil.copy(two_images[0], folder)
    code = main(["bench", "hardware", "--images", str(folder), "--providers", "cpu",
                 "--runs", "1", "--warmup", "0", "--json", str(tmp_path / "h.json"),
                 "--csv", str(tmp_path / "h.csv")])
    assert code == 0
    out = capsys.readouterr().out
    assert "p50 ms" in out and "verdict" in out
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["kind"] == "hardware" and data["adapters"][0]["adapter"] == "cpu"
    assert (tmp_path / "h.csv").read_text().count("\n") == 2
    runs = history.past_runs()
    assert len(runs) == 1 and runs[0].kind == "hardware" and "cpu" in runs[0].headline


def test_cli_rejects_bad_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alphacut.cli import main

    assert main(["bench", "hardware", "--images", str(tmp_path), "--runs", "0"]) == 1
    assert "--runs" in capsys.readouterr().err


def test_history_lists_newest_first_and_skips_broken_files(isolated_home: Path) -> None:
    first = history.save({"kind": "vs-rembg", "started": "a",
                          "speedup_alphacut_vs_rembg": {"median": 3.1}})
    second = history.save({"kind": "vs-rembg", "started": "b",
                           "speedup_alphacut_vs_rembg": {"median": 2.0}})
    (first.parent / "zzz-broken.json").write_text("{not json")
    runs = history.past_runs(kind="vs-rembg")
    assert [r.path for r in runs] == [second, first]
    assert runs[1].headline == "3.1x rembg"


def _fake_bench(tmp_path: Path, two_images, devices, cpu_run_ms: float, runs: int = 2):
    """The benchmark on the accel layer's scripted backend: exact timings, no model."""
    from alphacut.accel.fake import FakeBackend

    model = tmp_path / "fake.onnx"
    model.write_bytes(b"stand-in: the fake backend never reads it")
    backend = FakeBackend(devices=devices, cpu_run_ms=cpu_run_ms)
    steps: list[str] = []
    settings = HardwareSettings(images=two_images[:1], providers=("cpu", "cuda"), runs=runs,
                                warmup=0)
    report = run_hardware_bench(settings, model_path=model, backend=backend,
                                on_progress=lambda d, t, m: steps.append(m))
    return report, steps


def test_order_flips_every_run_and_ratios_follow_the_faster_device(
    tmp_path: Path, two_images
) -> None:
    from alphacut.accel.fake import FakeDevice

    report, steps = _fake_bench(
        tmp_path, two_images, [FakeDevice("CUDAExecutionProvider", run_ms=20)], cpu_run_ms=80
    )
    # A B, then B A: neither adapter always runs first.
    assert [s.split(":")[0] for s in steps if "inference" in s] == ["cpu", "cuda", "cuda", "cpu"]
    ratio = report.inference_speedup["cuda:0"]
    assert ratio.pairs == 2 and 2.0 < ratio.low <= ratio.high < 6.0  # about 80 / 20
    assert report.verdict.startswith("cuda:0 is faster than cpu")
    assert report.environment.ort_flavour  # the real wheel's record, not the fake's


def test_a_device_lost_mid_run_is_reported_as_an_error(tmp_path: Path, two_images) -> None:
    from alphacut.accel.fake import FakeDevice

    lost = FakeDevice("CUDAExecutionProvider", fail_on_run=2)  # run 1 is the first inference
    report, _ = _fake_bench(tmp_path, two_images, [lost], cpu_run_ms=0, runs=1)
    cuda = next(a for a in report.adapters if a.requested == "cuda")
    assert any("fallback" in e and "device lost" in e for e in cuda.errors)
    assert cuda.summary()["errors"] >= 1


def test_a_broken_image_is_a_problem_not_an_unavailable_adapter(
    tmp_path: Path, two_images
) -> None:
    from alphacut.accel.fake import FakeBackend

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    model = tmp_path / "fake.onnx"
    model.write_bytes(b"stand-in")
    settings = HardwareSettings(images=(broken, two_images[0]), providers=("cpu",), runs=1,
                                warmup=0)
    report = run_hardware_bench(settings, model_path=model, backend=FakeBackend())
    assert [a.label for a in report.adapters] == ["cpu"] and report.unavailable == {}
    assert len(report.problems) == 1 and "broken.jpg" in report.problems[0]
    cpu = report.adapters[0]
    assert len(cpu.inference_ms) == 1  # only the good image
    assert any("broken.jpg" in e for e in cpu.errors)  # the real pipeline reports it too
