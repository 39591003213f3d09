"""Eye contact with the camera, per frame, as a probability; looked-away spans; per-person calibration.

`EyeContactEstimator` reads one face (its 68 landmarks in the frame) into the features of
overlay.attention.eye_features (where each iris sits in its eye, the head's turn) and the
bundled model (models/eye_contact: a small MLP in ONNX, trained on NITEC's labelled photos)
gives the probability that the person looks into the camera: about 0.3 ms a face on one
core (up to ~1 ms on a busy machine).

Calibration: people differ in eye shape, lids, glasses and how the landmark fitter sits on
them, so one person's "looking into the camera" lands a little off the average one. While
the user looks at the camera for a few seconds, `calibrate` takes those frames' features
and from then on shifts every frame's features by (the model's reference look - the
person's median look): the reference is the median of the training faces that looked into
the camera (in the card). The shift is capped so that a calibration done while looking
elsewhere cannot turn every look into eye contact.

`LookAwayTracker` turns per-frame probabilities with their timestamps into the share of time
spent looking into the camera and "looked away" events for spans longer than a second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from overlay.attention.eye_features import FEATURE_NAMES, N_FEATURES, eye_contact_features
from overlay.errors import ModelError
from overlay.models.bundled import REINSTALL_HINT, bundled_model_path
from overlay.models.onnx import OnnxClassifier

logger = logging.getLogger(__name__)

DEFAULT_EYE_CONTACT_MODEL: Final[tuple[str, str]] = ("eye_contact", "eye_contact.onnx")
LABELS: Final[tuple[str, ...]] = ("away", "eye_contact")


@dataclass(frozen=True)
class EyeContactSettings:
    model_path: Path | None = None  # None: the bundled model
    threshold: float | None = None  # None: the card's (the one with the best cross-validated MCC)
    calibration_min_frames: int = 10  # 3 s at 25 fps gives ~75
    # Per feature, the most a calibration may move it, in standard deviations of the
    # training faces that looked into the camera.
    max_calibration_shift: float = 2.0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.calibration_min_frames < 1:
            raise ValueError(f"calibration_min_frames must be 1 or more, got {self.calibration_min_frames}")
        if self.max_calibration_shift <= 0:
            raise ValueError(f"max_calibration_shift must be positive, got {self.max_calibration_shift}")


@dataclass(frozen=True)
class EyeContact:
    """One face in one frame: the probability that it looks into the camera, and the verdict at the threshold."""

    probability: float
    eye_contact: bool
    calibrated: bool


@dataclass(frozen=True)
class EyeContactCalibration:
    """A person's shift of the features (FEATURE_NAMES order), from `frames` frames of looking into the camera."""

    shift: tuple[float, ...]
    frames: int
    probability_before: float  # median probability of the calibration frames without the shift
    probability_after: float  # and with it

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(FEATURE_NAMES),
            "shift": list(self.shift),
            "frames": self.frames,
            "probability_before": self.probability_before,
            "probability_after": self.probability_after,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EyeContactCalibration:
        """A saved calibration; one made for other features (an older model) is refused."""
        if list(data.get("features", [])) != list(FEATURE_NAMES):
            raise ValueError("the calibration was made for other eye-contact features; calibrate again")
        return cls(
            shift=tuple(float(v) for v in data["shift"]),
            frames=int(data["frames"]),
            probability_before=float(data["probability_before"]),
            probability_after=float(data["probability_after"]),
        )


class EyeContactModel:
    """The verified eye-contact model in onnxruntime: features [N, N_FEATURES] -> probabilities [N].

    Its card also carries the threshold and the reference look that calibration aims at.
    """

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        self.path = path if path is not None else bundled_model_path(*DEFAULT_EYE_CONTACT_MODEL)
        self._classifier = OnnxClassifier(self.path, threads, labels=LABELS)
        self.card = self._classifier.card
        raw = self.card.raw
        try:
            if list(raw["features"]) != list(FEATURE_NAMES):
                raise ModelError(
                    f"{self.path}: the model reads other features than this version computes; {REINSTALL_HINT}"
                )
            self.threshold = float(raw["threshold"])
            self.reference = np.asarray(raw["calibration"]["reference"], dtype=np.float32)
            self.reference_scale = np.asarray(raw["calibration"]["scale"], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"{self.path}: eye-contact card incomplete ({err}); {REINSTALL_HINT}") from err
        if self.reference.shape != (N_FEATURES,) or self.reference_scale.shape != (N_FEATURES,):
            raise ModelError(f"{self.path}: eye-contact card's calibration reference has the wrong size")
        logger.info("eye-contact model %s %s loaded from %s", self.card.name, self.card.version, self.path)

    def probabilities(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """P(looking into the camera) for each row of features [N, N_FEATURES]."""
        if features.ndim != 2 or features.shape[1] != N_FEATURES:
            raise ValueError(f"expected features of shape [N, {N_FEATURES}], got {list(features.shape)}")
        return self._classifier.run(np.ascontiguousarray(features, dtype=np.float32))[:, 1]


class EyeContactEstimator:
    """Per face: features, then the probability of eye contact (after the person's calibration, if any)."""

    def __init__(self, settings: EyeContactSettings | None = None, model: EyeContactModel | None = None) -> None:
        self.settings = settings or EyeContactSettings()
        self.model = model or EyeContactModel(self.settings.model_path)
        self.threshold = self.settings.threshold if self.settings.threshold is not None else self.model.threshold
        self._calibration: EyeContactCalibration | None = None
        self._shift = np.zeros(N_FEATURES, dtype=np.float32)

    @property
    def calibration(self) -> EyeContactCalibration | None:
        return self._calibration

    def features(self, frame: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """The face's uncalibrated features (frame: BGR or grey; landmarks [68, 2] in its pixels)."""
        return eye_contact_features(frame, landmarks)

    def from_features(self, features: npt.NDArray[np.float32]) -> EyeContact:
        probability = float(self.model.probabilities((features + self._shift)[np.newaxis])[0])
        return EyeContact(probability, probability >= self.threshold, self._calibration is not None)

    def estimate(self, frame: npt.NDArray[np.uint8], landmarks: npt.NDArray[np.floating]) -> EyeContact:
        """Eye contact of the face with these landmarks in this frame."""
        return self.from_features(self.features(frame, landmarks))

    def calibrate(self, looking: Sequence[npt.NDArray[np.float32]]) -> EyeContactCalibration:
        """Calibrate from the features of frames in which the user looked into the camera, and use it.

        Raises ValueError with fewer than settings.calibration_min_frames frames.
        """
        if len(looking) < self.settings.calibration_min_frames:
            raise ValueError(
                f"calibration needs {self.settings.calibration_min_frames} frames with a face, got {len(looking)}"
            )
        stack = np.asarray(np.stack(looking), dtype=np.float32)
        limit = self.settings.max_calibration_shift * self.model.reference_scale
        # The median ignores the frames of a blink or a glance away during the calibration.
        shift = np.clip(self.model.reference - np.median(stack, axis=0), -limit, limit).astype(np.float32)
        before = float(np.median(self.model.probabilities(stack)))
        after = float(np.median(self.model.probabilities(stack + shift)))
        calibration = EyeContactCalibration(tuple(float(v) for v in shift), len(looking), before, after)
        self.use_calibration(calibration)
        logger.info("eye contact calibrated on %d frames: median probability %.2f -> %.2f", len(looking), before, after)
        return calibration

    def use_calibration(self, calibration: EyeContactCalibration | None) -> None:
        """Apply a (saved) calibration; None goes back to the uncalibrated model."""
        self._calibration = calibration
        self._shift = (
            np.zeros(N_FEATURES, dtype=np.float32)
            if calibration is None
            else np.asarray(calibration.shift, dtype=np.float32)
        )


@dataclass(frozen=True)
class LookAwaySettings:
    min_away_s: float = 1.0  # a looked-away span is reported when longer than this
    # A look back shorter than this does not end a span: one frame read as eye contact in
    # the middle of a glance away is noise, not a return.
    return_s: float = 0.2
    max_gap_s: float = 0.5  # a longer gap between frames (paused, dropped) is not counted in the share
    no_face_is_away: bool = True  # the frontal detector loses strongly turned heads

    def __post_init__(self) -> None:
        if self.min_away_s < 0 or self.return_s < 0 or self.max_gap_s <= 0:
            raise ValueError("look-away times need min_away_s >= 0, return_s >= 0, max_gap_s > 0")


@dataclass(frozen=True)
class LookedAway:
    """A span without eye contact: from its first frame to the first frame of the look back."""

    start: float
    end: float
    face_lost: bool  # the face was missing in part of it

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class LookAwayState:
    looking: bool | None  # None: no face in the last frame (and no_face_is_away off) or no frame yet
    share: float | None  # share of the counted time spent looking into the camera; None before any
    counted_s: float
    away_since: float | None  # start of the span under way


@dataclass
class LookAwayTracker:
    """Feed (timestamp, probability or None) per analysed frame, in order; read events and state.

    threshold: the estimator's (`EyeContactEstimator.threshold`), so that the spans agree
    with the per-frame verdicts.
    """

    threshold: float
    settings: LookAwaySettings = field(default_factory=LookAwaySettings)
    _last: tuple[float, bool | None] | None = None
    _looking_s: float = 0.0
    _counted_s: float = 0.0
    _away_since: float | None = None
    _back_since: float | None = None
    _face_lost: bool = False

    def reset(self) -> None:
        """Forget everything (a new recording, or the face stage restarted)."""
        self._last = None
        self._looking_s = self._counted_s = 0.0
        self._away_since = self._back_since = None
        self._face_lost = False

    def update(self, timestamp: float, probability: float | None) -> list[LookedAway]:
        """One frame; None: no face in it. Returns the span that ended on this frame, if one did."""
        looking: bool | None = None if probability is None else probability >= self.threshold
        if looking is None and self.settings.no_face_is_away:
            looking = False
        self._count(timestamp)
        self._last = (timestamp, looking)
        if looking is None:
            return []
        if not looking:
            self._back_since = None
            if self._away_since is None:
                self._away_since, self._face_lost = timestamp, False
            self._face_lost |= probability is None
            return []
        if self._away_since is None:
            return []
        if self._back_since is None:
            self._back_since = timestamp
        if timestamp - self._back_since < self.settings.return_s:
            return []
        return self._close(self._back_since)

    def finish(self, timestamp: float) -> list[LookedAway]:
        """The end of the recording: a span still under way ends here (reported if long enough)."""
        self._count(timestamp)
        self._last = None
        if self._away_since is None:
            return []
        return self._close(self._back_since if self._back_since is not None else timestamp)

    def state(self) -> LookAwayState:
        return LookAwayState(
            looking=None if self._last is None else self._last[1],
            share=self._looking_s / self._counted_s if self._counted_s > 0 else None,
            counted_s=self._counted_s,
            away_since=self._away_since if self._back_since is None else None,
        )

    def _count(self, timestamp: float) -> None:
        """The time since the last frame belongs to that frame's verdict (if not too long a gap)."""
        if self._last is None or self._last[1] is None:
            return
        elapsed = timestamp - self._last[0]
        if 0 < elapsed <= self.settings.max_gap_s:
            self._counted_s += elapsed
            self._looking_s += elapsed if self._last[1] else 0.0

    def _close(self, end: float) -> list[LookedAway]:
        assert self._away_since is not None
        span = LookedAway(self._away_since, end, self._face_lost)
        self._away_since = self._back_since = None
        self._face_lost = False
        return [span] if span.duration > self.settings.min_away_s else []
