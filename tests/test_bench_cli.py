"""The ``alphacut bench`` command tree: its sub-commands, extensibility and light imports."""

from __future__ import annotations

import argparse
import subprocess
import sys
import types

import pytest

from alphacut.commands import bench as bench_command


def test_bench_lists_its_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    from alphacut.cli import main

    assert main(["bench"]) == 2
    out = capsys.readouterr().out
    for name in ("hardware", "quality", "vs-rembg"):
        assert name in out


def test_a_new_bench_module_registers_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("alphacut.bench.example_command_for_test")

    def register(sub) -> None:
        p = sub.add_parser("example", help="a benchmark added by one line")
        p.set_defaults(func=lambda args: 7)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(bench_command, "BENCH_MODULES",
                        (*bench_command.BENCH_MODULES, module.__name__))
    parser = argparse.ArgumentParser()
    bench_command.register(parser.add_subparsers())
    args = parser.parse_args(["bench", "example"])
    assert args.func(args) == 7


def test_bench_command_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, alphacut.cli as c; c.build_parser(); "
        "heavy = [m for m in ('numpy', 'onnxruntime', 'PIL', 'textual', 'py_sod_metrics', "
        "'plotext', 'rich', 'ray', 'pyarrow') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_vs_rembg_without_rembg_says_how_to_get_it(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from alphacut.cli import main

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("ALPHACUT_REMBG", raising=False)
    assert main(["bench", "vs-rembg", "--images", str(tmp_path), "--no-save"]) == 1
    assert "ALPHACUT_REMBG" in capsys.readouterr().err
