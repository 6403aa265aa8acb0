"""Demo photos: read from a (test) wheel by Range requests, pinned, cached, offline-aware."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from test_models_fetch import make_wheel, server  # noqa: F401  (server is a fixture)

from alphacut.errors import ChecksumError, OfflineError
from alphacut.models.fetch import Fetcher
from alphacut.paths import AppPaths
from alphacut.samples import SAMPLES, SKIMAGE_0_26, Sample, SampleArchive, ensure_samples


def _photo(colour: tuple[int, int, int], fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, fmt)
    return buf.getvalue()


PHOTOS = {
    "skimage/data/astronaut.png": _photo((200, 40, 40), "PNG"),
    "skimage/data/coffee.png": _photo((40, 200, 40), "PNG"),
    "skimage/data/chelsea.png": _photo((40, 40, 200), "PNG"),
    "skimage/data/rocket.jpg": _photo((90, 90, 90), "JPEG"),
}


@pytest.fixture
def archive(server) -> tuple[SampleArchive, object]:  # noqa: F811
    base, served = server
    wheel = make_wheel({"skimage/__init__.py": b"", **PHOTOS, "skimage/big.bin": b"\0" * 10})
    served.files["/skimage.whl"] = wheel
    samples = tuple(
        replace(real, sha256=hashlib.sha256(PHOTOS[real.member]).hexdigest(),
                size=len(PHOTOS[real.member]))
        for real in SAMPLES
    )
    digest = hashlib.sha256(wheel).hexdigest()
    return SampleArchive(f"{base}/skimage.whl", digest, len(wheel), samples), served


FETCHER = Fetcher(timeout=10, allow_loopback_http=True)


def test_samples_are_fetched_once_and_then_served_from_cache(archive, tmp_path: Path) -> None:
    pinned, served = archive
    paths = AppPaths(tmp_path / "c", tmp_path / "g", tmp_path / "d")
    got = ensure_samples(paths, archive=pinned, fetcher=FETCHER)
    assert [p.name for p in got] == ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"]
    assert all(p.parent == paths.samples for p in got)
    assert got[3].read_bytes() == PHOTOS["skimage/data/rocket.jpg"]
    assert all(status == 206 for _, _, status, _ in served.log)
    requests = len(served.log)
    assert ensure_samples(paths, archive=pinned, fetcher=FETCHER) == got
    assert len(served.log) == requests  # nothing fetched the second time


def test_a_damaged_sample_is_fetched_again(archive, tmp_path: Path) -> None:
    pinned, served = archive
    paths = AppPaths(tmp_path / "c", tmp_path / "g", tmp_path / "d")
    coffee = ensure_samples(paths, archive=pinned, fetcher=FETCHER)[1]
    coffee.write_bytes(b"broken")
    ensure_samples(paths, archive=pinned, fetcher=FETCHER)
    assert coffee.read_bytes() == PHOTOS["skimage/data/coffee.png"]


def test_a_sample_that_does_not_match_its_pin_is_refused(archive, tmp_path: Path) -> None:
    pinned, _ = archive
    bad = replace(pinned, samples=(replace(pinned.samples[0], sha256="0" * 64),))
    paths = AppPaths(tmp_path / "c", tmp_path / "g", tmp_path / "d")
    with pytest.raises(ChecksumError):
        ensure_samples(paths, archive=bad, fetcher=FETCHER)
    assert not any(paths.samples.iterdir())


def test_offline_needs_the_cache(archive, tmp_path: Path, monkeypatch) -> None:
    pinned, served = archive
    paths = AppPaths(tmp_path / "c", tmp_path / "g", tmp_path / "d")
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    with pytest.raises(OfflineError, match="ALPHACUT_OFFLINE"):
        ensure_samples(paths, archive=pinned, fetcher=FETCHER)
    assert served.log == []
    monkeypatch.delenv("ALPHACUT_OFFLINE")
    ensure_samples(paths, archive=pinned, fetcher=FETCHER)
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    assert len(ensure_samples(paths, archive=pinned, fetcher=FETCHER)) == 4


def test_the_real_pins_are_https_and_name_their_licences() -> None:
    assert SKIMAGE_0_26.url.startswith("https://files.pythonhosted.org/")
    assert "scikit_image-0.26.0-" in SKIMAGE_0_26.url
    assert {s.filename: s.licence for s in SKIMAGE_0_26.samples} == {
        "astronaut.png": "public domain",
        "coffee.png": "CC0",
        "chelsea.png": "CC0",
        "rocket.jpg": "public domain",
    }
    assert all(isinstance(s, Sample) and len(s.sha256) == 64 for s in SKIMAGE_0_26.samples)
