"""The user's configuration: one TOML file in their config folder, validated on load.

Every key has a default, so the file holds only what the user changes. A wrong key or
value is refused with a message naming the key and what it may be; command-line flags
override the file. The sections mirror the frozen settings records they feed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

from asr.choose import RECOGNIZERS
from overlay.errors import OverlayError
from overlay.face.detect import DETECTORS
from overlay.obs.elements import ELEMENTS
from overlay.render import LAYOUTS
from overlay.sinks.base import SINKS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

APP_NAME: Final = "emotion-overlay"
CONFIG_ENV: Final = "EMOTION_OVERLAY_CONFIG"  # another file instead of the user's (tests, several profiles)
SINK_KINDS: Final = tuple(SINKS)
OBS_ELEMENTS: Final = ELEMENTS
HIDDEN: Final = "********"  # how `config show` and session metadata write a secret that is set


class ConfigError(OverlayError):
    """The config file cannot be read or holds a key or value we do not accept."""


def _choices(*values: str) -> dict[str, Any]:
    return {"choices": values}


def _at_least(minimum: float) -> dict[str, Any]:
    return {"min": minimum}


def _between(minimum: float, maximum: float) -> dict[str, Any]:
    return {"min": minimum, "max": maximum}


def _flag(name: str, metavar: str | None = None, repeat: bool = False, choices: tuple[str, ...] = ()) -> dict[str, Any]:
    """The command-line flag of `run` and `start` that overrides this key (overlay.cli.live builds them all
    from here): `repeat` for a list given once per item, else a list is comma-separated; `choices`
    when the flag offers fewer than the file (an empty string means "unset" only there)."""
    return {"flag": {"name": name, "metavar": metavar, "repeat": repeat, "choices": choices}}


@dataclass(frozen=True)
class CameraConfig:
    device: str = field(
        default="0",
        metadata={
            "help": "camera index, (part of) its name, a video file, or a source in OBS (obs:Video Capture Device)",
            **_flag("--camera", "INDEX|NAME|FILE|obs:SOURCE"),
        },
    )
    width: int = field(  # 8K: no camera goes beyond
        default=1280, metadata={**_between(16, 7680), "help": "camera and virtual camera width", **_flag("--width")}
    )
    height: int = field(
        default=720, metadata={**_between(16, 7680), "help": "camera and virtual camera height", **_flag("--height")}
    )
    fps: int = field(default=30, metadata={**_between(1, 240), "help": "camera rate asked for", **_flag("--fps")})
    mirror: bool = field(
        default=False,
        metadata={"help": "flip the picture like a selfie view; text stays readable", **_flag("--mirror")},
    )
    field_of_view: float = field(
        default=65.0,
        metadata={
            **_between(20.0, 170.0),
            "help": "the camera's horizontal field of view in degrees (head pose; webcams: 60-78, laptops 65-70)",
        },
    )


@dataclass(frozen=True)
class AudioConfig:
    microphone: str = field(
        default="auto",
        metadata={
            "help": "sound to analyse: auto (a video file's own track, else the default microphone), default, off, "
            "index or name",
            **_flag("--mic", "auto|default|off|INDEX|NAME"),
        },
    )


@dataclass(frozen=True)
class SpeechConfig:
    """Who writes the words: the captions and the text reading come from them."""

    recognizer: str = field(
        default="auto",
        metadata={
            **_choices(*RECOGNIZERS),
            "help": "auto: an installed Vosk model, else Whisper (models pull whisper-tiny.en), else PocketSphinx",
            **_flag("--recognizer"),
        },
    )
    threads: int = field(default=1, metadata={**_between(1, 8), "help": "CPU threads of the Whisper recognizer"})


@dataclass(frozen=True)
class OutputConfig:
    sinks: tuple[str, ...] = field(
        default=("vcam",),
        metadata={
            **_choices(*SINK_KINDS),
            "help": "where the overlay goes (repeatable): "
            + "; ".join(f"{name}: {spec.help}" for name, spec in SINKS.items()),
            **_flag("--sink", repeat=True),
        },
    )
    file: str = field(
        default="emotion-overlay.mp4", metadata={"help": "MP4 path for --sink file", **_flag("--out", "PATH")}
    )
    vcam_layout: str = field(
        default="compact", metadata={**_choices(*LAYOUTS), "help": "what meetings see", **_flag("--vcam-layout")}
    )
    preview_layout: str = field(
        default="detailed", metadata={**_choices(*LAYOUTS), "help": "the preview window", **_flag("--preview-layout")}
    )
    file_layout: str = field(
        default="detailed", metadata={**_choices(*LAYOUTS), "help": "the --sink file MP4", **_flag("--file-layout")}
    )
    obs_layout: str = field(
        default="compact",
        metadata={
            **_choices(*LAYOUTS),
            "help": "OBS: compact leaves the bars out of the default elements, clean shows none",
            **_flag("--obs-layout"),
        },
    )


@dataclass(frozen=True)
class FaceConfig:
    smoothing_seconds: float = field(
        default=0.5,
        metadata={**_at_least(0.0), "help": "expression half-life; 0: off", **_flag("--smoothing", "SECONDS")},
    )
    landmarks: str = field(
        default="",
        metadata={"help": "dlib 68-point landmark file; empty: the installed one", **_flag("--landmarks", "PATH")},
    )
    detector: str = field(default="dlib", metadata={**_choices(*DETECTORS), "help": "face detector backend"})


@dataclass(frozen=True)
class OverlayConfig:
    """The overlay's layout, how sure a reading must be to be named, and which detailed elements are drawn."""

    layout: str = field(
        default="",
        metadata={
            **_choices("", *LAYOUTS),
            "help": "every output's layout; empty: [output] *_layout",
            **_flag("--layout", choices=LAYOUTS),
        },
    )
    confident_at: float = field(default=0.45, metadata={**_between(0.0, 1.0), "help": "top share to name a label"})
    lead_at: float = field(default=0.15, metadata={**_between(0.0, 1.0), "help": "and its lead over the second"})
    mixed_at: float = field(default=0.6, metadata={**_between(0.0, 1.0), "help": "top two for 'mixed: A / B'"})
    face_boxes: bool = True
    expression_bars: bool = True
    blinks: bool = True
    indicator: bool = True
    voice: bool = True
    captions: bool = True
    fused: bool = True
    delivery: bool = field(default=True, metadata={"help": "the pace and fillers line in the detailed layout"})
    compact_delivery: bool = field(
        default=False,
        metadata={
            "help": "the pace and fillers line on the compact card and in OBS's compact set (others see these)",
            **_flag("--compact-delivery"),
        },
    )
    attention: bool = field(default=True, metadata={"help": "the eye-contact cue in the detailed layout"})
    compact_attention: bool = field(
        default=False,
        metadata={
            "help": "the eye-contact cue (eye contact / looking away N s) on the compact card (others see it)",
            **_flag("--compact-attention"),
        },
    )


@dataclass(frozen=True)
class FusionConfig:
    """How the face, voice and text readings become one."""

    smoothing_seconds: float = field(default=1.0, metadata={**_at_least(0.0), "help": "half-life; 0 = none"})
    hysteresis: float = field(default=0.1, metadata={**_at_least(0.0), "help": "lead a new label needs"})


@dataclass(frozen=True)
class TimelineConfig:
    """What each session records."""

    record: bool = field(default=True, metadata={"help": "write the session's timeline"})
    thumbnails: bool = field(default=False, metadata={"help": "small face pictures about once a second"})


@dataclass(frozen=True)
class ObsConfig:
    """OBS Studio 28+ through its built-in WebSocket server (OBS: Tools > WebSocket Server Settings)."""

    host: str = field(default="127.0.0.1", metadata={"help": "where OBS runs", **_flag("--obs-host", "HOST")})
    port: int = field(
        default=4455,
        metadata={**_between(1, 65535), "help": "OBS's WebSocket server port", **_flag("--obs-port", "PORT")},
    )
    password: str = field(
        default="", metadata={"secret": True, "help": "the server password; OBS_WEBSOCKET_PASSWORD overrides it"}
    )
    scene: str = field(
        default="",
        metadata={
            "help": "scene that shows the overlay; empty: the current program scene",
            **_flag("--obs-scene", "SCENE"),
        },
    )
    elements: tuple[str, ...] = field(
        default=OBS_ELEMENTS,
        metadata={**_choices(*OBS_ELEMENTS), "help": "which OBS sources show", **_flag("--obs-elements", "LIST")},
    )
    update_hz: float = field(default=10.0, metadata={**_at_least(0.5), "help": "text updates per second"})
    image_hz: float = field(default=2.0, metadata={**_at_least(0.1), "help": "bars image reloads per second"})
    capture_width: int = field(default=640, metadata={**_at_least(16), "help": "width of frames from --camera obs:"})
    capture_fps: float = field(default=10.0, metadata={**_at_least(0.5), "help": "frames/s from --camera obs:"})


@dataclass(frozen=True)
class Config:
    camera: CameraConfig = CameraConfig()
    audio: AudioConfig = AudioConfig()
    speech: SpeechConfig = SpeechConfig()
    output: OutputConfig = OutputConfig()
    face: FaceConfig = FaceConfig()
    overlay: OverlayConfig = OverlayConfig()
    fusion: FusionConfig = FusionConfig()
    timeline: TimelineConfig = TimelineConfig()
    obs: ObsConfig = ObsConfig()

    def layout_for(self, output: str) -> str:
        """The layout an output (a SINKS name) shows: [overlay] layout when set, else [output] <output>_layout."""
        own: str = getattr(self.output, f"{output}_layout", "compact")
        return self.overlay.layout or own


def config_path() -> Path:
    """$EMOTION_OVERLAY_CONFIG, else config.toml in the platform's user config folder."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """The validated configuration; defaults when the file does not exist."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path}: is not UTF-8 text (TOML must be); save it as UTF-8, or run `emotion-overlay config reset`"
        ) from None
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot be read ({err.strerror}); fix its permissions or run `emotion-overlay config reset`"
        ) from err
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix it or run `emotion-overlay config reset`") from err
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "config") -> Config:
    """A Config from parsed TOML; `source` names the file in messages."""
    sections = typing.get_type_hints(Config)
    values: dict[str, Any] = {}
    for name, table in raw.items():
        if name not in sections:
            raise ConfigError(f"{source}: unknown section [{name}]; sections are {', '.join(sections)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of keys")
        values[name] = _parse_section(sections[name], name, table, source)
    return Config(**values)


def _parse_section(cls: Any, section: str, table: dict[str, Any], source: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"{source}: unknown key {section}.{key}; keys in [{section}] are {', '.join(fields)}")
        values[key] = _check_value(fields[key], f"{section}.{key}", value, source)
    return cls(**values)


def _check_value(spec: dataclasses.Field[Any], key: str, value: Any, source: str) -> Any:
    default = spec.default
    choices = spec.metadata.get("choices") or ()
    minimum = spec.metadata.get("min")
    maximum = spec.metadata.get("max")

    def refuse(expected: str) -> ConfigError:
        return ConfigError(f"{source + ': ' if source else ''}{key} must be {expected}, not {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise refuse("true or false")
        return value
    if isinstance(default, tuple):
        return _string_list(value, choices, refuse)
    at_least = f" >= {minimum:g}" if minimum is not None else ""
    if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
        raise refuse("a whole number" + at_least)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse("a number" + at_least)
        value = float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise refuse("a string")
    if isinstance(default, str) and choices and value not in choices:
        raise refuse("one of " + ", ".join(repr(c) for c in choices))
    if minimum is not None and value < minimum:
        raise refuse(f">= {minimum:g}" if maximum is None else f"{minimum:g} to {maximum:g}")
    if maximum is not None and value > maximum:
        raise refuse(f"{minimum:g} to {maximum:g}" if minimum is not None else f"<= {maximum:g}")
    return value


def _string_list(value: Any, choices: tuple[str, ...], refuse: Callable[[str], ConfigError]) -> tuple[str, ...]:
    """A list of strings from `choices` (one string is a list of one), without repeats."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise refuse(f"a list of strings from {', '.join(choices)}")
    if choices and any(v not in choices for v in items):
        raise refuse(f"a list of {', '.join(choices)}")
    return tuple(dict.fromkeys(items))


def flagged_keys() -> list[tuple[str, dataclasses.Field[Any]]]:
    """(section, field) of every key that has a command-line flag, in the file's order."""
    return [
        (section.name, spec)
        for section in dataclasses.fields(Config)
        for spec in dataclasses.fields(typing.get_type_hints(Config)[section.name])
        if "flag" in spec.metadata
    ]


def check_flag_value(spec: dataclasses.Field[Any], flag: str, value: Any) -> Any:
    """A flag's value checked as the file's would be (ConfigError saying what it may be)."""
    if isinstance(spec.default, tuple) and isinstance(value, str):  # "label, bars"
        value = [item.strip() for item in value.split(",") if item.strip()]
    return _check_value(spec, flag, value, "")


def to_toml(config: Config) -> str:
    """The configuration as TOML (every key, so `config show` documents what can be set).

    A secret that is set (the OBS password) is written as HIDDEN, never in clear.
    """
    lines: list[str] = []
    for section in dataclasses.fields(config):
        lines.append(f"[{section.name}]")
        for spec in dataclasses.fields(getattr(config, section.name)):
            value = getattr(getattr(config, section.name), spec.name)
            if spec.metadata.get("secret") and value:
                value = HIDDEN
            lines.append(f"{spec.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def without_secrets(settings: Any) -> Any:
    """A dataclass (e.g. Config) as plain data for JSON, every secret that is set written as HIDDEN.

    Fields marked metadata={"secret": True} are the ones hidden; session timelines store
    their settings through this, so a password never reaches a session file or an export.
    """
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return {
            spec.name: HIDDEN
            if spec.metadata.get("secret") and getattr(settings, spec.name)
            else without_secrets(getattr(settings, spec.name))
            for spec in dataclasses.fields(settings)
        }
    if isinstance(settings, tuple | list):
        return [without_secrets(item) for item in settings]
    if isinstance(settings, dict):
        return {key: without_secrets(value) for key, value in settings.items()}
    return settings
