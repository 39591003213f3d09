"""Emotion Overlay for OBS: start, stop and watch the emotion-overlay background process from OBS.

Load it in OBS with Tools > Scripts > "+" (OBS 28 or newer, with Python set up under the
Scripts window's "Python Settings" tab). It uses only what OBS's embedded Python has: the
obspython module and the standard library. It never draws anything itself: the
emotion-overlay process does, through OBS's WebSocket server (`emotion-overlay run --sink obs`).

What the properties panel offers:
- the emotion-overlay program (found on PATH when left empty);
- the WebSocket address the process connects back to: by default OBS's own server settings,
  read from OBS's configuration (global.ini in OBS 28-29, plugin_config/obs-websocket/
  config.json in OBS 30+), so nothing needs typing; or a host, port and password of your own.
  The password goes to the process in the OBS_WEBSOCKET_PASSWORD environment variable, never
  on its command line (where other users of the computer could read it);
- the camera to analyse (e.g. "obs:Video Capture Device", to share the camera OBS already
  owns; empty: the process's own setting), the scene to show the overlay in, which overlay
  elements show, whether the virtual camera gets the annotated video too, and any further
  `run` flags;
- Start / Stop / Pause analysis / Resume analysis buttons, which run `emotion-overlay start
  ...`, `stop`, `pause`, `resume`; a process that is already running (started from a terminal
  or at login) is simply picked up: Stop, Pause and the status line work on it as well;
- "Start with OBS" (and "Stop when OBS exits");
- a status line, refreshed every few seconds from `emotion-overlay status --json`. OBS redraws
  a script's properties only when they are opened or a button is pressed, so the line is as
  fresh as the panel; every change of status is also written to the script log.

The commands run on background threads: OBS's window never waits for the process.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import obspython as obs  # provided by OBS inside its embedded Python

SCRIPT_NAME = "Emotion Overlay"
ELEMENTS = ("label", "blinks", "captions", "bars", "delivery")
ELEMENT_TITLES = {
    "label": "Emotion label and confidence",
    "blinks": "Blink count and rate",
    "captions": "Captions",
    "bars": "Expression bars",
    "delivery": "Pace and fillers per minute",
}
OPT_IN = ("delivery",)  # off until ticked: the audience sees the scene
TIMER_MS = 1000  # shows the status line and the log lines from the background threads
STATUS_EVERY_TICKS = 5  # `status --json` takes ~0.15 s of CPU; every 5 s is ~3 % of one core
COMMAND_TIMEOUT_S = 90.0


class Controller:
    """The script's state: settings as plain values, the last status, and the command running now."""

    def __init__(self) -> None:
        self.settings: Any = None  # obs_data_t of the script, kept to write the status line into
        self.values: dict[str, Any] = {}
        self.state = ""  # the process's, from `status --json`
        self.note = ""  # the outcome of the last command, while it matters ("start failed: ...")
        self._logged_status = ""
        self._busy = threading.Lock()  # one command at a time
        self._status_busy = threading.Lock()
        self.started_here = False
        self.ticks = 0
        self._log: list[str] = []  # written by background threads, printed on OBS's thread

    @property
    def status(self) -> str:
        """The status line."""
        return "; ".join(part for part in (self.state, self.note) if part) or "not checked yet"

    @property
    def busy(self) -> bool:
        return self._busy.locked()

    # -- what to run ----------------------------------------------------------------
    def executable(self) -> str:
        chosen = str(self.values.get("executable", "")).strip()
        return chosen or shutil.which("emotion-overlay") or "emotion-overlay"

    def websocket(self) -> tuple[str, int, str, str]:
        """Host, port, password for the process, and a problem to show ("" when none)."""
        if self.values.get("use_obs_settings", True):
            port, password, enabled = read_obs_websocket_settings()
            if port is None:
                return "127.0.0.1", 4455, "", "OBS's WebSocket settings not found; untick 'Use OBS's settings'"
            problem = "" if enabled else "enable Tools > WebSocket Server Settings > Enable WebSocket server"
            return "127.0.0.1", port, password, problem
        host = str(self.values.get("host") or "127.0.0.1")
        return host, int(self.values.get("port") or 4455), str(self.values.get("password") or ""), ""

    def start_command(self) -> tuple[list[str], dict[str, str], str]:
        host, port, password, problem = self.websocket()
        command = [self.executable(), "start", "--sink", "obs"]
        if self.values.get("vcam"):
            command += ["--sink", "vcam"]
        command += ["--obs-host", host, "--obs-port", str(port)]
        elements = [e for e in ELEMENTS if self.values.get(f"show_{e}", e not in OPT_IN)]
        command += ["--obs-elements", ",".join(elements or ["label"])]
        if self.values.get("scene"):
            command += ["--obs-scene", str(self.values["scene"])]
        if self.values.get("camera"):
            command += ["--camera", str(self.values["camera"])]
        command += shlex.split(str(self.values.get("extra") or ""))
        env = dict(os.environ)
        env["OBS_WEBSOCKET_PASSWORD"] = password
        return command, env, problem

    # -- running commands off OBS's thread ------------------------------------------
    def run_in_background(self, action: str) -> None:
        if not self._busy.acquire(blocking=False):  # released by the thread when the command is done
            self.set_note("busy with the previous command")
            return
        threading.Thread(target=self._run, args=(action,), name=f"emotion-overlay-{action}", daemon=True).start()

    def _run(self, action: str) -> None:
        try:
            if action == "start":
                command, env, problem = self.start_command()
                if problem:
                    self.set_note(problem)
                    return
                self.set_note("starting...")
            else:
                command, env = [self.executable(), action], dict(os.environ)
            code, output = run_command(command, env)
            if code == 0:
                if action == "start":
                    self.started_here = True
                self._log.append(output or f"{action}: done")
                self.note = ""  # the status line is said once the new state is known, just below
            else:
                self.set_note(f"{action} failed: {output or f'exit status {code}'}")
            self.refresh_status(wait=True)
        finally:
            self._busy.release()

    def refresh_status(self, wait: bool = False) -> None:
        """Ask the process how it is (on a background thread; one question at a time, or after the one asked)."""
        if not self._status_busy.acquire(blocking=wait):
            return
        try:
            code, output = run_command([self.executable(), "status", "--json"], dict(os.environ), timeout=15.0)
            self.state = describe_status(code, output)
            self._say()
        finally:
            self._status_busy.release()

    def set_note(self, text: str) -> None:
        self.note = text
        self._say()

    def _say(self) -> None:
        """Each new status line once to the script log."""
        if self.status != self._logged_status:
            self._logged_status = self.status
            self._log.append(self.status)

    def flush_log(self) -> None:
        """Print what the background threads said; on OBS's thread, so the log names this script."""
        while self._log:
            print(f"[{SCRIPT_NAME}] {self._log.pop(0)}")  # OBS shows a script's output in its script log


def run_command(command: list[str], env: dict[str, str], timeout: float = COMMAND_TIMEOUT_S) -> tuple[int, str]:
    """Exit status and the last line it printed; a missing program or a hang become readable messages."""
    env = env | {"ORT_DISABLE_TELEMETRY": "1"}  # the app sets it too; said here for any other program
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
    except FileNotFoundError:
        return 127, f"{command[0]} not found; set the emotion-overlay program in the script's settings"
    except PermissionError:
        return 126, f"{command[0]} cannot be run (permissions)"
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(command[:2])} did not finish in {timeout:.0f} s"
    lines = [line for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
    last = lines[-1].removeprefix("emotion-overlay: ") if lines else ""
    return done.returncode, last


def describe_status(code: int, output: str) -> str:
    """One line from `status --json` output."""
    try:
        status = json.loads(output)
    except ValueError:
        return output or f"status unknown (exit status {code})"
    if not isinstance(status, dict) or not status.get("running"):
        return "not running"
    parts = [f"running (pid {status.get('pid', '?')})"]
    if status.get("paused"):
        parts.append("analysis paused")
    if status.get("output_fps") is not None:
        parts.append(f"{float(status['output_fps']):.0f} fps")
    if status.get("fused"):
        parts.append(f"showing {status['fused']}")
    return ", ".join(parts)


def obs_config_dir() -> Path:
    """OBS's own configuration folder (where global.ini lives)."""
    try:
        path = obs.os_get_config_path_ptr("obs-studio")
        if path:
            return Path(path)
    except AttributeError:
        pass
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", "")) / "obs-studio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "obs-studio"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "obs-studio"


def read_obs_websocket_settings(folder: Path | None = None) -> tuple[int | None, str, bool]:
    """Port, password and whether the server is on, from OBS 30+'s config.json or OBS 28-29's global.ini."""
    folder = folder or obs_config_dir()
    json_path = folder / "plugin_config" / "obs-websocket" / "config.json"
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
        password = str(data.get("server_password", "")) if data.get("auth_required", True) else ""
        return int(data.get("server_port", 4455)), password, bool(data.get("server_enabled", False))
    except (OSError, ValueError):
        pass
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    ini.optionxform = str  # type: ignore[assignment,method-assign]  # OBS's keys are case-sensitive
    try:
        ini.read(folder / "global.ini", encoding="utf-8-sig")
    except (OSError, configparser.Error):
        return None, "", False
    if not ini.has_section("OBSWebSocket"):
        return None, "", False
    section = ini["OBSWebSocket"]
    auth = section.get("AuthRequired", "true").lower() == "true"
    port = int(section.get("ServerPort", "4455") or 4455)
    return (
        port,
        section.get("ServerPassword", "") if auth else "",
        section.get("ServerEnabled", "false").lower() == "true",
    )


controller = Controller()


# -- OBS's script interface -------------------------------------------------------------
def script_description() -> str:
    return (
        "<b>Emotion Overlay</b><br>Runs the local emotion-overlay process, which reads face, voice and words "
        "and shows the result as sources in your scene (the nested scene 'Emotion Overlay'). Nothing leaves this "
        "computer."
    )


def script_defaults(settings: Any) -> None:
    obs.obs_data_set_default_bool(settings, "use_obs_settings", True)
    obs.obs_data_set_default_string(settings, "host", "127.0.0.1")
    obs.obs_data_set_default_int(settings, "port", 4455)
    for element in ELEMENTS:
        obs.obs_data_set_default_bool(settings, f"show_{element}", element not in OPT_IN)
    obs.obs_data_set_default_bool(settings, "stop_on_exit", True)


def script_properties() -> Any:
    props = obs.obs_properties_create()
    obs.obs_properties_add_path(props, "executable", "emotion-overlay program", obs.OBS_PATH_FILE, "", "")
    obs.obs_properties_add_bool(props, "use_obs_settings", "Use OBS's WebSocket settings")
    obs.obs_properties_add_text(props, "host", "WebSocket host", obs.OBS_TEXT_DEFAULT)
    obs.obs_properties_add_int(props, "port", "WebSocket port", 1, 65535, 1)
    obs.obs_properties_add_text(props, "password", "WebSocket password", obs.OBS_TEXT_PASSWORD)
    camera = obs.obs_properties_add_list(
        props, "camera", "Camera to analyse", obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING
    )
    obs.obs_property_list_add_string(camera, "(the process's own setting)", "")
    for name in _video_source_names():
        obs.obs_property_list_add_string(camera, f"OBS source: {name}", f"obs:{name}")
    scene = obs.obs_properties_add_list(
        props, "scene", "Show in scene", obs.OBS_COMBO_TYPE_EDITABLE, obs.OBS_COMBO_FORMAT_STRING
    )
    obs.obs_property_list_add_string(scene, "(the current program scene)", "")
    for name in _scene_names():
        obs.obs_property_list_add_string(scene, name, name)
    for element in ELEMENTS:
        obs.obs_properties_add_bool(props, f"show_{element}", f"Show: {ELEMENT_TITLES[element]}")
    obs.obs_properties_add_bool(props, "vcam", "Also send the annotated video to the virtual camera")
    obs.obs_properties_add_text(props, "extra", "More `run` flags", obs.OBS_TEXT_DEFAULT)
    obs.obs_properties_add_bool(props, "autostart", "Start with OBS")
    obs.obs_properties_add_bool(props, "stop_on_exit", "Stop when OBS exits (if started here)")
    obs.obs_properties_add_button(props, "start", "Start", on_start)
    obs.obs_properties_add_button(props, "stop", "Stop", on_stop)
    obs.obs_properties_add_button(props, "pause", "Pause analysis", on_pause)
    obs.obs_properties_add_button(props, "resume", "Resume analysis", on_resume)
    obs.obs_properties_add_text(props, "status", "Status", obs.OBS_TEXT_INFO)
    return props


def script_update(settings: Any) -> None:
    controller.settings = settings
    values: dict[str, Any] = {}
    for key in ("executable", "host", "password", "camera", "scene", "extra"):
        values[key] = obs.obs_data_get_string(settings, key)
    values["port"] = obs.obs_data_get_int(settings, "port")
    for key in ("use_obs_settings", "vcam", "autostart", "stop_on_exit", *(f"show_{e}" for e in ELEMENTS)):
        values[key] = obs.obs_data_get_bool(settings, key)
    controller.values = values


def script_load(settings: Any) -> None:
    script_update(settings)
    print(f"[{SCRIPT_NAME}] script loaded; program: {controller.executable()}")
    obs.timer_add(on_timer, TIMER_MS)
    if controller.values.get("autostart"):
        controller.run_in_background("start")
    else:
        threading.Thread(target=controller.refresh_status, name="emotion-overlay-status", daemon=True).start()


def script_unload() -> None:
    obs.timer_remove(on_timer)
    if controller.started_here and controller.values.get("stop_on_exit"):
        with contextlib.suppress(OSError):  # not waited for: OBS is closing
            subprocess.Popen([controller.executable(), "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def on_timer() -> None:
    """On OBS's thread: show the last status and log lines; every few seconds ask for a new status."""
    controller.flush_log()
    if controller.settings is not None:
        obs.obs_data_set_string(controller.settings, "status", controller.status)
    controller.ticks += 1
    if controller.ticks % STATUS_EVERY_TICKS == 0 and not controller.busy:  # a start or stop reports for itself
        threading.Thread(target=controller.refresh_status, name="emotion-overlay-status", daemon=True).start()


def _button(action: str) -> bool:
    controller.run_in_background(action)
    if controller.settings is not None:
        obs.obs_data_set_string(controller.settings, "status", controller.status)
    return True  # redraw the properties, so the status line shows


def on_start(props: Any, prop: Any) -> bool:
    return _button("start")


def on_stop(props: Any, prop: Any) -> bool:
    return _button("stop")


def on_pause(props: Any, prop: Any) -> bool:
    return _button("pause")


def on_resume(props: Any, prop: Any) -> bool:
    return _button("resume")


def _scene_names() -> list[str]:
    names: list[str] = []
    scenes = obs.obs_frontend_get_scene_names()
    if scenes:
        names = [str(name) for name in scenes if not str(name).startswith(SCRIPT_NAME)]
    return names


def _video_source_names() -> list[str]:
    names: list[str] = []
    sources = obs.obs_enum_sources()
    if sources is None:
        return names
    for source in sources:
        name = str(obs.obs_source_get_name(source))
        flags = obs.obs_source_get_output_flags(source)
        if flags & obs.OBS_SOURCE_VIDEO and not name.startswith(SCRIPT_NAME):
            names.append(name)
    obs.source_list_release(sources)
    return names
