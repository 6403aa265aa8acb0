"""The telemetry sampler: real process numbers, and 'unavailable' rather than guesses."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import psutil
from fake_nvml import fake_pynvml

from alphacut.accel.telemetry import TelemetrySampler, cpu_temperature


def test_sample_reports_process_and_system_memory():
    sampler = TelemetrySampler(nvidia=False)
    block = bytearray(64 * 1024 * 1024)  # make the RSS move
    block[::4096] = b"x" * len(block[::4096])
    time.sleep(0.02)
    snap = sampler.sample()
    assert snap.rss_bytes > 64 * 1024 * 1024
    assert snap.peak_rss_bytes is not None and snap.peak_rss_bytes >= snap.rss_bytes
    assert 0 < snap.system_available_bytes <= snap.system_total_bytes
    assert snap.process_cpu_percent is not None and snap.process_cpu_percent >= 0
    assert snap.unavailable["gpus"] == "NVIDIA sampling disabled"
    data = snap.as_dict()
    assert data["rss_bytes"] == snap.rss_bytes and data["gpus"] == []
    assert any(line.startswith("memory:") for line in snap.describe())
    del block


def test_no_sensor_is_reported_as_unavailable(monkeypatch):
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {}, raising=False)
    snap = TelemetrySampler(nvidia=False).sample()
    assert snap.cpu_temperature_c is None and snap.cpu_temperature_sensor == ""
    assert "no temperature sensor" in snap.unavailable["cpu_temperature_c"]
    assert "cpu temperature: unavailable" in "\n".join(snap.describe())


def test_cpu_package_temperature_is_preferred():
    entry = SimpleNamespace
    fake = SimpleNamespace(sensors_temperatures=lambda: {
        "nvme": [entry(label="Composite", current=38.0)],
        "coretemp": [entry(label="Core 0", current=51.0), entry(label="Package id 0", current=55.0),
                     entry(label="Core 1", current=57.0)],
    })
    assert cpu_temperature(fake) == (55.0, "coretemp/Package id 0", "")
    no_api = SimpleNamespace()
    value, _, why = cpu_temperature(no_api)
    assert value is None and "no temperature sensors" in why


def test_nvidia_readings_via_nvml(monkeypatch):
    def memory(handle):
        raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")

    pynvml = fake_pynvml(["NVIDIA H100"], temperature_c=61, load_percent=87, memory=memory)
    monkeypatch.setitem(sys.modules, "pynvml", pynvml)
    (gpu,) = TelemetrySampler().sample().gpus
    assert (gpu.name, gpu.temperature_c, gpu.utilisation_percent) == ("NVIDIA H100", 61.0, 87.0)
    assert gpu.memory_used_bytes is None  # not supported: unavailable, not zero


def test_missing_nvml_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    snap = TelemetrySampler().sample()
    assert snap.gpus == () and snap.unavailable["gpus"] == "nvidia-ml-py not installed"
