"""Which microphones exist, and choosing one by index or by (part of) its name, via PortAudio."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from overlay.errors import DataError
from overlay.sources.device_names import pick_by_name


@dataclass(frozen=True)
class MicrophoneDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_sample_rate: float
    is_default: bool


def sounddevice_module() -> ModuleType:
    """sounddevice, or a DataError saying how to install PortAudio when the library is missing."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises OSError when libportaudio is absent
        raise DataError(
            f"PortAudio is missing ({err}); install it (Debian/Ubuntu: sudo apt-get install libportaudio2)"
        ) from err
    return typing.cast(ModuleType, sounddevice)


def list_microphones() -> list[MicrophoneDevice]:
    sd = sounddevice_module()
    try:
        devices: list[dict[str, Any]] = list(sd.query_devices())
        apis = [api["name"] for api in sd.query_hostapis()]
        default_input = sd.default.device[0]
    except sd.PortAudioError as err:
        raise DataError(
            f"cannot list audio devices ({err}); is an audio server (PulseAudio, PipeWire) running?"
        ) from err
    return [
        MicrophoneDevice(
            index=i,
            name=str(d["name"]),
            host_api=apis[d["hostapi"]] if d["hostapi"] < len(apis) else "",
            channels=int(d["max_input_channels"]),
            default_sample_rate=float(d["default_samplerate"]),
            is_default=i == default_input,
        )
        for i, d in enumerate(devices)
        if d["max_input_channels"] > 0
    ]


def resolve_microphone(spec: str | None, microphones: list[MicrophoneDevice] | None = None) -> int | None:
    """The device index for `spec` (index, or part of a name); None means the system default."""
    if spec is None or spec.strip() in ("", "default"):
        return None
    if spec.strip().isdigit():
        return int(spec)
    microphones = list_microphones() if microphones is None else microphones
    return pick_by_name(spec, [(m.index, m.name) for m in microphones], "microphone")
