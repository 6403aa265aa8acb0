"""Architecture rules: the core never imports Textual, only accel/ touches ONNX Runtime,
and ``alphacut --help`` stays light."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import alphacut

PACKAGE = Path(alphacut.__file__).parent


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="alphacut."):
        if info.name.startswith("alphacut.tui") or info.name == "alphacut.__main__":
            continue
        names.append(info.name)
    return names


def test_core_modules_never_import_textual() -> None:
    modules = _core_modules()
    assert "alphacut.pipeline.remover" in modules and "alphacut.cli" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Textual: {out.stdout.strip()}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_accel_and_benchmarks_import_onnxruntime() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("accel", "bench"):
            continue
        if "onnxruntime" in _imports(path):
            offenders.append(str(rel))
    assert offenders == []


def test_tui_never_imports_onnxruntime() -> None:
    for path in (PACKAGE / "tui").rglob("*.py"):
        assert "onnxruntime" not in _imports(path), path


def test_no_pickle_or_eval_anywhere() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert "pickle" not in _imports(path), path
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec"), f"{path}: {node.func.id}()"


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from alphacut.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('onnxruntime', 'textual', 'numpy', 'PIL', 'rich', 'ray', 'pyarrow')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: alphacut" in out.stdout
    assert "HEAVY=\n" in out.stdout or out.stdout.rstrip().endswith("HEAVY="), out.stdout


def test_python_dash_m_and_console_script_agree() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "alphacut", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"alphacut {alphacut.__version__}"


def test_only_engines_import_ray() -> None:
    # Ray is an optional extra: everything else must work without it installed.
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "engines"
        and {"ray", "pyarrow"} & _imports(path)
    ]
    assert offenders == []
