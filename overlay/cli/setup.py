"""Set-up commands: doctor, service, devices, config, models."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from overlay.cli.common import EXIT_FAILURE, EXIT_OK
from overlay.errors import OverlayError


def doctor_command(args: argparse.Namespace) -> int:
    """Check what the overlay needs; exit 1 when something it cannot run without is missing."""
    from overlay.cli.doctor import FAIL, run_checks

    checks = run_checks()
    if args.json:
        healthy = all(c.status != FAIL for c in checks)
        print(json.dumps({"checks": [dataclasses.asdict(c) for c in checks], "ok": healthy}))
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            print(f"{check.status.upper():<4}  {check.name:<{width}}  {check.detail}")
            if check.fix:
                print(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
    return EXIT_FAILURE if any(c.status == FAIL for c in checks) else EXIT_OK


def service_command(args: argparse.Namespace) -> int:
    """The systemd user unit that starts the overlay at login (Linux)."""
    from overlay.cli import service

    if not sys.platform.startswith("linux"):
        raise OverlayError("`service` sets up systemd on Linux; on macOS and Windows see installer/macos, /windows")
    if args.action == "status":
        print(service.status())
        return EXIT_OK
    if args.action == "install":
        result = service.install(start=not args.no_start, config=args.config)
    else:
        result = service.uninstall()
    done = "installed" if args.action == "install" else "removed"
    print(f"emotion-overlay service {done}: {result.unit}")
    if result.manual:
        print("systemd's user instance is not reachable from here; run:")
        for command in result.manual:
            print(f"  {command}")
    elif args.action == "install":
        print(f"logs: journalctl --user -u {service.UNIT_NAME}")
    return EXIT_OK


def devices_command(args: argparse.Namespace) -> int:
    from overlay.sources.camera_devices import list_cameras
    from overlay.sources.microphone_devices import list_microphones

    cameras = list_cameras()
    try:
        microphones = list_microphones()
        mic_problem = ""
    except OverlayError as err:
        microphones, mic_problem = [], str(err)
    if args.json:
        print(
            json.dumps(
                {
                    "cameras": [dataclasses.asdict(c) for c in cameras],
                    "microphones": [dataclasses.asdict(m) for m in microphones],
                    "problems": [mic_problem] if mic_problem else [],
                }
            )
        )
        return EXIT_OK
    print("Cameras (--camera INDEX or NAME):")
    for camera in cameras:
        print(f"  {camera.index:>3}  {camera.name}" + (f"  ({camera.path})" if camera.path else ""))
    if not cameras:
        print("  none found (a video file can stand in: --camera FILE.mp4)")
    print("Microphones (--mic INDEX or NAME):")
    for mic in microphones:
        default = "  [default]" if mic.is_default else ""
        details = f"{mic.host_api}, {mic.channels} ch, {mic.default_sample_rate:.0f} Hz"
        print(f"  {mic.index:>3}  {mic.name}  ({details}){default}")
    if mic_problem:
        print(f"  {mic_problem}")
    elif not microphones:
        print("  none found")
    return EXIT_OK


def config_command(args: argparse.Namespace) -> int:
    from overlay.config import Config, config_path, load_config, to_toml

    path = args.config or config_path()
    if args.action == "path":
        print(path)
    elif args.action == "show":
        print(to_toml(load_config(path)), end="")
    elif args.action == "reset":
        if path.exists():
            from overlay.files.private import make_private

            path.replace(path.with_suffix(".toml.bak"))
            make_private(path.with_suffix(".toml.bak"))  # it may hold the OBS password too
            print(f"emotion-overlay: old settings kept in {path.with_suffix('.toml.bak')}", file=sys.stderr)
        _write_config(path, to_toml(Config()))
        print(path)
    else:  # edit
        if not path.exists():
            _write_config(path, to_toml(Config()))
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ("notepad" if os.name == "nt" else "nano")
        import shlex
        import subprocess

        try:
            subprocess.run([*shlex.split(editor), str(path)], check=False)
        except FileNotFoundError:
            raise OverlayError(f"editor {editor!r} not found; set EDITOR, or edit {path} yourself") from None
        load_config(path)  # say at once if the edit broke it
        print(f"emotion-overlay: {path} is valid", file=sys.stderr)
    return EXIT_OK


def _write_config(path: Path, text: str) -> None:
    """The config is owner-only (it may hold the OBS password), in an owner-only folder."""
    from overlay.files.private import private_dir, write_private_text

    private_dir(path.parent)
    write_private_text(path, text)


def _not_in_store(name: str) -> str:
    """A model not in the store may still be on the machine: dlib's landmarks from Debian."""
    if name == "dlib-landmarks-68":
        from overlay.face.dlib import DEFAULT_LANDMARKS_PATH

        if DEFAULT_LANDMARKS_PATH.is_file():
            return f"not in the store, not needed: the app uses {DEFAULT_LANDMARKS_PATH} (Debian's libdlib-data)"
    return "not installed"


def models_command(args: argparse.Namespace) -> int:
    from overlay.models import store as model_store

    if args.action == "list":
        for spec in model_store.MANIFEST:
            where = model_store.installed_path(spec)
            state = f"installed: {where}" if where else _not_in_store(spec.name)
            pin = "" if spec.pinned else " [no pinned checksum yet]"
            print(f"{spec.name}\n    {spec.description}{pin}\n    {state}\n    licence: {spec.licence}")
        print(f"(folder: {model_store.models_dir()})")
        return EXIT_OK
    if args.action == "verify":
        names = [args.name] if args.name else [s.name for s in model_store.MANIFEST]
        problems: list[str] = []
        checked = 0
        for name in names:
            spec = model_store.find_spec(name)
            if not args.name and model_store.installed_path(spec) is None:
                continue
            problems += model_store.verify(spec)
            checked += 1
        for problem in problems:
            print(f"emotion-overlay: {problem}", file=sys.stderr)
        print(f"{checked} model(s) checked, {len(problems)} problem(s)")
        return EXIT_FAILURE if problems else EXIT_OK
    if not args.name:
        raise OverlayError(f"`models {args.action}` needs a model name; see `emotion-overlay models list`")
    spec = model_store.find_spec(args.name)
    if args.action == "remove":
        model_store.remove(spec)
        print(f"removed {spec.name}")
        return EXIT_OK
    installed = model_store.pull(
        spec, archive=args.file, trust_unpinned=args.trust_unpinned, progress=_progress_bar(spec.name)
    )
    print(file=sys.stderr)
    if not spec.pinned:
        print(
            f"emotion-overlay: {spec.name} installed UNVERIFIED; its sha256 is {installed.download_sha256}",
            file=sys.stderr,
        )
    print(installed.path)
    return EXIT_OK


def _progress_bar(name: str) -> Callable[[int, int | None], None]:
    """A one-line progress display on stderr, redrawn at most every 1 %."""
    shown = [-1]

    def show(done: int, total: int | None) -> None:
        step = int(done * 100 / total) if total else done >> 20
        if step == shown[0]:
            return
        shown[0] = step
        if total:
            bar = "#" * (step // 4)
            line = f"\r{name} [{bar:<25}] {step:3d}% {done / 1e6:7.1f}/{total / 1e6:.1f} MB"
        else:
            line = f"\r{name} {done / 1e6:7.1f} MB"
        print(line, end="", file=sys.stderr, flush=True)

    return show
