"""obs_scripts/emotion_overlay_obs.py: it loads in a real OBS and starts the process with OBS's own
WebSocket settings; its controls (buttons, status line, flags) work.

The emotion-overlay program is stood in for by a small executable that records how it was
called and answers `status --json` like the real one, so these tests check the script's own
behaviour (what it runs, with which flags and environment, what it shows) without starting a
live pipeline; the real commands are tested in their own modules.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.obs import ObsInstance, start_obs_or_skip, wait_until

SCRIPT = REPO_ROOT / "obs_scripts" / "emotion_overlay_obs.py"

FAKE_PROGRAM = """#!/bin/sh
# Stands in for emotion-overlay: records each call (and the password it was given), answers like it.
dir=$(dirname "$0")
printf '%s\\n' "$*" >> "$dir/calls.log"
case "$1" in
  start) printf '%s' "$OBS_WEBSOCKET_PASSWORD" > "$dir/password"; touch "$dir/running"
         echo "emotion-overlay started (pid 4242); log: $dir/overlay.log";;
  stop) rm -f "$dir/running"; echo "emotion-overlay stopped (pid 4242)";;
  pause) echo "analysis paused (pid 4242)";;
  resume) echo "analysis resumed (pid 4242)";;
  status) if [ -e "$dir/running" ]; then
            echo '{"running": true, "pid": 4242, "paused": false, "output_fps": 30.0, "fused": "happy"}'
          else echo '{"running": false}'; exit 1; fi;;
esac
"""


def fake_program(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "emotion-overlay"
    program.write_text(FAKE_PROGRAM)
    program.chmod(0o755)
    return program


def calls(program: Path) -> list[str]:
    log = program.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


# ------------------------------------------------------------------ in a real OBS


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_program(tmp_path_factory.mktemp("fake-emotion-overlay"))


@pytest.fixture(scope="module")
def obs_with_script(program: Path) -> Iterator[ObsInstance]:
    settings = {"executable": str(program), "autostart": True, "show_captions": False}
    instance = start_obs_or_skip(scripts=[{"path": str(SCRIPT), "settings": settings}])
    yield instance
    instance.close()


def test_the_script_loads_in_obs_and_starts_the_process_with_obs_websocket_settings(
    obs_with_script: ObsInstance, program: Path
) -> None:
    obs = obs_with_script
    assert wait_until(lambda: "script loaded" in obs.logs(), timeout=15), obs.log_tail(30)
    assert "[Python: emotion_overlay_obs.py] [Emotion Overlay] script loaded" in obs.logs()
    assert wait_until(lambda: any(c.startswith("start") for c in calls(program)), timeout=15)
    start = next(c for c in calls(program) if c.startswith("start"))
    assert start == f"start --sink obs --obs-host 127.0.0.1 --obs-port {obs.port} --obs-elements label,blinks,bars"
    assert (program.parent / "password").read_text() == obs.password  # read from OBS's own settings
    assert obs.password not in "\n".join(calls(program))  # never on a command line
    # The status line: the script asks `status --json` every few seconds and logs each change once.
    assert wait_until(lambda: "running (pid 4242), 30 fps, showing happy" in obs.logs(), timeout=15), obs.log_tail()
    assert wait_until(lambda: calls(program).count("status --json") >= 2, timeout=15)
    assert obs.logs().count("running (pid 4242), 30 fps, showing happy") == 1
    assert "Unknown Script" not in obs.logs()  # lines from its threads are printed as its own


# ------------------------------------------------------------------ in a real OBS, with the real program


@pytest.fixture(scope="module")
def real_program_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An emotion-overlay command running this checkout, and folders of its own for its state and files."""
    home = tmp_path_factory.mktemp("real-emotion-overlay")
    program = home / "bin" / "emotion-overlay"
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO_ROOT}" exec "{sys.executable}" -m overlay "$@"\n')
    program.chmod(0o755)
    return home


def test_the_script_runs_the_real_process_which_shows_the_overlay_in_obs(real_program_home: Path) -> None:
    from overlay.obs.connection import ObsAddress, ObsConnection
    from overlay.obs.scene import SCENE, source_name
    from tests.obs import write_grey_clip

    home = real_program_home
    clip = write_grey_clip(home / "grey.mp4")
    env = {  # what OBS, its script and the process it starts see: nothing of the user's
        "EMOTION_OVERLAY_RUNTIME": str(home / "runtime"),
        "EMOTION_OVERLAY_SESSIONS": str(home / "sessions"),
        "EMOTION_OVERLAY_CONFIG": str(home / "config.toml"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    settings = {
        "executable": str(home / "bin" / "emotion-overlay"),
        "autostart": True,
        "extra": f"--camera {clip} --loop --mic off",
    }
    obs = start_obs_or_skip(scripts=[{"path": str(SCRIPT), "settings": settings}], env=env)
    try:
        assert wait_until(lambda: "running (pid" in obs.logs(), timeout=90), obs.log_tail(20)
        with ObsConnection(ObsAddress("127.0.0.1", obs.port, obs.password)) as client:

            def shown() -> bool:
                inputs = {i["inputName"] for i in client.request("GetInputList")["inputs"]}
                return source_name("label") in inputs

            assert wait_until(shown, timeout=30)
            items = client.request("GetSceneItemList", sceneName="Scene")["sceneItems"]
            assert [i["sourceName"] for i in items] == [SCENE]
    finally:
        stopped = subprocess.run(
            [sys.executable, "-m", "overlay", "stop"], env=os.environ | env, capture_output=True, text=True, timeout=60
        )
        obs.close()
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout


# ------------------------------------------------------------------ the controls, with OBS's API stood in for


class FakeData:
    """obs_data_t: values the user set over defaults."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values = dict(values or {})
        self.defaults: dict[str, Any] = {}

    def get(self, key: str, empty: Any) -> Any:
        return self.values.get(key, self.defaults.get(key, empty))


def fake_obspython(config_dir: Path) -> Any:
    obs: Any = types.ModuleType("obspython")
    obs.OBS_TEXT_DEFAULT, obs.OBS_TEXT_PASSWORD, obs.OBS_TEXT_INFO = 0, 1, 3
    obs.OBS_PATH_FILE, obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING = 0, 0, 3
    obs.OBS_SOURCE_VIDEO = 1
    obs.timers = []

    def add(kind: str) -> Callable[..., Any]:
        def adder(props: dict[str, Any], name: str, description: str, *rest: Any) -> Any:
            props[name] = {"kind": kind, "description": description, "rest": rest, "items": []}
            return props[name]

        return adder

    obs.obs_properties_create = dict
    for kind in ("path", "bool", "text", "int", "list", "button"):
        setattr(obs, f"obs_properties_add_{kind}", add(kind))
    obs.obs_property_list_add_string = lambda p, name, value: p["items"].append((name, value))
    obs.obs_data_get_string = lambda d, k: str(d.get(k, ""))
    obs.obs_data_get_int = lambda d, k: int(d.get(k, 0))
    obs.obs_data_get_bool = lambda d, k: bool(d.get(k, False))
    obs.obs_data_set_string = lambda d, k, v: d.values.__setitem__(k, v)
    for kind in ("string", "int", "bool"):
        setattr(obs, f"obs_data_set_default_{kind}", lambda d, k, v: d.defaults.__setitem__(k, v))
    obs.timer_add = lambda callback, ms: obs.timers.append((callback, ms))
    obs.timer_remove = lambda callback: None
    obs.obs_frontend_get_scene_names = lambda: ["Scene", "Interview"]
    sources = [("Webcam", 1), ("Mic/Aux", 0), ("Emotion Overlay: label", 1)]
    obs.obs_enum_sources = lambda: sources
    obs.obs_source_get_name = lambda source: source[0]
    obs.obs_source_get_output_flags = lambda source: source[1]
    obs.source_list_release = lambda listed: None
    obs.os_get_config_path_ptr = lambda name: str(config_dir / name)
    return obs


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh copy of the script, with OBS 29's configuration (global.ini) in tmp_path/obs-studio."""
    config = tmp_path / "obs-studio"
    config.mkdir()
    (config / "global.ini").write_text(
        "[General]\nFirstRun=true\n\n[OBSWebSocket]\nServerEnabled=true\nServerPort=4999\nAuthRequired=true\n"
        "ServerPassword=s3cret pass\n"
    )
    monkeypatch.setitem(sys.modules, "obspython", fake_obspython(tmp_path))
    spec = importlib.util.spec_from_file_location("emotion_overlay_obs_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module


def _load(script: Any, **values: Any) -> FakeData:
    settings = FakeData(values)
    script.script_defaults(settings)
    script.script_load(settings)
    return settings


def _press(script: Any, props: dict[str, Any], button: str) -> None:
    callback = props[button]["rest"][0]
    assert callback(props, props[button]) is True  # the panel is redrawn, showing the status line
    assert wait_until(lambda: not script.controller.busy, timeout=15)


def test_the_properties_panel(script: Any, tmp_path: Path) -> None:
    _load(script, executable=str(fake_program(tmp_path / "bin")))
    props = script.script_properties()
    for button in ("start", "stop", "pause", "resume"):
        assert props[button]["kind"] == "button"
    assert props["status"]["rest"][0] == 3  # OBS_TEXT_INFO: a read-only line
    assert props["password"]["rest"][0] == 1  # OBS_TEXT_PASSWORD: shown as dots
    assert ("OBS source: Webcam", "obs:Webcam") in props["camera"]["items"]  # video sources only, not ours
    assert [value for _, value in props["camera"]["items"]] == ["", "obs:Webcam"]
    assert [value for _, value in props["scene"]["items"]] == ["", "Scene", "Interview"]
    assert {f"show_{e}" for e in ("label", "blinks", "captions", "bars")} <= set(props)


def test_start_pause_resume_stop_and_the_status_line(script: Any, tmp_path: Path) -> None:
    program = fake_program(tmp_path / "bin")
    settings = _load(
        script,
        executable=str(program),
        show_bars=False,
        scene="Interview",
        camera="obs:Webcam",
        vcam=True,
        extra="--mic off --smoothing 1",
    )
    assert script.controller.values["show_label"] is True  # defaults apply to what the user did not set
    props = script.script_properties()
    assert wait_until(lambda: "status --json" in calls(program))  # at load: is one already running?
    assert wait_until(lambda: script.controller.status == "not running")
    _press(script, props, "start")
    assert calls(program)[-2:] == [
        "start --sink obs --sink vcam --obs-host 127.0.0.1 --obs-port 4999 --obs-elements label,blinks,captions "
        "--obs-scene Interview --camera obs:Webcam --mic off --smoothing 1",
        "status --json",
    ]
    assert (program.parent / "password").read_text() == "s3cret pass"
    assert script.controller.status == "running (pid 4242), 30 fps, showing happy"
    script.on_timer()
    assert settings.values["status"] == "running (pid 4242), 30 fps, showing happy"
    _press(script, props, "pause")
    _press(script, props, "resume")
    _press(script, props, "stop")
    assert [c for c in calls(program) if c != "status --json"][-3:] == ["pause", "resume", "stop"]
    assert script.controller.status == "not running"
    for _ in range(script.STATUS_EVERY_TICKS):  # the timer asks again every few ticks, in the background
        script.on_timer()
    assert wait_until(lambda: calls(program).count("status --json") >= 6)


def test_stop_when_obs_exits_only_what_it_started(script: Any, tmp_path: Path) -> None:
    program = fake_program(tmp_path / "bin")
    _load(script, executable=str(program))
    script.script_unload()
    assert "stop" not in calls(program)  # not started here: someone else's process keeps running
    _press(script, script.script_properties(), "start")
    script.script_unload()
    assert wait_until(lambda: "stop" in calls(program))


def test_own_websocket_address_and_problems_shown(script: Any, tmp_path: Path) -> None:
    program = fake_program(tmp_path / "bin")
    _load(script, executable=str(program), use_obs_settings=False, host="10.0.0.5", port=4460, password="pw")
    _press(script, script.script_properties(), "start")
    assert "--obs-host 10.0.0.5 --obs-port 4460" in next(c for c in calls(program) if c.startswith("start"))
    assert (program.parent / "password").read_text() == "pw"

    _load(script, executable=str(tmp_path / "absent" / "emotion-overlay"))
    _press(script, script.script_properties(), "start")
    assert "not found; set the emotion-overlay program in the script's settings" in script.controller.status


def test_obs_websocket_settings_of_obs_28_29_and_30(script: Any, tmp_path: Path) -> None:
    assert script.read_obs_websocket_settings(tmp_path / "obs-studio") == (4999, "s3cret pass", True)
    newer = tmp_path / "obs30"
    (newer / "plugin_config" / "obs-websocket").mkdir(parents=True)
    config = {"server_enabled": False, "server_port": 4466, "auth_required": True, "server_password": "x"}
    (newer / "plugin_config" / "obs-websocket" / "config.json").write_text(json.dumps(config))
    assert script.read_obs_websocket_settings(newer) == (4466, "x", False)
    assert script.read_obs_websocket_settings(tmp_path / "nothing") == (None, "", False)
    program = fake_program(tmp_path / "bin")
    (tmp_path / "obs-studio" / "global.ini").write_text("[OBSWebSocket]\nServerEnabled=false\nServerPort=4455\n")
    _load(script, executable=str(program))
    _press(script, script.script_properties(), "start")
    assert "enable Tools > WebSocket Server Settings" in script.controller.status
    assert not any(c.startswith("start") for c in calls(program))
