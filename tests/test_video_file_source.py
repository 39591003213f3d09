"""A video file as the camera: frames, pacing, looping and bad files."""

from pathlib import Path

import numpy as np
import pytest

from overlay.errors import DataError
from overlay.sources.video_file import VideoFileSource
from tests.fakes import make_clip


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


def read_all(source: VideoFileSource, limit: int = 1000) -> list[float]:
    stamps: list[float] = []
    while len(stamps) < limit and (frame := source.read()) is not None:
        stamps.append(frame.timestamp)
    return stamps


def test_reads_every_frame_with_its_size_and_rate(tmp_path: Path) -> None:
    with VideoFileSource(make_clip(tmp_path / "a.mp4"), paced=False) as source:
        assert (source.width, source.height, source.fps) == (64, 48, 25.0)
        assert len(read_all(source)) == 20


def test_paced_playback_follows_the_file_frame_rate(tmp_path: Path) -> None:
    clock = FakeClock()
    with VideoFileSource(make_clip(tmp_path / "a.mp4"), clock=clock, sleep=clock.sleep) as source:
        stamps = read_all(source)
    assert len(stamps) == 20
    np.testing.assert_allclose(np.diff(stamps), 1 / 25.0, atol=1e-9)


def test_loop_restarts_at_the_end(tmp_path: Path) -> None:
    with VideoFileSource(make_clip(tmp_path / "a.mp4"), loop=True, paced=False) as source:
        frames = [source.read() for _ in range(50)]
    assert all(frame is not None for frame in frames)
    assert [f.index for f in frames if f is not None] == list(range(50))


def test_close_is_idempotent_and_ends_reading(tmp_path: Path) -> None:
    source = VideoFileSource(make_clip(tmp_path / "a.mp4"), paced=False)
    source.close()
    source.close()
    assert source.read() is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such video file"):
        VideoFileSource(tmp_path / "absent.mp4")


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 20000).astype(np.uint8).tobytes())
    with pytest.raises(DataError, match="not a readable video"):
        VideoFileSource(bad)


def test_truncated_file_gives_what_it_has_or_a_clear_error(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", frames=60)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    try:
        source = VideoFileSource(cut, paced=False)
    except DataError as err:
        assert str(cut) in str(err)
        return
    with source:
        assert len(read_all(source)) < 60


def test_real_talking_clip(shared_data: Path) -> None:
    clip = shared_data / "video" / "talking" / "1.mp4"
    with VideoFileSource(clip, paced=False) as source:
        first = source.read()
        assert first is not None and first.image.shape == (source.height, source.width, 3)
        assert 20 <= source.fps <= 60


def test_a_file_that_decodes_slower_than_it_plays_keeps_time_by_skipping_frames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 4K file on a slow machine: the picture must stay in time with the sound, not play in slow motion."""
    clock = FakeClock()
    delivered = []
    with VideoFileSource(make_clip(tmp_path / "a.mp4", frames=100), clock=clock, sleep=clock.sleep) as source:
        while (frame := source.read()) is not None:
            delivered.append(frame)
            clock.now += 0.1  # each frame takes 100 ms to handle: 2.5 frame times at 25 fps
        skipped = source.frames_skipped
    assert skipped > 40 and len(delivered) + skipped == 100
    for frame in delivered:  # each frame shown is about the one due now (never more than 0.25 s late)
        assert abs((frame.timestamp - delivered[0].timestamp) - frame.index / 25.0) <= 0.25 + 0.1 + 1e-9
    assert sum("frames are skipped to keep time" in r.getMessage() for r in caplog.records) == 1
