"""One model lookup: a model added with ``models add`` works wherever a catalogue one does.

``remove``, ``providers --model``, ``tui --model`` and the adapter picker all resolve names
through ``ModelStore.resolve``; before, the last three knew only the catalogue.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from PIL import Image

import alphacut.cli as cli
from alphacut.config import Settings
from alphacut.errors import ChecksumError, ModelError
from alphacut.models.store import ModelStore, ResolvedModel


@pytest.fixture
def added_model(model_file: Path, isolated_home: Path, capsys) -> str:
    """The real u2netp file, registered under a name the catalogue does not know."""
    code = cli.main(["models", "add", str(model_file), "--as", "mine", "--family", "u2net"])
    capsys.readouterr()
    assert code == 0
    return "mine"


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    folder = tmp_path / "pictures"
    folder.mkdir()
    image = Image.new("RGB", (96, 64), (30, 140, 220))
    image.paste((240, 200, 40), (24, 16, 72, 48))
    image.save(folder / "square.png")
    return folder / "square.png"


def test_resolve_gives_spec_and_verified_path_for_both_kinds(added_model: str) -> None:
    store = ModelStore()
    resolved = store.resolve(added_model)
    assert isinstance(resolved, ResolvedModel)
    assert resolved.spec.name == "mine" and resolved.spec.family == "u2net"
    assert resolved.path == store.locate("mine") and resolved.path.name == "mine.onnx"
    with pytest.raises(ModelError, match="not downloaded"):
        store.resolve("u2netp")  # catalogue name, nothing cached in this home
    with pytest.raises(ModelError, match="unknown model 'nope'.*mine"):
        store.resolve("nope")
    resolved.path.write_bytes(b"changed")
    with pytest.raises(ChecksumError, match="no longer matches"):
        store.resolve("mine")


def test_added_model_in_remove(added_model: str, picture: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = cli.main(["remove", str(picture), "-o", str(out), "--model", added_model,
                     "--provider", "cpu", "--refine", "none", "--json"])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0, lines
    assert (out / "square.png").is_file()
    assert Image.open(out / "square.png").mode == "RGBA"


def test_added_model_in_providers(added_model: str, capsys) -> None:
    code = cli.main(["providers", "--model", added_model, "--json", "--threads", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(captured.out)
    assert payload["model"] == added_model
    rows = {row["label"]: row for row in payload["adapters"]}
    assert rows["cpu"]["probe"]["status"] == "ok", rows["cpu"]
    assert "not downloaded" not in captured.err


def test_added_model_in_tui_option(added_model: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from alphacut.tui import app as app_module

    seen: dict[str, object] = {}

    def fake_run(self: app_module.AlphacutApp) -> int:
        seen.update(model=self.settings.model, resolved=self.resolved_model())
        return 0

    monkeypatch.setattr(app_module.AlphacutApp, "run", fake_run)
    assert app_module.run_app(tmp_path, model=added_model) == 0
    assert seen["model"] == added_model
    resolved = seen["resolved"]
    assert isinstance(resolved, ResolvedModel) and resolved.spec.name == added_model


def test_added_model_in_the_adapter_picker(added_model: str, picture: Path,
                                           tmp_path: Path) -> None:
    from alphacut.tui.app import AlphacutApp
    from alphacut.tui.screens.adapter_picker import AdapterPicker

    app = AlphacutApp(
        picture.parent,
        settings=Settings(graphics="halfcell", model=added_model, provider="cpu"),
        output_dir=tmp_path / "out",
        live_stats=False,
    )

    async def scenario() -> None:
        async with app.run_test(size=(120, 36)) as pilot:
            deadline = time.monotonic() + 90
            while app.remover is None and not app.model_error:
                assert time.monotonic() < deadline
                await pilot.pause(0.05)
            assert app.model_error == ""
            assert app.remover is not None and app.remover.spec.name == added_model
            await pilot.press("p")
            assert isinstance(app.screen, AdapterPicker)
            screen = app.screen_stack[-2]
            while screen.probes is None:
                assert time.monotonic() < deadline
                await pilot.pause(0.05)
            probes = {p.label: p for p in screen.probes.probes}
            assert "not downloaded" not in screen.probes.auto_reason
            assert probes["cpu"].ok, probes

    asyncio.run(scenario())
