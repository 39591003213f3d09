"""Where the parts are built and wired together: one function for each way the app runs.

build_live() is `run` (and the process `start` launches): the camera, the sound, the
outputs, the stages and the session file, wired into one LivePipeline. analyze_settings()
is `analyze`: the same stages' settings for recordings. The command line (overlay.cli) only
parses, calls these and prints; nothing here prints.

Order matters when a live run is built: the face stage is built first, so that a missing
or broken model fails before any device opens; then the camera, the sound and the outputs
(a failure closes what was opened); the speech child last, so a broken recognizer model
is reported before the first frame.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overlay.errors import OverlayError
from overlay.sinks.base import SINKS, FrameSink, SinkContext, StateSink, open_sink
from overlay.sources.base import AudioSource, FrameSource, SourceContext, open_audio, open_camera

if TYPE_CHECKING:
    from overlay.analysis.recordings import AnalyzeSettings
    from overlay.config import Config
    from overlay.face.stage import FaceStageSettings
    from overlay.fusion import FusionSettings
    from overlay.records import Event
    from overlay.runtime.pipeline import LivePipeline
    from overlay.runtime.stages import StageSpec
    from overlay.session.timeline import TimelineWriter
    from overlay.sinks.video_file import VideoFileSink
    from overlay.speech.stage import RecognizerSettings

logger = logging.getLogger(__name__)


def check_output_file(config: Config, force: bool) -> None:
    """`--sink file` never overwrites its own input, nor an existing file unless --force."""
    if "file" not in config.output.sinks:
        return
    out = Path(config.output.file)
    if out.is_dir():
        raise OverlayError(f"{out}: is a folder; pass --out with a file name ending in .mp4")
    if out.suffix.lower() not in (".mp4", ".m4v") and out != Path(os.devnull):
        raise OverlayError(f"{out}: the video file is an MP4; pass --out with a name ending in .mp4")
    if not out.exists():
        return
    camera = Path(config.camera.device)
    if camera.exists() and os.path.samefile(out, camera):
        raise OverlayError(f"{out}: is the input video itself; pass another --out so the input is not overwritten")
    if not force:
        raise OverlayError(f"{out}: already exists; pass --force to replace it or another --out")


@dataclass
class Outputs:
    frame_sinks: list[FrameSink]
    layouts: list[str]  # of each frame sink
    state_sinks: list[StateSink]
    kinds: list[str] = dataclasses.field(default_factory=list)  # the SINKS names that opened

    def close(self) -> None:
        sinks: list[FrameSink | StateSink] = [*self.frame_sinks, *self.state_sinks]
        for sink in sinks:
            sink.close()


def open_outputs(config: Config, context: SinkContext) -> Outputs:
    """The sinks [output] sinks names, split by what they take (overlay.sinks.base), with their layouts.

    When several are asked for, one that cannot open is reported and the others go on.
    """
    kinds = config.output.sinks
    outputs = Outputs([], [], [])
    for kind in kinds:
        try:
            sink = open_sink(kind, context)
        except OverlayError as err:
            if len(kinds) == 1:
                raise
            logger.warning("%s; going on with the other outputs", err)
            continue
        if SINKS[kind].takes == "state":
            outputs.state_sinks.append(sink)  # type: ignore[arg-type]
        else:
            outputs.frame_sinks.append(sink)  # type: ignore[arg-type]
            outputs.layouts.append(config.layout_for(kind))
        outputs.kinds.append(kind)
    if not outputs.frame_sinks and not outputs.state_sinks:
        raise OverlayError("none of the outputs could be opened (see the warnings above)")
    return outputs


def face_settings(config: Config) -> FaceStageSettings:
    from overlay.attention.head_pose import HeadPoseSettings
    from overlay.face.stage import FaceStageSettings
    from overlay.face.tracking import FaceTrackingSettings

    landmarks = Path(config.face.landmarks) if config.face.landmarks else None
    tracking = FaceTrackingSettings(landmarks_path=landmarks, detector=config.face.detector)
    head_pose = HeadPoseSettings(horizontal_fov_deg=config.camera.field_of_view)
    return FaceStageSettings(
        tracking=tracking, smoothing_half_life_s=config.face.smoothing_seconds, head_pose=head_pose
    )


def recognizer_settings(config: Config) -> RecognizerSettings:
    from overlay.speech.stage import RecognizerSettings

    return RecognizerSettings(recognizer=config.speech.recognizer, threads=config.speech.threads)


def fusion_settings(config: Config) -> FusionSettings:
    from overlay.fusion import FusionSettings

    return FusionSettings(smoothing_half_life_s=config.fusion.smoothing_seconds, hysteresis=config.fusion.hysteresis)


def analyze_settings(config: Config, video_out: Path | None, thumbnails: bool) -> AnalyzeSettings:
    """`analyze`: the live path's stage settings, for recordings."""
    from overlay.analysis.recordings import AnalyzeSettings
    from overlay.render.draw import OverlaySettings

    return AnalyzeSettings(
        video_out=video_out,
        face=face_settings(config),
        fusion=fusion_settings(config),
        overlay=OverlaySettings(**dataclasses.asdict(config.overlay)),
        layout=config.layout_for("file"),
        thumbnails=thumbnails or config.timeline.thumbnails,
        speech=recognizer_settings(config),
    )


@dataclass
class LiveRun:
    """A wired live run: start it with pipeline.run(), then finish()."""

    pipeline: LivePipeline
    timeline: TimelineWriter | None
    not_recorded: str  # why no session is being recorded ("" when one is, or none was asked for)
    microphone: str  # what is listened to ("off" when nothing)
    camera: str
    video_out: VideoFileSink | None = None  # the --sink file MP4, when it opened (the sound goes in as it comes)

    def status(self) -> dict[str, Any]:
        """What `emotion-overlay status` shows (safe from another thread)."""
        return {"running": True, "camera": self.camera, "microphone": self.microphone, **self.pipeline.snapshot()}

    def finish(self) -> list[str]:
        """Close the session file (after pipeline.run()); what failed on the way."""
        if self.timeline is not None:
            recognizer = self.pipeline.readings.backends.get("text")
            if recognizer:
                self.timeline.set_meta("recognizer", recognizer)
            self.timeline.close(duration_s=self.pipeline.stats.seconds)
        if self.video_out is None or self.video_out.failure:  # a video that stopped: said already
            return []
        failure = self.video_out.sound_failure
        return [f"{failure}; the video is kept without the rest of its sound"] if failure else []


def _face_stages(config: Config, calibrate: bool) -> tuple[list[Any], Callable[[], Any]]:
    """The first face stage (built now, so that a missing model fails before any device
    opens) and how to build another after a fault; each with the user's saved eye-contact calibration."""
    from overlay.attention.calibration_store import load_calibration
    from overlay.face.stage import FaceStage

    settings = face_settings(config)

    def make_face() -> FaceStage:
        stage = FaceStage(settings)
        stage.eye_contact.use_calibration(load_calibration())  # saved by the last --calibrate
        return stage

    first = make_face()
    if calibrate:
        first.start_calibration()
    return [first], make_face


def build_live(config: Config, loop: bool, calibrate: bool = False) -> LiveRun:
    """`run`: everything wired, devices open, nothing running yet. `calibrate`: the first
    seconds calibrate eye contact (the user looks into the camera) and replace the saved calibration."""
    from overlay.delivery.stage import DeliveryStage
    from overlay.render.draw import OverlaySettings
    from overlay.runtime.pipeline import LivePipeline
    from overlay.runtime.stages import PipelineSettings, Sound
    from overlay.session.schema import DiskFullError
    from overlay.sinks.video_file import VideoFileSink
    from overlay.speech.process import SpeechProcess
    from overlay.voice.stage import VoiceStage, VoiceStageSettings

    spare_face, make_face = _face_stages(config, calibrate)
    voice = VoiceStageSettings()
    speech = recognizer_settings(config)
    spare_voice = [VoiceStage(voice)] if config.audio.microphone != "off" else []
    spare_speech: list[SpeechProcess] = []
    running: list[LivePipeline] = []  # sources and sinks report camera loss etc. into the pipeline's events

    def on_event(kind: Event, detail: str) -> None:
        if running:
            running[0].record_event(kind, detail)

    source = open_camera(config.camera.device, SourceContext(config, loop, on_event))
    audio: AudioSource | None = None
    outputs = Outputs([], [], [])
    try:
        audio = open_audio(config.audio.microphone, source, SourceContext(config, loop, on_event))
        outputs = open_outputs(config, _sink_context(config, source, audio, on_event))
        if audio is not None:
            spare_speech.append(SpeechProcess(speech))  # its own process; a broken model fails here, before any frame
    except BaseException:
        source.close()
        if audio is not None:
            audio.close()
        outputs.close()
        raise
    timeline, not_recorded = None, ""
    if config.timeline.record:
        try:
            timeline = _open_timeline(config, audio is not None)
        except DiskFullError as err:  # the video still goes on; the last line and exit status say so
            not_recorded = str(err)
    settings = PipelineSettings(
        OverlaySettings(**dataclasses.asdict(config.overlay), mirror=config.camera.mirror),
        fusion_settings(config),
        thumbnails=config.timeline.thumbnails,
        layouts=tuple(outputs.layouts),
    )
    video_out = next((sink for sink in outputs.frame_sinks if isinstance(sink, VideoFileSink)), None)
    sound = None
    if audio is not None:
        sound = Sound(audio, listeners=(video_out.add_sound,) if video_out is not None else ())  # the MP4's sound

    def first_then_new(spares: list[Any], make: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: spares.pop() if spares else make()  # the one built above, then a new one after a fault

    stages = _live_stages(
        first_then_new(spare_face, make_face),
        first_then_new(spare_voice, lambda: VoiceStage(voice)),
        first_then_new(spare_speech, lambda: SpeechProcess(speech)),
        DeliveryStage,
    )
    pipeline = LivePipeline(source, stages, outputs.frame_sinks, settings, sound, timeline, outputs.state_sinks)
    running.append(pipeline)
    microphone = config.audio.microphone if audio is not None else "off"
    return LiveRun(pipeline, timeline, not_recorded, microphone, config.camera.device, video_out)


def _live_stages(
    make_face: Callable[[], Any],
    make_voice: Callable[[], Any],
    make_speech: Callable[[], Any],
    make_delivery: Callable[[], Any],
) -> list[StageSpec]:
    """The analysis stages of a live run, one spec each: a new modality is its package and a
    line here (the stages that take sound run only when there is sound)."""
    from overlay.delivery.live import delivery_stage
    from overlay.face.live import face_stage
    from overlay.speech.live import speech_stage
    from overlay.voice.live import voice_stage

    return [face_stage(make_face), voice_stage(make_voice), speech_stage(make_speech), delivery_stage(make_delivery)]


def _sink_context(
    config: Config, source: FrameSource, audio: AudioSource | None, on_event: Callable[[Event, str], None]
) -> SinkContext:
    sound_rate = audio.sample_rate if audio is not None else None
    return SinkContext(config, source.width, source.height, source.fps, on_event, sound_rate)


def _open_timeline(config: Config, with_audio: bool) -> TimelineWriter:
    """A new session file for a live run, in the sessions folder."""
    from overlay.session.metadata import session_metadata
    from overlay.session.store import start_new_session

    microphone = config.audio.microphone if with_audio else None
    metadata = session_metadata("live", config.camera.device, microphone, config)
    writer: TimelineWriter = start_new_session("live", metadata)
    return writer
