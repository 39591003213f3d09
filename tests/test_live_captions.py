"""`run` with Whisper in the live path, end to end: what the person says is read back off the
MP4's frames (OCR of the caption area with Debian's tesseract) and is in the session's timeline."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest

from overlay.session.reading import read_session
from tests.conftest import run_cli

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="needs Debian's tesseract-ocr (CI installs it)"
)


def read_caption_area(frame: cv2.typing.MatLike, scratch: Path) -> str:
    """OCR of the bottom third of a frame (where the compact layout draws captions), enlarged 2x."""
    bottom = frame[frame.shape[0] * 2 // 3 :]
    image = scratch / "caption.png"
    cv2.imwrite(str(image), cv2.resize(bottom, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    result = subprocess.run(
        ["tesseract", str(image), "stdout", "--psm", "6"], capture_output=True, text=True, check=True
    )
    return result.stdout


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) >= 4}


@needs_tesseract
def test_whisper_captions_appear_in_the_video_and_in_the_timeline(
    shared_data: Path, whisper_model: Path, isolated_sessions: Path, tmp_path: Path
) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"  # "My biggest weakness is asking for help when I need it..."
    out = tmp_path / "captioned.mp4"
    command = ["run", "--camera", str(clip), "--loop", "--seconds", "14", "--sink", "file", "--out", str(out)]
    result = run_cli([*command, "--recognizer", "whisper", "--layout", "compact"])
    assert result.returncode == 0, result.stderr
    session = read_session(next(isolated_sessions.glob("*.sqlite")))
    assert {u.recognizer for u in session.utterances} == {f"whisper:{whisper_model.name}"}
    said = words(" ".join(u.text for u in session.utterances))
    assert {"biggest", "asking", "help", "need"} <= said, session.utterances
    capture = cv2.VideoCapture(str(out))
    seen: set[str] = set()
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 30 == 15:  # about every 1.4 s of the 22 fps clip
            seen |= words(read_caption_area(frame, tmp_path))
        index += 1
    # What was heard was drawn: several of its words read back off the frames.
    assert len(seen & said) >= 3, (seen, said)


@needs_tesseract
def test_analyze_draws_each_word_as_it_is_spoken_not_after_the_utterance(
    shared_data: Path, whisper_model: Path, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes((shared_data / "video" / "talking" / "1.mp4").read_bytes())
    out = tmp_path / "out"
    result = run_cli(["analyze", str(clip), "--video", "--out", str(out), "--json", "--recognizer", "whisper"])
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    first = read_session(Path(row["timeline"])).utterances[0]  # "My biggest weakness is asking for help..."
    capture = cv2.VideoCapture(row["annotated_video"])
    fps = capture.get(cv2.CAP_PROP_FPS)
    seen: set[str] = set()
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok or index / fps >= first.end - 0.2:  # only frames before the utterance has ended
            break
        if index / fps > first.start + 0.8 and index % 5 == 0:
            seen |= words(read_caption_area(frame, tmp_path))
        index += 1
    assert seen & words(first.text), (seen, first.text)
