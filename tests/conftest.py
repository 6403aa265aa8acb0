"""Shared fixtures: the real model, real photos, and an isolated ALPHACUT_HOME per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ALPHACUT_TEST_DATA points a git worktree (which has no ../shared) at the shared photos.
SHARED_DATA = Path(os.environ.get("ALPHACUT_TEST_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def model_file() -> Path:
    """The verified u2netp.onnx from the user's cache, fetched like a user would if missing.

    Session fixtures are set up before the per-test ALPHACUT_HOME below, so this sees the
    real cache. Without network and without a cached model the model tests are skipped.
    """
    from alphacut.errors import ModelError
    from alphacut.models.store import ModelStore

    store = ModelStore()
    try:
        return store.locate("u2netp")
    except ModelError:
        pass
    try:
        return store.ensure("u2netp")
    except ModelError as exc:
        pytest.skip(f"u2netp is not cached and cannot be fetched: {exc}")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own empty ALPHACUT_HOME, so no test touches the real cache/config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ALPHACUT_HOME", str(home))
    monkeypatch.delenv("ALPHACUT_OFFLINE", raising=False)
    return home


def _with_default_model(home: Path, model_file: Path) -> Path:
    """``home`` as an ALPHACUT_HOME whose cache holds a copy of the verified default model."""
    models = home / "cache" / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, models / "u2netp.onnx")
    return home


@pytest.fixture
def home_with_model(isolated_home: Path, model_file: Path) -> Path:
    """An isolated ALPHACUT_HOME whose cache holds a copy of the verified default model."""
    return _with_default_model(isolated_home, model_file)


@pytest.fixture(scope="module")
def module_home_with_model(tmp_path_factory: pytest.TempPathFactory, model_file: Path) -> Path:
    """One ALPHACUT_HOME with the default model for a module's processes (a terminal, a cluster)."""
    return _with_default_model(tmp_path_factory.mktemp("model-home"), model_file)


@pytest.fixture(scope="session")
def remover(model_file: Path):
    """One CPU Remover for the whole session (sessions are created once and reused)."""
    from alphacut.pipeline.remover import Remover

    return Remover.open("u2netp", provider="cpu", model_path=model_file)


@pytest.fixture(scope="session")
def ecssd_dir() -> Path:
    path = SHARED_DATA / "ecssd-dev"
    if not (path / "images").is_dir():
        pytest.skip("../shared/data/ecssd-dev is not present")
    return path


@pytest.fixture(scope="session")
def matting_dir() -> Path:
    path = SHARED_DATA / "matting-dev"
    if not (path / "images").is_dir():
        pytest.skip("../shared/data/matting-dev is not present")
    return path


@pytest.fixture(scope="session")
def photo_sources() -> list[Path]:
    """Real photos: the demo samples if cached, else ecssd-dev images (read-only originals)."""
    from alphacut.paths import AppPaths

    samples = AppPaths.from_env().samples
    found = sorted(p for p in samples.glob("*") if p.suffix.lower() in (".png", ".jpg"))
    if found:
        return found
    return sorted((SHARED_DATA / "ecssd-dev" / "images").glob("*.jpg"))[:4]


@pytest.fixture
def photos(tmp_path: Path, photo_sources: list[Path]) -> Iterator[list[Path]]:
    """A fresh folder with copies of up to four real photos."""
    if not photo_sources:
        pytest.skip("no real photos: run 'alphacut demo --headless' or provide ../shared/data")
    folder = tmp_path / "photos"
    folder.mkdir()
    copies = []
    for src in photo_sources:
        dst = folder / src.name
        shutil.copyfile(src, dst)
        copies.append(dst)
    yield copies


@pytest.fixture
def photo(photos: list[Path]) -> Path:
    """One real photo (a copy in a temp folder)."""
    return photos[0]
