"""Faces found and followed in real clips; no face where there is none."""

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from overlay.errors import ModelError
from overlay.face.dlib import DEFAULT_LANDMARKS_PATH
from overlay.face.tracking import FaceTracker, FaceTrackingSettings
from overlay.sources.video_file import VideoFileSource

needs_landmarks = pytest.mark.skipif(
    not DEFAULT_LANDMARKS_PATH.is_file(), reason=f"{DEFAULT_LANDMARKS_PATH} absent (Debian package libdlib-data)"
)


def faces_per_frame(clip: Path, every: int = 1, limit: int = 400) -> list[int]:
    tracker = FaceTracker()
    counts = []
    with VideoFileSource(clip, paced=False) as source:
        while (frame := source.read()) is not None and frame.index < limit:
            if frame.index % every == 0:
                counts.append(len(tracker.track(frame.image)))
    return counts


@needs_landmarks
@pytest.mark.parametrize("name", ["1.mp4", "WDA_KatieHill_000.mp4", "styletalk_Obama_clip1.mp4"])
def test_face_is_found_and_held_in_talking_clips(shared_data: Path, name: str) -> None:
    counts = faces_per_frame(shared_data / "video" / "talking" / name, limit=150)
    assert np.mean([c >= 1 for c in counts]) >= 0.95, counts


@needs_landmarks
def test_cartoon_never_yields_a_face(shared_data: Path) -> None:
    assert set(faces_per_frame(shared_data / "video" / "face_presence" / "no_face.mp4")) == {0}


@needs_landmarks
@pytest.mark.parametrize(("name", "first", "last"), [("face_noface.mov", 1, 0), ("noface_face.mov", 0, 1)])
def test_face_leaving_and_entering_is_followed(shared_data: Path, name: str, first: int, last: int) -> None:
    counts = faces_per_frame(shared_data / "video" / "face_presence" / name)
    present = [c >= 1 for c in counts]
    head, tail = present[:15], present[-15:]
    assert np.mean(head) == pytest.approx(first, abs=0.2), present
    assert np.mean(tail) == pytest.approx(last, abs=0.2), present


@needs_landmarks
def test_landmarks_sit_on_the_face(shared_data: Path) -> None:
    tracker = FaceTracker()
    with VideoFileSource(shared_data / "video" / "talking" / "1.mp4", paced=False) as source:
        frame = source.read()
        assert frame is not None
        (face,) = tracker.track(frame.image)
    w = face.box[2]
    assert face.primary
    right_eye, left_eye = face.landmarks[36:42].mean(0), face.landmarks[42:48].mean(0)
    mouth = face.landmarks[48:68].mean(0)
    assert right_eye[0] < left_eye[0]  # image left to right
    assert max(right_eye[1], left_eye[1]) < mouth[1]  # eyes above the mouth
    assert 0.1 * frame.width < w < 0.9 * frame.width


def test_missing_landmark_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="libdlib-data"):
        FaceTracker(FaceTrackingSettings(landmarks_path=tmp_path / "missing.dat"))


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        FaceTrackingSettings(redetect_every=0)
    with pytest.raises(ValueError):
        FaceTrackingSettings(search_face_fraction=0.03)  # below the faces it keeps


@needs_landmarks
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_a_face_a_fifth_of_a_wide_frame_is_found_and_held_cheaply(
    shared_data: Path, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person at a normal distance from a 720p or 1080p webcam: their face spans about a
    fifth of the width (a fixed 320 px detection width once missed it on 93 % of frames)."""
    from overlay.face.dlib import DlibDetector
    from overlay.sinks.letterbox import letterbox

    detections = []
    detect = DlibDetector.detect

    def counted(self: DlibDetector, gray: npt.NDArray[np.uint8]) -> list[tuple[float, float, float]]:
        detections.append(gray.shape[1])
        return detect(self, gray)

    monkeypatch.setattr(DlibDetector, "detect", counted)
    tracker = FaceTracker()
    found: list[bool] = []
    widths: list[float] = []
    with VideoFileSource(shared_data / "video" / "talking" / "1.mp4", paced=False) as source:
        while (frame := source.read()) is not None and frame.index < 90:
            faces = tracker.track(letterbox(frame.image, *size))
            found.append(bool(faces))
            widths.extend(face.box[2] / size[0] for face in faces[:1])
    assert np.mean(found) >= 0.97, found
    assert 0.12 < float(np.median(widths)) < 0.25  # the face is small in the frame
    assert len(detections) <= 90 / 20 + 3  # followed by its landmarks, detected again every 20 frames
    assert max(detections) <= 0.7 * size[0]  # on a shrunk frame: never the full 1080p


@needs_landmarks
def test_face_is_held_when_frames_are_skipped(shared_data: Path) -> None:
    """Analysis takes the newest frame and drops stale ones, so faces move more between calls."""
    tracker = FaceTracker()
    widths = []
    with VideoFileSource(shared_data / "video" / "talking" / "WDA_KatieHill_000.mp4", paced=False) as source:
        while (frame := source.read()) is not None:
            if frame.index % 5 == 0:
                faces = tracker.track(frame.image)
                widths.append(faces[0].box[2] if faces else 0)
    median = float(np.median(widths))
    assert all(0.8 * median <= w <= 1.25 * median for w in widths), widths


def test_with_nobody_in_view_the_detector_runs_every_search_every_frames_not_every_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The full-frame search is the tracker's costly part (16 ms at 720p): with no face held it
    # runs on the first frame and then every `search_every` frames, not on each one.
    tracker = FaceTracker(FaceTrackingSettings(search_every=6))
    searches: list[int] = []
    real_detect = tracker._detect

    def counted_detect(gray: npt.NDArray[np.uint8]) -> Any:
        searches.append(1)
        return real_detect(gray)

    monkeypatch.setattr(tracker, "_detect", counted_detect)
    empty = np.zeros((360, 640, 3), np.uint8)
    for _ in range(13):
        assert tracker.track(empty) == []
    assert len(searches) == 3  # frames 1, 7 and 13
