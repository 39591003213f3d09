"""`emotion-overlay models`: download, verify and install against a local HTTP server (no network)."""

import bz2
import hashlib
import io
import stat
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from overlay.errors import ModelError
from overlay.models import store as model_store
from overlay.models.nar_hash import nar_sha256
from overlay.models.store import ModelSpec
from tests.conftest import run_cli


@dataclass
class FileServer:
    """Serves `files` on 127.0.0.1 with HTTP Range support; can cut a response short once."""

    files: dict[str, bytes]
    cut_after: int | None = None  # bytes sent before the connection drops (next request only)
    ranges_seen: list[str | None] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer(files={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            requested = self.headers.get("Range")
            state.ranges_seen.append(requested)
            start = int(requested.split("=")[1].rstrip("-")) if requested else 0
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206 if requested else 200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            payload = body[start:]
            if state.cut_after is not None:
                payload, state.cut_after = payload[: state.cut_after], None
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def model_zip(top: str = "vosk-model-test") -> bytes:
    """A made-up model archive laid out like Vosk's: one top folder with am/, conf/, graph/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst"):
            archive.writestr(f"{top}/{name}", (name * 2000).encode())
    return buffer.getvalue()


def zip_spec(server: FileServer, body: bytes, sha256: str | None = None) -> ModelSpec:
    server.files["vosk-model-test.zip"] = body
    return ModelSpec(
        name="vosk-model-test",
        description="test",
        url=f"{server.url}/vosk-model-test.zip",
        kind="zip",
        size_bytes=len(body),
        sha256=sha256 or hashlib.sha256(body).hexdigest(),
    )


def test_pull_installs_a_verified_model(server: FileServer, tmp_path: Path) -> None:
    spec = zip_spec(server, model_zip())
    seen: list[tuple[int, int | None]] = []
    installed = model_store.pull(spec, root=tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert installed.path == tmp_path / "vosk-model-test"
    assert (installed.path / "am" / "final.mdl").is_file()
    assert seen[-1] == (len(server.files["vosk-model-test.zip"]),) * 2  # progress reached 100 %
    assert model_store.verify(spec, tmp_path) == []
    assert not list((tmp_path / ".downloads").iterdir())  # nothing left behind


def test_a_wrong_checksum_installs_nothing(server: FileServer, tmp_path: Path) -> None:
    spec = zip_spec(server, model_zip(), sha256="0" * 64)
    with pytest.raises(ModelError, match="is not the pinned"):
        model_store.pull(spec, root=tmp_path)
    assert not (tmp_path / "vosk-model-test").exists()
    assert not list((tmp_path / ".downloads").iterdir())


def test_a_corrupt_archive_with_the_right_checksum_installs_nothing(server: FileServer, tmp_path: Path) -> None:
    body = b"PK\x03\x04 this is not really a zip" * 100
    spec = zip_spec(server, body)
    with pytest.raises(ModelError, match="not a valid zip archive"):
        model_store.pull(spec, root=tmp_path)
    assert not (tmp_path / "vosk-model-test").exists()
    assert [p.name for p in tmp_path.iterdir()] == [".downloads"]  # no half-unpacked folder


def test_an_interrupted_download_resumes_where_it_stopped(server: FileServer, tmp_path: Path) -> None:
    body = model_zip()
    spec = zip_spec(server, body)
    server.cut_after = len(body) // 3
    with pytest.raises(ModelError, match=r"broke off .* run the same command again to resume"):
        model_store.pull(spec, root=tmp_path)
    assert not (tmp_path / "vosk-model-test").exists()
    installed = model_store.pull(spec, root=tmp_path)
    assert server.ranges_seen == [None, f"bytes={len(body) // 3}-"]  # the second request asked for the rest
    assert model_store.verify(spec, tmp_path) == [] and installed.path.is_dir()


def test_a_single_compressed_file_is_checked_after_unpacking(server: FileServer, tmp_path: Path) -> None:
    payload = b"landmark model bytes" * 5000
    server.files["shape.dat.bz2"] = bz2.compress(payload)
    spec = ModelSpec(
        "landmarks-test", "t", f"{server.url}/shape.dat.bz2", "bz2", None, None, hashlib.sha256(payload).hexdigest()
    )
    installed = model_store.pull(spec, root=tmp_path)
    assert installed.path == tmp_path / "landmarks-test" / "shape.dat"
    assert installed.path.read_bytes() == payload
    assert model_store.installed_path(spec, tmp_path) == installed.path

    bad = ModelSpec("landmarks-test", "t", spec.url, "bz2", None, None, "f" * 64)
    with pytest.raises(ModelError, match="unpacked file's sha256"):
        model_store.pull(bad, root=tmp_path / "other")


def test_verify_notices_a_damaged_install_and_remove_deletes_it(server: FileServer, tmp_path: Path) -> None:
    spec = zip_spec(server, model_zip())
    installed = model_store.pull(spec, root=tmp_path)
    (installed.path / "graph" / "HCLr.fst").write_bytes(b"damaged")
    assert model_store.verify(spec, tmp_path) == ["vosk-model-test: graph/HCLr.fst has changed since it was installed"]
    model_store.remove(spec, tmp_path)
    assert model_store.installed_path(spec, tmp_path) is None
    with pytest.raises(ModelError, match="not installed"):
        model_store.verify(spec, tmp_path)


def test_unpinned_models_need_explicit_trust(server: FileServer, tmp_path: Path) -> None:
    spec = zip_spec(server, model_zip())
    unpinned = ModelSpec(spec.name, "t", spec.url, "zip", None, None)
    with pytest.raises(ModelError, match="--trust-unpinned"):
        model_store.pull(unpinned, root=tmp_path)
    assert model_store.pull(unpinned, root=tmp_path, trust_unpinned=True).download_sha256 == spec.sha256


def test_cli_pull_through_a_mirror_refuses_made_up_bytes_for_the_real_entries(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real manifest entries, served by the local 'mirror' with made-up bytes: refused, nothing installed."""
    server.files["vosk-model-small-en-us-0.15.zip"] = model_zip("vosk-model-small-en-us-0.15")
    server.files["vosk-model-en-us-0.22-lgraph.zip"] = model_zip("vosk-model-en-us-0.22-lgraph")
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path))
    monkeypatch.setenv("EMOTION_OVERLAY_MODEL_MIRROR", server.url)
    result = run_cli(["models", "pull", "vosk-model-small-en-us-0.15"])
    assert result.returncode == 1
    assert "is not the pinned 30f26242c4eb" in result.stderr and "Traceback" not in result.stderr

    # lgraph is pinned by its unpacked folder (Nix's fetchzip hash, 1dl9sf36... in Nix's base-32).
    result = run_cli(["models", "pull", "vosk-model-en-us-0.22-lgraph"])
    assert result.returncode == 1, result.stderr
    assert "unpacked folder's sha256 (Nix archive)" in result.stderr
    assert "is not the pinned 19585e7e5470" in result.stderr
    assert "Traceback" not in result.stderr
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    assert "installed: " not in run_cli(["models", "list"]).stdout


def test_cli_list_verify_remove_an_installed_model(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = model_store.find_spec("vosk-model-small-en-us-0.15")
    body = model_zip(real.name)
    server.files["small.zip"] = body
    stand_in = replace(real, url=f"{server.url}/small.zip", sha256=hashlib.sha256(body).hexdigest())
    installed = model_store.pull(stand_in, root=tmp_path)  # installed under the real entry's name
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path))

    assert f"installed: {installed.path}" in run_cli(["models", "list"]).stdout
    assert run_cli(["models", "verify"]).stdout.startswith("1 model(s) checked, 0 problem(s)")
    (installed.path / "am" / "final.mdl").write_bytes(b"changed")
    result = run_cli(["models", "verify"])
    assert result.returncode == 1 and "am/final.mdl has changed since it was installed" in result.stderr
    assert run_cli(["models", "remove", real.name]).returncode == 0
    assert "installed: " not in run_cli(["models", "list"]).stdout


TREE_FILES = {"am/final.mdl": (b"weights" * 1000, 0o644), "run.sh": (b"#!/bin/sh\necho hi\n", 0o755)}


def unix_zip(files: dict[str, tuple[bytes, int]], top: str = "tree-model") -> bytes:
    """A zip made on Unix: each entry carries its permission bits, as `zip` records them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(f"{top}/{name}")
            info.create_system, info.external_attr = 3, (stat.S_IFREG | mode) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def tree_pinned_spec(server: FileServer, tmp_path: Path) -> ModelSpec:
    """A zip pinned only by its unpacked folder's Nix-archive hash, with an executable file in it."""
    files = TREE_FILES
    expected = tmp_path / "expected"  # the same tree laid out by hand, as `unzip` would leave it
    for name, (data, mode) in files.items():
        (expected / name).parent.mkdir(parents=True, exist_ok=True)
        (expected / name).write_bytes(data)
        (expected / name).chmod(mode)
    server.files["tree-model.zip"] = unix_zip(files)
    return ModelSpec(
        "tree-model", "t", f"{server.url}/tree-model.zip", "zip", None, None, unpacked_nar_sha256=nar_sha256(expected)
    )


def test_a_zip_pinned_by_its_unpacked_folder_installs_with_its_executable_bits(
    server: FileServer, tmp_path: Path
) -> None:
    spec = tree_pinned_spec(server, tmp_path)
    assert spec.pinned
    installed = model_store.pull(spec, root=tmp_path / "store")
    assert (installed.path / "run.sh").stat().st_mode & stat.S_IXUSR
    assert model_store.verify(spec, tmp_path / "store") == []


def test_a_zip_whose_unpacked_folder_differs_from_the_pin_installs_nothing(server: FileServer, tmp_path: Path) -> None:
    spec = tree_pinned_spec(server, tmp_path)
    altered = {"am/final.mdl": TREE_FILES["am/final.mdl"], "run.sh": (b"#!/bin/sh\nrm -rf ~\n", 0o755)}
    not_executable = {**TREE_FILES, "run.sh": (TREE_FILES["run.sh"][0], 0o644)}
    for served in (altered, not_executable):
        server.files["tree-model.zip"] = unix_zip(served)
        with pytest.raises(ModelError, match="unpacked folder's sha256"):
            model_store.pull(spec, root=tmp_path / "store")
    assert [p.name for p in (tmp_path / "store").iterdir()] == [".downloads"]
    assert not list((tmp_path / "store" / ".downloads").iterdir())


def test_cli_offline_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path))
    monkeypatch.setenv("EMOTION_OVERLAY_MODEL_MIRROR", "http://127.0.0.1:9")  # nothing listens on the discard port
    result = run_cli(["models", "pull", "dlib-landmarks-68"])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot download" in lines[0] and "--file FILE" in lines[0]


def test_face_tracking_finds_landmarks_pulled_into_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from overlay.face import dlib as dlib_backend

    monkeypatch.setattr(dlib_backend, "DEFAULT_LANDMARKS_PATH", tmp_path / "no-debian-copy.dat")
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path / "store"))
    pulled = tmp_path / "store" / "dlib-landmarks-68" / "shape_predictor_68_face_landmarks.dat"
    pulled.parent.mkdir(parents=True)
    pulled.write_bytes(b"x")
    assert dlib_backend.default_landmarks_path() == pulled
