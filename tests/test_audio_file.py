"""Reading sound from recordings: formats, resampling, timestamps, and bad files."""

from pathlib import Path

import av
import numpy as np
import pytest

from overlay.errors import DataError
from overlay.media.audio_file import NoAudioTrackError, read_audio
from tests.media import tone, write_flash_and_beep, write_wav


def test_wav_at_another_rate_in_stereo_becomes_16k_mono(tmp_path: Path) -> None:
    stereo = np.stack([tone(1.0, 48_000, 440), tone(1.0, 48_000, 440)], axis=1)
    clip = read_audio(write_wav(tmp_path / "a.wav", stereo, 48_000))
    assert clip.sample_rate == 16_000
    assert abs(len(clip.samples) - 16_000) <= 64
    spectrum = np.abs(np.fft.rfft(clip.samples[2000:14000]))
    assert abs(np.argmax(spectrum) * 16_000 / 12_000 - 440) < 5  # still a 440 Hz tone


@pytest.mark.parametrize("suffix", ["flac", "mp3"])
def test_compressed_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a.{suffix}"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac" if suffix == "flac" else "libmp3lame", rate=16_000)
        stream.layout = "mono"
        samples = tone(1.0)
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[np.newaxis], format="s16", layout="mono")
        frame.sample_rate = 16_000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    clip = read_audio(path)
    assert 0.9 < clip.duration_seconds < 1.2
    assert 0.15 < float(np.abs(clip.samples).max()) < 0.45


def test_the_sound_track_of_a_video_keeps_its_media_time(tmp_path: Path) -> None:
    clip = read_audio(write_flash_and_beep(tmp_path / "v.mp4", audio_delay=0.3, event_at=1.6))
    onset = int(np.argmax(np.abs(clip.samples) > 0.1))
    assert clip.start_seconds == pytest.approx(0.3, abs=0.03)  # the AAC encoder's priming moves it a little
    assert clip.start_seconds + onset / clip.sample_rate == pytest.approx(1.6, abs=0.005)


def test_a_talking_clip_has_speech_for_its_whole_length(shared_data: Path) -> None:
    clip = read_audio(shared_data / "video" / "talking" / "2.mp4")
    assert clip.duration_seconds == pytest.approx(5.0, abs=0.1)
    assert float(np.sqrt(np.mean(clip.samples**2))) > 0.01


def test_a_video_without_sound_says_voice_is_off(shared_data: Path, tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    with av.open(str(silent), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height = 64, 64
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(NoAudioTrackError, match="has no audio track, so voice and words are off"):
        read_audio(silent)


def test_not_media_at_all(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("this is text, not sound\n" * 50)
    with pytest.raises(DataError, match="not a readable audio or video file"):
        read_audio(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_audio(tmp_path / "absent.flac")


def test_a_truncated_file_gives_the_sound_before_the_cut(tmp_path: Path) -> None:
    whole = write_wav(tmp_path / "whole.flac", tone(3.0), subtype="PCM_16")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    clip = read_audio(cut)
    assert 0.5 < clip.duration_seconds < 2.5  # roughly the first half, nothing invented


def test_an_unsupported_sample_format_is_converted(tmp_path: Path) -> None:
    """24-bit and float WAVs are common from audio editors; they read like 16-bit ones."""
    for subtype in ("PCM_24", "FLOAT", "PCM_U8"):
        clip = read_audio(write_wav(tmp_path / f"{subtype}.wav", tone(0.5), subtype=subtype))
        assert 0.25 < float(np.abs(clip.samples).max()) < 0.35, subtype


def test_a_codec_nobody_decodes_is_one_clear_error(tmp_path: Path) -> None:
    import struct

    data = b"\x01\x02" * 16000
    fmt = struct.pack("<HHIIHH", 0x9999, 1, 16000, 32000, 2, 16)  # a WAV format tag no decoder knows
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "odd.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(DataError, match=r"cannot be decoded .* convert it to 16-bit WAV"):
        read_audio(path)
