"""The annotated MP4: H.264 where the encoder opens (MPEG-4 Part 2 otherwise, said once), and live
frames encoded off the video thread."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from overlay.media import video_encoding
from overlay.sinks.video_file import QUEUE_SECONDS, VideoFileSink


def written(path: Path) -> tuple[str, int]:
    """The video stream's codec and how many frames it decodes to."""
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name, sum(1 for _ in container.decode(video=0))


def frames(count: int) -> list[np.ndarray]:
    return [np.full((120, 161, 3), 8 * i % 256, np.uint8) for i in range(count)]


@pytest.mark.parametrize("live", [True, False])
def test_the_video_is_h264_with_every_frame(tmp_path: Path, live: bool) -> None:
    out = tmp_path / "o.mp4"
    sink = VideoFileSink(out, 161, 120, 25.0, real_time=live)
    for image in frames(10):
        sink.send(image)
        time.sleep(0.04 if live else 0)
    sink.close()
    assert written(out) == ("h264", 10)


def test_without_an_h264_encoder_mpeg4_is_written_and_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(video_encoding, "H264_ENCODER", "libx264-not-in-this-build")
    monkeypatch.setattr(video_encoding, "_told_fallback", set())
    for name in ("a.mp4", "b.mp4"):
        sink = VideoFileSink(tmp_path / name, 161, 120, 25.0)
        for image in frames(5):
            sink.send(image)
        sink.close()
        assert written(tmp_path / name) == ("mpeg4", 5)
    said = [r for r in caplog.records if "MPEG-4 Part 2" in r.getMessage()]
    assert len(said) == 1 and "libx264-not-in-this-build" in said[0].getMessage()


def test_a_slow_encoder_never_holds_up_the_video_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sink = VideoFileSink(tmp_path / "o.mp4", 161, 120, 25.0, real_time=True)
    encode = sink._encode

    def slow(image: np.ndarray, pts: int) -> None:
        time.sleep(0.03)  # a disk that stalls, a machine that is busy
        encode(image, pts)

    monkeypatch.setattr(sink, "_encode", slow)
    sent = round(3 * 25 * QUEUE_SECONDS)  # three times what the queue holds
    started = time.monotonic()
    for image in frames(sent):
        sink.send(image)
    assert time.monotonic() - started < 0.2  # queued or left out, never waited for
    sink.close()  # what was queued still goes in
    assert sink.frames_left_out > 0 and sink.frames_written + sink.frames_left_out == sent
    assert written(tmp_path / "o.mp4")[1] == sink.frames_written
    assert sum("were left out of the video" in r.getMessage() for r in caplog.records) == 1
