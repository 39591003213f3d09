"""Speech with known words from Debian's flite (voices slt, rms, awb), for tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asr.contract import RecognizerError

VOICES = ("slt", "rms", "awb")


def flite_available() -> bool:
    return shutil.which("flite") is not None


def synthesise(text: str, voice: str = "slt") -> npt.NDArray[np.float32]:
    """`text` spoken by flite, as 16 kHz mono float samples (flite speaks at 16 kHz, or 8 kHz for some voices)."""
    if not flite_available():
        raise RecognizerError("flite is not installed (Debian: apt-get install flite)")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, capture_output=True)
        from overlay.media.audio_file import read_audio

        return read_audio(out).samples
