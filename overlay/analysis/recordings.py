"""Analysing recordings: the live pipeline's stages run on an MP4/MOV/WAV file as fast as the machine allows.

Per file, on the file's own clock (its presentation times, so the timeline lines up with
the recording):
1. the sound (when there is any) goes through the voice stage and the speech recognizer
   in 0.1 s blocks, exactly as a microphone's would, giving voice and text estimates;
2. every video frame goes through the face stage; before each frame, the voice and text
   estimates of what was heard up to then are handed to fusion, then the face, and the fused
   reading is drawn (with --video) and recorded. A sound-only file is fused 5 times a second.
   Unlike live, a recording's future is known: a voice window or an utterance counts from
   the moment it began (live, only once it has ended), so words colour the time they were said.
3. everything is written to a new session timeline; with --video the annotated MP4 gets
   the original sound back (overlay.media.mux).

Several files run in parallel processes, one per core (each stage uses one thread).
A file that cannot be analysed gives its one-line error and the others go on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overlay.errors import DataError, OverlayError
from overlay.face.stage import FaceStage, FaceStageSettings
from overlay.fusion import FusionSettings, LiveFusion
from overlay.media.audio_file import AudioClip, NoAudioTrackError, read_audio
from overlay.records import AudioBlock, TextEstimate, VideoFrame, VoiceEstimate
from overlay.render.draw import Captions, OverlaySettings, OverlayState
from overlay.render.layouts import Renderer
from overlay.runtime.pipeline import CAPTION_FRESH_S, CAPTION_LINES, VOICE_FRESH_S
from overlay.session.reading import read_session
from overlay.session.recorder import SessionRecorder
from overlay.session.summary import SessionSummary, summarize
from overlay.session.timeline import TimelineWriter
from overlay.sources.video_file import VideoFileSource

logger = logging.getLogger(__name__)

AUDIO_BLOCK_S = 0.1  # the microphone's block size
AUDIO_ONLY_FUSION_HZ = 5.0
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")

Progress = Callable[[Path, float], None]  # file, fraction done in [0, 1]


@dataclass(frozen=True)
class AnalyzeSettings:
    video_out: Path | None = None  # folder for annotated MP4s; None: no video written
    timeline_folder: Path | None = None  # None: the sessions folder
    face: FaceStageSettings = field(default_factory=FaceStageSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    layout: str = "detailed"  # of the annotated video (overlay.render.LAYOUTS)
    thumbnails: bool = False


@dataclass(frozen=True)
class AnalysisOutcome:
    path: Path
    summary: SessionSummary | None
    annotated_video: Path | None = None
    error: str | None = None


def analyze_files(
    paths: Sequence[Path], settings: AnalyzeSettings, jobs: int | None = None, progress: Progress | None = None
) -> list[AnalysisOutcome]:
    """Analyse each file; in parallel processes when there are several files and cores."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1:
        return [_analyze_or_error(path, settings, progress) for path in paths]
    context = multiprocessing.get_context("spawn")  # no forked copies of the parent's threads
    with context.Manager() as manager:
        updates: Any = manager.Queue()
        relay = threading.Thread(target=_relay_progress, args=(updates, progress), name="analyze-progress")
        relay.start()
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                futures = [pool.submit(_analyze_in_worker, path, settings, updates) for path in paths]
                return [future.result() for future in futures]
        finally:
            updates.put(None)
            relay.join()


def _relay_progress(updates: Any, progress: Progress | None) -> None:
    while True:
        try:
            item = updates.get(timeout=0.5)
        except queue.Empty:
            continue
        if item is None:
            return
        if progress is not None:
            progress(*item)


def _analyze_in_worker(path: Path, settings: AnalyzeSettings, updates: Any) -> AnalysisOutcome:
    return _analyze_or_error(path, settings, lambda p, done: updates.put((p, done)))


def _analyze_or_error(path: Path, settings: AnalyzeSettings, progress: Progress | None) -> AnalysisOutcome:
    try:
        return analyze_file(path, settings, progress)
    except OverlayError as err:
        return AnalysisOutcome(path, None, error=str(err))


def analyze_file(path: Path, settings: AnalyzeSettings, progress: Progress | None = None) -> AnalysisOutcome:
    """Analyse one recording into a new timeline (and, if asked, an annotated MP4)."""
    from overlay.session.metadata import session_metadata
    from overlay.session.store import start_new_session

    report: Progress = progress or (lambda _path, _done: None)
    video = _open_video(path)
    try:
        audio = read_audio(path)
    except NoAudioTrackError:
        if video is None:
            raise
        audio = None
    except DataError:
        if video is not None:
            raise
        raise DataError(f"{path}: not a video or audio file that can be read; give MP4, MOV or WAV files") from None
    # A fresh, dated file name: an earlier analysis of the same file is never overwritten.
    metadata = session_metadata("recording", str(path.resolve()), "the file's sound" if audio else None, settings)
    writer: TimelineWriter = start_new_session(path.stem, metadata, folder=settings.timeline_folder)
    timeline_path = writer.path
    recorder = SessionRecorder(writer, settings.thumbnails)
    annotated: Path | None = None
    duration: float | None = None
    try:
        audio_share = 0.3 if video is not None else 1.0
        voice, texts, recognizer = _analyze_sound(audio, lambda done: report(path, audio_share * done))
        if recognizer:
            writer.set_meta("recognizer", recognizer)
        for estimate in voice:
            recorder.voice(estimate)
        for text in texts:
            recorder.utterance(text)
        timed = _timed_estimates(voice, texts)
        if video is not None:
            rest = 1 - audio_share
            annotated, duration = _analyze_video(
                video, path, timed, texts, recorder, settings, lambda done: report(path, audio_share + rest * done)
            )
        else:
            assert audio is not None
            duration = audio.duration_seconds
            _fuse_sound_only(timed, audio, recorder, settings.fusion)
        report(path, 1.0)
    finally:
        if video is not None:
            video.close()
        writer.close(duration_s=duration)
    session = read_session(timeline_path)
    return AnalysisOutcome(path, summarize(session), annotated)


def _open_video(path: Path) -> VideoFileSource | None:
    """The file's pictures, or None for a sound-only file."""
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return None
    try:
        return VideoFileSource(path, paced=False)
    except DataError:
        if not path.is_file():
            raise
        return None  # perhaps sound only; read_audio decides


def _analyze_sound(
    audio: AudioClip | None, report: Callable[[float], None]
) -> tuple[list[VoiceEstimate], list[TextEstimate], str]:
    """Voice and text estimates of the whole sound track, on the file's clock."""
    if audio is None:
        return [], [], ""
    from overlay.speech.stage import SpeechStage, open_recognizer
    from overlay.voice.stage import VoiceStage

    voice_stage = VoiceStage()
    speech = SpeechStage(open_recognizer())
    voice: list[VoiceEstimate] = []
    texts: list[TextEstimate] = []
    block = round(AUDIO_BLOCK_S * audio.sample_rate)
    total = len(audio.samples)
    for start in range(0, total, block):
        chunk = AudioBlock(audio.samples[start : start + block], audio.start_seconds + start / audio.sample_rate)
        voice += voice_stage.feed(chunk)
        texts += speech.feed(chunk).finals
        if start % (block * 50) == 0:
            report(start / total)
    texts += speech.finish().finals
    report(1.0)
    return voice, texts, speech.recognizer_name


Timed = list[tuple[float, str, Any, float]]  # (counts from, modality, probabilities, end of what it describes)


def _timed_estimates(voice: list[VoiceEstimate], texts: list[TextEstimate]) -> Timed:
    """Voice and text estimates by the start of what they describe; they age from its end."""
    timed = [(v.start, "voice", v.probabilities, v.end) for v in voice if v.probabilities is not None]
    timed += [(t.start, "text", t.probabilities, t.end) for t in texts]
    return sorted(timed, key=lambda item: item[0])


def _analyze_video(
    video: VideoFileSource,
    path: Path,
    timed: Timed,
    texts: list[TextEstimate],
    recorder: SessionRecorder,
    settings: AnalyzeSettings,
    report: Callable[[float], None],
) -> tuple[Path | None, float]:
    from overlay.sources.video_file import video_start_seconds

    stage = FaceStage(settings.face)
    fusion = LiveFusion(settings.fusion)
    start = video_start_seconds(path)
    frames_total = video.duration_seconds * video.fps
    sink, video_only = _open_annotated_sink(path, video, settings)
    renderer = Renderer(settings.layout, settings.overlay)
    known = 0  # voice/text estimates handed to fusion so far
    t = start
    try:
        while (decoded := video.read()) is not None:
            t = start + decoded.index / video.fps
            frame = VideoFrame(decoded.image, t, decoded.index)
            known = _observe_until(fusion, timed, known, t)
            result = stage.analyze(frame)
            if result.expression is not None:
                fusion.observe("face", result.expression, t)
            recorder.face(result, frame.image)
            reading = fusion.update(t)
            recorder.fused(reading)
            if sink is not None:
                said = tuple(x.text for x in texts if x.end <= t and t - x.end < CAPTION_FRESH_S)[-CAPTION_LINES:]
                overlay = OverlayState(
                    faces=result.faces,
                    expression=result.expression,
                    blink=result.blink,
                    voice=_voice_at(timed, known, t),
                    voice_enabled=bool(timed) or bool(texts),
                    captions=Captions(said, "", texts[0].recognizer if texts else ""),
                    fused=reading.state,
                )
                sink.send(renderer.draw(frame.image, overlay))
            if frame.index % 30 == 0 and 0 < frames_total < float("inf"):
                report(min(1.0, frame.index / frames_total))
    finally:
        if sink is not None:
            sink.close()
    duration = t - start + 1 / video.fps
    if video_only is None:
        return None, duration
    return _with_original_sound(video_only, path, settings), duration


def _observe_until(fusion: LiveFusion, timed: Timed, known: int, t: float) -> int:
    """Hand fusion the estimates that had become known by time t; returns how many are known now."""
    while known < len(timed) and timed[known][0] <= t:
        _, modality, probabilities, end = timed[known]
        fusion.observe(modality, probabilities, end)  # fresh until `end`, then ageing
        known += 1
    return known


def _voice_at(timed: Timed, known: int, t: float) -> VoiceEstimate | None:
    """The newest voice estimate known at t, while fresh (for the voice bars)."""

    for start, modality, probabilities, end in reversed(timed[:known]):
        if modality == "voice":
            return VoiceEstimate(start, end, probabilities, 1.0) if t - end <= VOICE_FRESH_S else None
    return None


def _open_annotated_sink(path: Path, video: VideoFileSource, settings: AnalyzeSettings) -> tuple[Any, Path | None]:
    if settings.video_out is None:
        return None, None
    import tempfile

    from overlay.sinks.video_file import VideoFileSink

    settings.video_out.mkdir(parents=True, exist_ok=True)
    # A name of its own for each file being analysed (two inputs may share a stem, and
    # --jobs runs them at once): created here, so no other analysis can pick it.
    descriptor, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".video-only.mp4", dir=settings.video_out)
    os.close(descriptor)
    return VideoFileSink(Path(name), video.width, video.height, video.fps), Path(name)


def _reserve_output(folder: Path, stem: str) -> Path:
    """A new `STEM.annotated[-N].mp4` in folder, created empty so that no parallel analysis takes it too."""
    counter = 1
    while True:
        target = folder / (f"{stem}.annotated.mp4" if counter == 1 else f"{stem}.annotated-{counter}.mp4")
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return target
        except FileExistsError:  # never overwrite an earlier result
            counter += 1


def _with_original_sound(video_only: Path, original: Path, settings: AnalyzeSettings) -> Path:
    from overlay.media.mux import add_sound

    assert settings.video_out is not None
    target = _reserve_output(settings.video_out, original.stem)
    try:
        add_sound(video_only, original, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        video_only.unlink(missing_ok=True)
    return target


def _fuse_sound_only(timed: Timed, audio: AudioClip, recorder: SessionRecorder, settings: FusionSettings) -> None:
    fusion = LiveFusion(settings)
    known = 0
    for step in range(int(audio.duration_seconds * AUDIO_ONLY_FUSION_HZ) + 1):
        t = audio.start_seconds + step / AUDIO_ONLY_FUSION_HZ
        known = _observe_until(fusion, timed, known, t)
        recorder.fused(fusion.update(t))
