"""Upstream models that are too big or too restricted to ship: a pinned manifest and a local cache.

`emotion-overlay models list | pull NAME | verify | remove NAME` drives it. Nothing here
runs unless the user asks: the app never downloads on its own.

- Every entry pins its URL and sha256: of the download; or, where only the unpacked file's
  hash could be pinned (dlib's .bz2), of that file; or, where only Nix users publish one
  (Vosk's lgraph zip), the Nix-archive sha256 of the unpacked folder (overlay/models/nar_hash.py).
  A download that does not match is deleted and nothing is installed.
- Downloads go to a `.part` file and resume with an HTTP Range request after an
  interruption; installation unpacks into a temporary folder beside the target and renames
  it into place, so a model folder is either complete or absent.
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
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final
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

Progress = Callable[[int, int | None], None]  # bytes so far, total bytes (None when unknown)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    url: str
    kind: str  # "zip": a folder inside a zip archive; "bz2": one bzip2-compressed file; "file": one file
    size_bytes: int | None
    sha256: str | None  # of the download
    payload_sha256: str | None = None  # of the unpacked file ("bz2" / "file")
    unpacked_nar_sha256: str | None = None  # hex; of the unpacked folder's NAR ("zip"), as Nix pins it
    licence: str = ""

    @property
    def pinned(self) -> bool:
        return bool(self.sha256 or self.payload_sha256 or self.unpacked_nar_sha256)


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
)


def find_spec(name: str, manifest: tuple[ModelSpec, ...] = MANIFEST) -> ModelSpec:
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
    """Where the model is installed (a folder for "zip", the file otherwise), or None."""
    path = (root or models_dir()) / spec.name
    if spec.kind != "zip":
        path = path / _payload_name(spec)
    return path if path.exists() else None


def _payload_name(spec: ModelSpec) -> str:
    name = Path(urlsplit(spec.url).path).name
    return name[: -len(".bz2")] if spec.kind == "bz2" and name.endswith(".bz2") else name


def download_url(spec: ModelSpec) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return spec.url
    return mirror.rstrip("/") + "/" + Path(urlsplit(spec.url).path).name


@dataclass(frozen=True)
class InstalledModel:
    path: Path  # the model folder ("zip") or file
    download_sha256: str


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
    downloaded = archive.parent == root / ".downloads"
    try:
        target = _install(spec, archive, root)
    finally:
        if downloaded:  # installed, or found damaged: either way the next try downloads afresh
            archive.unlink()
    logger.info("installed %s in %s (download sha256 %s)", spec.name, target, digest)
    return InstalledModel(target, digest)


def _download(spec: ModelSpec, folder: Path, progress: Progress | None) -> Path:
    """The whole download as a local file, resuming a `.part` left by an earlier try."""
    folder.mkdir(parents=True, exist_ok=True)
    url = download_url(spec)
    part = folder / (Path(urlsplit(url).path).name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the .part is already complete
            return part.rename(part.with_suffix(""))
        raise ModelError(f"{url}: the server answered {err.code} {err.reason}; try again later") from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ModelError(
            f"cannot download {url} ({reason}); check the connection or proxy (HTTPS_PROXY), "
            f"or fetch the file yourself and run `emotion-overlay models pull {spec.name} --file FILE`"
        ) from err
    with response:
        resumed = response.status == 206
        if have and not resumed:
            have = 0  # the server ignored Range: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else spec.size_bytes
        done = have
        try:
            with part.open("ab" if resumed else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except (OSError, urllib.error.URLError) as err:
            raise ModelError(
                f"download of {spec.name} broke off after {done / 1e6:.1f} MB ({err}); "
                "run the same command again to resume"
            ) from err
    if total is not None and done < total:
        raise ModelError(
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
        final = root / spec.name
        if final.exists():
            old = root / f".{spec.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            content.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            content.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    installed = installed_path(spec, root)
    assert installed is not None
    return installed


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
    if spec.unpacked_nar_sha256 and not problems:
        try:
            _check_unpacked_nar(spec, folder)
        except ModelError as err:
            problems.append(str(err))
    return problems


def remove(spec: ModelSpec, root: Path | None = None) -> None:
    folder = (root or models_dir()) / spec.name
    if not folder.exists():
        raise ModelError(f"{spec.name} is not installed")
    shutil.rmtree(folder)
