"""The overlay as sources in an OBS scene, kept up to date over obs-websocket.

The pipeline calls show() on the video thread for every frame; it only swaps one reference
(the newest OverlayState wins, older ones are dropped unseen) and returns, so a slow, busy
or absent OBS never delays the video path or the virtual camera.

The "obs-overlay" thread does the rest, on its own connection:
- Text sources (label, blinks, captions, delivery) are updated at `update_hz` (default 10 per second),
  and only when their text changed. A text update costs OBS about 0.4 ms a call (measured,
  README "OBS"), so even three changing texts at 10 Hz take well under 1 % of OBS's time,
  while 10 Hz is faster than a viewer reads a changing label.
- The bars are an image we render (overlay.render.draw.bars_image, true transparency) into a
  PNG in the user's cache folder, replaced atomically, then SetInputSettings with the same
  file makes OBS reload it. That costs far more than text (encoding and decoding a PNG, an
  upload to the GPU), so it happens at `image_hz` (default 2 per second) and only when a bar
  moved by a whole percent. OBS must be on this computer to read the file; with a remote OBS
  the bars are left out (a warning says so) and the texts still work.
- Connecting: the first attempt is made in the constructor, so that a refused password or a
  scene that does not exist stops `run` at once with a one-line message. When OBS is not
  running yet, the process starts anyway and the overlay appears once OBS is reachable.
- OBS closes, crashes or restarts: the thread reconnects with backoff (0.5 s doubling to
  5 s), re-checks the scene and recreates whatever is missing (ensure_overlay, idempotent),
  then resends every text. It says so once per outage ("lost ... reconnecting", "back"),
  not every try, and reports both as pipeline events for the session timeline.
- A source the user deleted while we run is recreated at the next check (a few seconds).
- close() clears the texts and the bars (a stopped process should not leave a stale reading
  on a stream), then disconnects. The sources stay; `run --obs-cleanup` removes them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt
import platformdirs

from overlay.labels import EMOTIONS
from overlay.obs.connection import (
    Backoff,
    ObsAddress,
    ObsConnection,
    ObsConnectionLost,
    ObsError,
    ObsRequestError,
    ObsUnreachable,
)
from overlay.obs.elements import ELEMENTS, OPT_IN_ELEMENTS, TEXT_ELEMENTS
from overlay.obs.scene import OverlayScene, ensure_overlay, source_name
from overlay.records import Event
from overlay.render.draw import OverlayState, bars_image
from overlay.render.wording import WordingRule, headline
from overlay.sinks.base import SinkContext

logger = logging.getLogger(__name__)

DEFAULT_UPDATE_HZ: Final = 10.0
DEFAULT_IMAGE_HZ: Final = 2.0
# Unchanged texts are sent again this often: a source the user deleted (or edited by hand) while
# its text stayed the same is noticed, and recreated, within this time rather than at the next change.
RESEND_S: Final = 2.0
CAPTION_LINES: Final = 3


def default_bars_file() -> Path:
    return Path(platformdirs.user_cache_dir("emotion-overlay", appauthor=False)) / "obs" / "bars.png"


@dataclass(frozen=True)
class ObsSinkSettings:
    address: ObsAddress = field(default_factory=ObsAddress)
    scene: str = ""  # "" = the current program scene
    elements: tuple[str, ...] = ELEMENTS
    update_hz: float = DEFAULT_UPDATE_HZ
    image_hz: float = DEFAULT_IMAGE_HZ
    bars_file: Path = field(default_factory=default_bars_file)
    wording: WordingRule = field(default_factory=WordingRule)  # [overlay] confident_at, lead_at, mixed_at


@dataclass
class ObsSinkStats:
    """What the thread did, for bench/obs.py and tests."""

    text_updates: int = 0
    image_updates: int = 0
    text_seconds: float = 0.0  # wall time spent in text SetInputSettings calls
    image_seconds: float = 0.0  # rendering, writing and reloading the bars image
    cpu_seconds: float = 0.0  # CPU time of the "obs-overlay" thread
    connects: int = 0
    outages: int = 0
    created: list[str] = field(default_factory=list)


def overlay_texts(state: OverlayState | None, wording: WordingRule | None = None) -> dict[str, str]:
    """The text of each text element for a state (also what the tests read back from OBS); the
    label is worded by the same rule as the drawn overlay's headline."""
    texts = dict.fromkeys(TEXT_ELEMENTS, "")
    if state is None:
        return texts
    if not state.analysis_on:
        texts["label"] = "analysis paused"
    elif state.fused is not None and state.fused.label is not None:
        fused, label = state.fused, state.fused.label
        texts["label"] = headline(label, fused.confidence, fused.probabilities, wording)  # never one label at 21 %
    elif state.expression is not None:
        top = int(np.argmax(state.expression))
        texts["label"] = f"{EMOTIONS[top]} {float(state.expression[top]) * 100:.0f}%"
    if state.blink is not None:
        rate = state.blink.blinks_per_minute
        texts["blinks"] = f"blinks {state.blink.blink_count}" + (f"  {rate:.0f}/min" if rate is not None else "")
    if state.captions is not None:
        lines = [*state.captions.finals, *([state.captions.partial] if state.captions.partial else [])]
        texts["captions"] = "\n".join(lines[-CAPTION_LINES:])
    texts["delivery"] = state.delivery
    return texts


def bars_reading(state: OverlayState | None) -> tuple[str, npt.NDArray[np.float32] | None]:
    """What the bars show: the fused probabilities when there are any, else the face's; none while paused."""
    if state is None or not state.analysis_on:
        return "", None
    if state.fused is not None and state.fused.probabilities is not None:
        return "overall", state.fused.probabilities
    if state.expression is not None:
        return "face", state.expression
    return "", None


class ObsOverlaySink:
    """A StateSink (overlay.sinks.base) drawing the overlay with OBS sources. close() is idempotent."""

    def __init__(
        self,
        settings: ObsSinkSettings,
        *,
        on_event: Callable[[Event, str], None] | None = None,
        connect: Callable[[ObsAddress], ObsConnection] = ObsConnection,
    ) -> None:
        self.settings = settings
        self.stats = ObsSinkStats()
        self._on_event = on_event
        self._connect = connect
        self._state: OverlayState | None = None
        self._stop = threading.Event()
        self._closed = False
        self._sent: dict[str, str] = {}
        self._sent_bars: tuple[str, tuple[int, ...]] | None = None
        self._next_image_at = 0.0
        self._resend_at = 0.0
        self._connection: ObsConnection | None = None
        self._scene: OverlayScene | None = None
        self._bars_file: Path | None = settings.bars_file if "bars" in settings.elements else None
        if self._bars_file is not None and not settings.address.is_local:
            logger.warning(
                "OBS at %s is on another computer and cannot read the bars image; showing the texts only",
                settings.address,
            )
            self._bars_file = None
        self._reported: str | None = None  # the kind of problem last said, so that each is said once
        self.connected = threading.Event()
        try:
            self._open()
        except ObsUnreachable as err:
            self._report("unreachable", f"{err}; the overlay appears in OBS as soon as it is reachable")
        self._thread = threading.Thread(target=self._loop, name="obs-overlay", daemon=True)
        self._thread.start()

    # -- the video thread's side --------------------------------------------------------
    def show(self, state: OverlayState) -> None:
        self._state = state

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=1.0)  # normally it clears the overlay and ends within milliseconds
        connection = self._connection
        if self._thread.is_alive() and connection is not None:
            connection.close()  # a request stuck on a frozen OBS fails at once
            self._thread.join(timeout=1.0)

    # -- the "obs-overlay" thread ------------------------------------------------------
    def _open(self) -> None:
        """Connect, make sure our sources exist, and start over with every text unsent."""
        if self._bars_file is not None and not self._bars_file.exists():
            self._write_bars(None)  # the image source needs a file to size itself
        connection = self._connect(self.settings.address)
        try:
            self._scene = ensure_overlay(connection, self.settings.scene, self.settings.elements, self._bars_file)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self._sent.clear()
        self._sent_bars = None
        self._next_image_at = 0.0
        self._resend_at = time.monotonic() + RESEND_S
        self.stats.connects += 1
        self.stats.created += list(self._scene.created)
        self.connected.set()

    def _loop(self) -> None:
        backoff = Backoff()
        period = 1.0 / self.settings.update_hz
        cpu_started = time.thread_time()
        try:
            while not self._stop.is_set():
                if self._connection is None and not self._reconnect():
                    self._stop.wait(backoff.next())
                    continue
                tick = time.monotonic()
                try:
                    self._update(tick)
                except ObsConnectionLost as err:
                    if self._stop.is_set():  # close() cut a request to a frozen OBS short
                        break
                    self._lost(str(err))
                    continue
                except ObsRequestError as err:
                    # One of our sources went away under us (the user deleted it): check and recreate.
                    logger.info("%s; checking the overlay's sources in OBS", err)
                    self._drop_connection()
                    self._stop.wait(backoff.next())
                    continue
                backoff.reset()
                self.stats.cpu_seconds = time.thread_time() - cpu_started
                self._stop.wait(max(0.0, period - (time.monotonic() - tick)))
            self._clear()
        except Exception:  # supervised: never take the process down, say what happened
            logger.exception("the OBS overlay thread failed; the overlay in OBS stops updating")
            self._event(Event.OBS_FAILED, "the OBS overlay thread failed")
        finally:
            self.stats.cpu_seconds = time.thread_time() - cpu_started
            self._drop_connection()

    def _reconnect(self) -> bool:
        first = self.stats.connects == 0
        try:
            self._open()
        except ObsError as err:
            kind = "unreachable" if isinstance(err, ObsUnreachable) else str(err)
            self._report(kind, f"{err}; trying again in the background")
            return False
        if self._reported is not None:
            if first:
                logger.warning("connected to OBS at %s; the overlay is shown", self.settings.address)
            else:
                created = (
                    f" (recreated: {', '.join(self._scene.created)})" if self._scene and self._scene.created else ""
                )
                logger.warning("OBS at %s is back; the overlay is shown again%s", self.settings.address, created)
                self._event(Event.OBS_BACK, f"OBS at {self.settings.address} is back{created}")
            self._reported = None
        return True

    def _lost(self, reason: str) -> None:
        self._drop_connection()
        self.stats.outages += 1
        # While OBS is away it is unreachable: that is this same outage, not news.
        self._report("unreachable", f"lost the connection to OBS ({reason}); reconnecting in the background")
        self._event(Event.OBS_LOST, reason)

    def _report(self, kind: str, message: str) -> None:
        """Warn once per kind of problem; repeats while reconnecting go to the debug log."""
        if kind != self._reported:
            logger.warning("%s", message)
            self._reported = kind
        else:
            logger.debug("%s", message)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self.connected.clear()
        if connection is not None:
            connection.close()

    def _update(self, now: float) -> None:
        connection, scene = self._connection, self._scene
        assert connection is not None and scene is not None
        if not connection.alive:  # noticed by its receiver even while nothing needs sending
            raise ObsConnectionLost(f"OBS at {self.settings.address} closed the connection")
        if now >= self._resend_at:
            self._resend_at = now + RESEND_S
            self._sent.clear()
            self._sent_bars = None
        state = self._state
        texts = overlay_texts(state, self.settings.wording)
        for element in TEXT_ELEMENTS:
            if element in scene.shown and texts[element] != self._sent.get(element):
                started = time.perf_counter()
                connection.request(
                    "SetInputSettings", inputName=source_name(element), inputSettings={"text": texts[element]}
                )
                self.stats.text_seconds += time.perf_counter() - started
                self.stats.text_updates += 1
                self._sent[element] = texts[element]
        if "bars" in scene.shown and self._bars_file is not None and now >= self._next_image_at:
            self._next_image_at = now + 1.0 / self.settings.image_hz
            title, probabilities = bars_reading(state)
            key = (title, tuple(np.rint(probabilities * 100).astype(int).tolist()) if probabilities is not None else ())
            if key != self._sent_bars:
                started = time.perf_counter()
                self._write_bars(probabilities, title)
                connection.request(
                    "SetInputSettings", inputName=source_name("bars"), inputSettings={"file": str(self._bars_file)}
                )
                self.stats.image_seconds += time.perf_counter() - started
                self.stats.image_updates += 1
                self._sent_bars = key

    def _write_bars(self, probabilities: npt.NDArray[np.float32] | None, title: str = "") -> None:
        """Render the bars and replace the PNG atomically, so OBS never reads half a file."""
        assert self._bars_file is not None
        scale = self._scene.canvas.scale if self._scene is not None else 1.0
        ok, png = cv2.imencode(".png", bars_image(title, probabilities, scale), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise RuntimeError("could not encode the bars image")
        self._bars_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self._bars_file.with_name(f".{self._bars_file.name}.{os.getpid()}.tmp")
        partial.write_bytes(png.tobytes())
        os.replace(partial, self._bars_file)

    def _clear(self) -> None:
        """Blank texts and bars as the process stops (best effort: OBS may be gone)."""
        if self._connection is None or self._scene is None:
            return
        self._state = None
        self._sent_bars = None
        self._next_image_at = 0.0
        try:
            self._update(time.monotonic())
        except ObsError as err:
            logger.debug("could not clear the overlay in OBS: %s", err)

    def _event(self, kind: Event, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(kind, detail)


def elements_shown(elements: tuple[str, ...], layout: str, compact_delivery: bool = False) -> tuple[str, ...]:
    """The elements OBS shows: clean none; compact the default set less the bars and the delivery line
    (unless compact_delivery asks for it); a list the user chose as it is."""
    if layout == "clean":
        return ()
    if layout == "compact" and elements == ELEMENTS:
        left_out = ("bars",) if compact_delivery else ("bars", *OPT_IN_ELEMENTS)
        return tuple(e for e in elements if e not in left_out)
    return elements


def open_sink(context: SinkContext) -> ObsOverlaySink:
    """The overlay as sources in the OBS that [obs] (and --obs-*) point at."""
    from overlay.obs.connection import configured_address

    obs, overlay = context.config.obs, context.config.overlay
    settings = ObsSinkSettings(
        configured_address(obs),
        obs.scene,
        elements_shown(obs.elements, context.config.layout_for("obs"), overlay.compact_delivery),
        obs.update_hz,
        obs.image_hz,
        wording=WordingRule(overlay.confident_at, overlay.lead_at, overlay.mixed_at),
    )
    return ObsOverlaySink(settings, on_event=context.on_event)
