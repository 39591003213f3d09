"""Analysing one recording: the live pipeline's stages run on an MP4/MOV/WAV file as fast as the machine allows.

A RecordingAnalyzer loads the models once (face landmarks, the three emotion models, the
speech recognizer: a few seconds, most of it Vosk) and then analyses file after file; a
batch worker keeps one for its whole life (overlay.analysis.batch).

Per file, on the file's own clock (the container's presentation times, so the timeline lines
up with the recording, variable frame rate included):
1. the sound (when there is any) is decoded in 0.1 s blocks, as a microphone delivers them,
   and streamed through the voice stage and the speech recognizer (never held whole),
   giving voice and text estimates, and through the delivery stage (phrases, pauses: overlay.delivery);
2. every video frame goes through the face stage; before each frame, the voice and text
   estimates of what was heard up to then are handed to fusion, then the face, and the fused
   reading is drawn (with --video) and recorded. A sound-only file is fused 5 times a second.
   Unlike live, a recording's future is known: a voice window or an utterance counts from
   the moment it began (live, only once it has ended), so words colour the time they were said.
3. everything goes to a timeline in this machine's own scratch folder (the user's cache
   folder: SQLite's WAL must not live on a network file system, and the sessions folder of
   a cluster is one), moved into the sessions folder as `NAME.sqlite` only when complete
   (copied to a hidden name there, then renamed): a session that is there is whole, so an
   interrupted batch resumes by skipping the ones that are there. With --video the annotated MP4 gets the
   original sound back (overlay.media.mux).
4. with --captions, the session's utterances as SRT/WebVTT (overlay.session.captions) beside the
   recording (clip.mp4 -> clip.srt), or as NAME.srt in the --out folder; written whole (a hidden
   name, then renamed), never over the recording, an existing file only with --force. A caption
   file that cannot be written is said in the outcome; the file's analysis still counts.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from asr.contract import DecodesWhole
from overlay.errors import DataError, OverlayError
from overlay.face.stage import FaceStage, FaceStageSettings
from overlay.files.private import create_private
from overlay.fusion import FusionSettings, LiveFusion
from overlay.media.audio_file import AudioStream, NoAudioTrackError
from overlay.media.video_frames import NoVideoTrackError, VideoFrames
from overlay.records import TextEstimate, VideoFrame, VoiceEstimate
from overlay.render.draw import OverlaySettings
from overlay.render.layouts import Renderer
from overlay.render.state import captions_as_spoken, overlay_state
from overlay.session.reading import Session, read_session
from overlay.session.recorder import SessionRecorder, record_delivery
from overlay.session.store import SUFFIX, ensure_sessions_dir
from overlay.session.summary import SessionSummary, summarize
from overlay.speech.stage import RecognizerSettings

logger = logging.getLogger(__name__)

AUDIO_BLOCK_S = 0.1  # the microphone's block size
AUDIO_ONLY_FUSION_HZ = 5.0
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")
PARTIAL = ".partial"  # a session being written: not listed, not reviewed, not skipped over


@dataclass(frozen=True)
class AnalyzeSettings:
    video_out: Path | None = None  # folder for annotated MP4s; None: no video written
    timeline_folder: Path | None = None  # None: the sessions folder
    face: FaceStageSettings = field(default_factory=FaceStageSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    layout: str = "detailed"  # of the annotated video (overlay.render.LAYOUTS)
    thumbnails: bool = False
    captions: str | None = None  # "srt" or "vtt" (overlay.session.captions); None: none written
    captions_out: Path | None = None  # folder for them; None: beside each recording
    replace_captions: bool = False  # --force: an existing caption file is replaced
    speech: RecognizerSettings = field(default_factory=RecognizerSettings)


@dataclass(frozen=True)
class RecordingAnalysis:
    """One analysed file: its session's summary, the annotated video, and what it took."""

    summary: SessionSummary
    annotated_video: Path | None
    media_seconds: float  # of the recording
    analysis_seconds: float  # wall time, models already loaded
    captions: Path | None = None  # the caption file written
    captions_error: str | None = None  # why the captions asked for were not written
    video_error: str | None = None  # why the annotated video asked for was not written (the session is kept)
    warning: str | None = None  # what of the recording could not be read (damaged), when something could not


def session_path(folder: Path, name: str) -> Path:
    return folder / f"{name}{SUFFIX}"


def scratch_dir() -> Path:
    """Where this user's analyses write timelines until they are complete (local, owner-only)."""
    import platformdirs

    from overlay.files.private import private_dir

    return private_dir(Path(platformdirs.user_cache_dir("emotion-overlay", appauthor=False)) / "analysis")


def partial_path(folder: Path, name: str) -> Path:
    """NAME's timeline while this process writes it: the pid in the name, so that another
    worker can tell a dead process's leftovers (clear_stale_partials) from a live one's."""
    return folder / f"{name}.{os.getpid()}{SUFFIX}{PARTIAL}"


def clear_stale_partials(folder: Path) -> None:
    """Remove what analyses killed mid-file left in the scratch folder (their process is gone)."""
    for leftover in folder.glob(f"*{SUFFIX}{PARTIAL}*"):
        pid = leftover.name.split(SUFFIX)[0].rsplit(".", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            leftover.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(partial: Path, final: Path) -> None:
    """Put the complete timeline `partial` in place as `final`, all at once (an earlier one
    of that name is replaced whole): renamed when on the same file system, else copied to a
    hidden name beside `final` first."""
    try:
        os.replace(partial, final)
        return
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
    beside = final.with_name(f".{final.name}.{os.getpid()}{PARTIAL}")
    try:
        create_private(beside)
        shutil.copyfile(partial, beside)
        os.replace(beside, final)
    finally:
        beside.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)


class RecordingAnalyzer:
    """The stages' models, loaded once; `analyze` runs one file at a time through them."""

    def __init__(self, settings: AnalyzeSettings) -> None:
        from overlay.face.model import FaceExpressionModel
        from overlay.speech.stage import open_recognizer
        from overlay.speech.text_model import TextEmotionModel
        from overlay.voice.model import VoiceEmotionModel

        started = time.perf_counter()
        self.settings = settings
        self._scratch = scratch_dir()
        clear_stale_partials(self._scratch)
        self._face = FaceStage(settings.face, FaceExpressionModel(threads=1))
        self._voice_model = VoiceEmotionModel(threads=1)
        self._text_model = TextEmotionModel(threads=1)
        self._recognizer, self.recognizer_why = open_recognizer(settings.speech)
        if isinstance(self._recognizer, DecodesWhole):
            self._recognizer.warm_up()
        self.load_seconds = time.perf_counter() - started

    def analyze(self, path: Path, name: str, metadata: dict[str, Any] | None = None) -> RecordingAnalysis:
        """Analyse `path` into the session NAME (replacing an earlier one of that name)."""
        from overlay.session.metadata import session_metadata
        from overlay.session.timeline import TimelineWriter

        started = time.perf_counter()
        folder = ensure_sessions_dir(self.settings.timeline_folder)
        video = _open_video(path)
        audio: AudioStream | None = None
        try:
            audio = _open_audio(path, has_video=video is not None)
            described = session_metadata(
                "recording", str(path.resolve()), "the file's sound" if audio else None, self.settings
            )
            partial = partial_path(self._scratch, name)
            partial.unlink(missing_ok=True)
            writer = TimelineWriter(partial, {**described, **(metadata or {})})
            try:
                annotated, media_seconds, video_error = self._analyze_into(
                    path, video, audio, SessionRecorder(writer, self.settings.thumbnails)
                )
                warning = _damage_warning(video) if video is not None else None
            except BaseException:
                writer.close()
                partial.unlink(missing_ok=True)
                raise
            writer.close(duration_s=media_seconds)
        finally:
            for opened in (video, audio):
                if opened is not None:
                    opened.close()
        if writer.rows_lost:
            partial.unlink(missing_ok=True)
            raise OverlayError(f"{path}: {writer.rows_lost} timeline rows could not be written ({writer.failure})")
        final = session_path(folder, name)
        try:
            publish(partial, final)  # appears whole or not at all
        except OSError as err:
            partial.unlink(missing_ok=True)
            raise OverlayError(
                f"{final}: cannot put the session there ({err.strerror}); check the sessions folder"
            ) from None
        session = read_session(final)
        captions, captions_error = None, None
        if self.settings.captions is not None:
            try:
                captions = write_captions(session, path, name, self.settings)
            except OverlayError as err:  # the analysis stands; the outcome says what is missing
                captions_error = f"{path}: captions not written: {err}"
        elapsed = time.perf_counter() - started
        return RecordingAnalysis(
            summarize(session), annotated, media_seconds, elapsed, captions, captions_error, video_error, warning
        )

    def _analyze_into(
        self, path: Path, video: VideoFrames | None, audio: AudioStream | None, recorder: SessionRecorder
    ) -> tuple[Path | None, float, str | None]:
        """Sound first, then pictures; returns the annotated video (if asked for and written), the
        duration, and why the video asked for was not written (the analysis goes on without it)."""
        voice, texts = self._analyze_sound(audio, recorder)
        timed = _timed_estimates(voice, texts)
        if video is not None:
            return self._analyze_video(video, path, timed, texts, recorder)
        assert audio is not None
        _fuse_sound_only(timed, audio, recorder, self.settings.fusion)
        return None, audio.duration_seconds, None

    def _analyze_sound(
        self, audio: AudioStream | None, recorder: SessionRecorder
    ) -> tuple[list[VoiceEstimate], list[TextEstimate]]:
        """Voice and text estimates of the whole sound track, on the file's clock."""
        from overlay.delivery.stage import DeliveryStage
        from overlay.speech.stage import SpeechStage
        from overlay.voice.stage import VoiceStage

        if audio is None:
            return [], []
        self._recognizer.finish()  # whatever a failed earlier file left in the recognizer
        voice_stage = VoiceStage(model=self._voice_model)
        speech = SpeechStage(self._recognizer, self._text_model)
        delivery = DeliveryStage()
        voice: list[VoiceEstimate] = []
        texts: list[TextEstimate] = []
        for block in audio.blocks(AUDIO_BLOCK_S):
            voice += voice_stage.feed(block)
            texts += speech.feed(block).finals
            record_delivery(delivery.feed(block), recorder)
        texts += speech.finish().finals
        record_delivery(delivery.finish(), recorder)
        recorder.writer.set_meta("recognizer", speech.recognizer_name)
        for estimate in voice:
            recorder.voice(estimate)
        for text in texts:
            recorder.utterance(text)
        return voice, texts

    def _analyze_video(
        self, video: VideoFrames, path: Path, timed: Timed, texts: list[TextEstimate], recorder: SessionRecorder
    ) -> tuple[Path | None, float, str | None]:
        settings = self.settings
        self._face.reset()
        fusion = LiveFusion(settings.fusion)
        sink, video_only = _open_annotated_sink(path, video, settings)
        video_error: str | None = None
        renderer = Renderer(settings.layout, settings.overlay)
        known = 0  # voice/text estimates handed to fusion so far
        start = t = video.start_seconds
        try:
            for decoded in video:
                t = decoded.time
                frame = VideoFrame(decoded.image, t, decoded.index)
                known = _observe_until(fusion, timed, known, t)
                result = self._face.analyze(frame)
                if result.expression is not None:
                    fusion.observe("face", result.expression, t)
                recorder.face(result, frame.image)
                reading = fusion.update(t)
                recorder.fused(reading)
                if sink is not None:
                    captions = captions_as_spoken(texts, t, texts[0].recognizer if texts else "")
                    hearing = bool(timed) or bool(texts)
                    overlay = overlay_state(result, _voice_at(timed, known), captions, reading.state, t, hearing)
                    failure = _sent(sink, renderer.draw(frame.image, overlay), t - start)
                    if failure is not None:
                        video_error, sink = failure, None
        finally:
            if sink is not None:
                video_error = _closed(sink) or video_error
        recorder.looked_away(self._face.finish())  # a look away still under way ends with the video
        duration = t - start + 1 / video.fps
        if video_only is None:
            return None, duration, None
        if video_error is not None:
            video_only.unlink(missing_ok=True)
            return None, duration, f"{path}: the annotated video was not written: {video_error}"
        try:
            return _with_original_sound(video_only, path, recorder.writer.path, settings), duration, None
        except OverlayError as err:
            return None, duration, f"the annotated video was not written: {err}"


def _damage_warning(video: VideoFrames) -> str | None:
    """One line when a noticeable part of the recording's video could not be read."""
    unread = video.unread_line()
    if unread is None:
        return None
    logger.warning("%s", unread)
    return f"{unread}; the rest was analysed"


def _sent(sink: Any, image: Any, at: float) -> str | None:
    """Send a frame to the annotated video; why it failed (the sink is then closed), or None."""
    import av

    from overlay.sinks.video_file import VideoWriteError

    try:
        sink.send(image, at=at)
        return None
    except VideoWriteError as err:
        _closed(sink)  # what it can still finish; the first failure is the one to tell
        return f"the disk holding {sink.path.parent} is full" if err.disk_full else "writing it failed"
    except (OSError, ValueError, av.error.FFmpegError) as err:
        _closed(sink)
        return f"writing it failed ({err})"


def _closed(sink: Any) -> str | None:
    import av

    try:
        sink.close()
        return None
    except (OverlayError, OSError, ValueError, av.error.FFmpegError) as err:
        return f"finishing it failed ({err})"


def _open_video(path: Path) -> VideoFrames | None:
    """The file's pictures, or None for a sound-only file."""
    if path.suffix.lower() in AUDIO_SUFFIXES:
        return None
    try:
        return VideoFrames(path)
    except NoVideoTrackError:
        return None
    except DataError:
        if not path.is_file():
            raise
        return None  # perhaps sound only (or not media at all): _open_audio decides


def _open_audio(path: Path, has_video: bool) -> AudioStream | None:
    try:
        return AudioStream(path)
    except NoAudioTrackError:
        if not has_video:
            raise
        return None
    except DataError:
        if has_video:
            raise
        raise DataError(f"{path}: not a video or audio file that can be read; give MP4, MOV or WAV files") from None


Timed = list[tuple[float, str, Any, float]]  # (counts from, modality, probabilities, end of what it describes)


def _timed_estimates(voice: list[VoiceEstimate], texts: list[TextEstimate]) -> Timed:
    """Voice and text estimates by the start of what they describe; they age from its end."""
    timed = [(v.start, "voice", v.probabilities, v.end) for v in voice if v.probabilities is not None]
    timed += [(t.start, "text", t.probabilities, t.end) for t in texts]
    return sorted(timed, key=lambda item: item[0])


def _observe_until(fusion: LiveFusion, timed: Timed, known: int, t: float) -> int:
    """Hand fusion the estimates that had become known by time t; returns how many are known now."""
    while known < len(timed) and timed[known][0] <= t:
        _, modality, probabilities, end = timed[known]
        fusion.observe(modality, probabilities, end)  # fresh until `end`, then ageing
        known += 1
    return known


def _voice_at(timed: Timed, known: int) -> VoiceEstimate | None:
    """The newest voice estimate known so far (for the voice bars, while fresh)."""
    for start, modality, probabilities, end in reversed(timed[:known]):
        if modality == "voice":
            return VoiceEstimate(start, end, probabilities, 1.0)
    return None


def _open_annotated_sink(path: Path, video: VideoFrames, settings: AnalyzeSettings) -> tuple[Any, Path | None]:
    if settings.video_out is None:
        return None, None
    from overlay.sinks.video_file import VideoFileSink

    settings.video_out.mkdir(parents=True, exist_ok=True)
    # A name of its own for each file being analysed (workers run at once): created here, so
    # no other analysis can pick it.
    # Short, whatever the input's name (a long name plus a suffix may pass the file system's limit).
    descriptor, name = tempfile.mkstemp(prefix=".eo-", suffix=".video-only.mp4", dir=settings.video_out)
    os.close(descriptor)
    return VideoFileSink(Path(name), video.width, video.height, video.fps), Path(name)


ANNOTATED_SUFFIX: Final = ".annotated.mp4"
# NAME-HASH.annotated.mp4, HASH the 12 hex digits of the session name (batch.session_name).
_ANNOTATED_NAME: Final = re.compile(r"-[0-9a-f]{12}" + re.escape(ANNOTATED_SUFFIX) + "$")


def check_output_folder(folder: Path) -> None:
    """OverlayError (one line) unless annotated videos can be written in `folder` (made if missing)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".eo-", suffix=".probe", dir=folder)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as err:
        raise OverlayError(
            f"{folder}: annotated videos cannot be written there ({err.strerror}); pass another --out"
        ) from None


def annotated_video_path(folder: Path, session_file: Path) -> Path:
    """`SESSION.annotated.mp4`: named after the session, so a re-run replaces it instead of adding one."""
    name = session_file.name.removesuffix(PARTIAL).removesuffix(SUFFIX).rsplit(".", 1)[0]
    return folder / f"{name}{ANNOTATED_SUFFIX}"


def is_annotated_video(path: Path) -> bool:
    """Whether `path` is named as `analyze --video` names what it writes (never an input again)."""
    return _ANNOTATED_NAME.search(path.name) is not None


def captions_path(recording: Path, name: str, folder: Path | None, fmt: str) -> Path:
    """`clip.srt` beside `clip.mp4`, or `NAME.srt` in `folder` (named after the session, as the
    annotated videos are: two clip.mp4 of one batch cannot meet there)."""
    return recording.with_suffix(f".{fmt}") if folder is None else folder / f"{name}.{fmt}"


def write_captions(session: Session, recording: Path, name: str, settings: AnalyzeSettings) -> Path:
    """The session's captions in settings.captions' format; returns where (OverlayError: why not)."""
    from overlay.session.captions import captions_text
    from overlay.session.export import write_export

    assert settings.captions is not None
    target = captions_path(recording, name, settings.captions_out, settings.captions)
    if target.exists() and target.samefile(recording):  # e.g. a video named clip.srt: never over the input
        raise OverlayError(f"{target} is the file being analysed; pass --out to write the captions elsewhere")
    if settings.captions_out is not None:
        try:
            settings.captions_out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OverlayError(f"{settings.captions_out}: cannot make the folder ({err.strerror})") from None
    text = captions_text(session.utterances, settings.captions)
    write_export(target, text, force=settings.replace_captions, what="the captions")
    return target


def _with_original_sound(video_only: Path, original: Path, session_file: Path, settings: AnalyzeSettings) -> Path:
    from overlay.media.mux import add_sound

    assert settings.video_out is not None
    target = annotated_video_path(settings.video_out, session_file)
    try:
        if target.exists() and target.samefile(original):
            raise OverlayError(f"{target}: is the file being analysed; pass another --out")
        add_sound(video_only, original, target)  # replaces an earlier analysis's video whole
    except OverlayError as err:
        raise OverlayError(f"{original}: {err}") from None
    finally:
        video_only.unlink(missing_ok=True)
    return target


def _fuse_sound_only(timed: Timed, audio: AudioStream, recorder: SessionRecorder, settings: FusionSettings) -> None:
    fusion = LiveFusion(settings)
    known = 0
    for step in range(int(audio.duration_seconds * AUDIO_ONLY_FUSION_HZ) + 1):
        t = audio.start_seconds + step / AUDIO_ONLY_FUSION_HZ
        known = _observe_until(fusion, timed, known, t)
        recorder.fused(fusion.update(t))
