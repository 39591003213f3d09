"""The delivery stage in a live run: phrases and long pauses for the session, the live line for the overlay."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from overlay.render.state import delivery_line
from overlay.runtime.stages import StageSpec
from overlay.session.recorder import record_delivery

if TYPE_CHECKING:
    from overlay.delivery.stage import DeliveryEvents, DeliveryStage
    from overlay.records import AudioBlock
    from overlay.runtime.readings import Readings
    from overlay.speech.live import Words

NAME: Final = "delivery-analysis"


def delivery_stage(make: Callable[[], DeliveryStage]) -> StageSpec:
    return StageSpec(
        NAME,
        "delivery",
        "sound",
        make,
        _handle,
        _finish,
        _status,
        counts=("phrases", "long pauses"),
        skip_while_paused=True,
    )


def _handle(stage: DeliveryStage, block: AudioBlock, readings: Readings) -> None:
    events = stage.feed(block)
    _record(events, readings)
    # The words come from the speech stage's board entry: its newest final utterances.
    words: Words | None = readings.latest("text")
    heard = words is not None and stage.hear(words.finals)
    if heard or events.phrases:
        readings.publish("delivery", stage.reading())


def _finish(stage: DeliveryStage, readings: Readings) -> None:
    _record(stage.finish(), readings)
    readings.publish("delivery", stage.reading())


def _record(events: DeliveryEvents, readings: Readings) -> None:
    readings.count("phrases", len(events.phrases))
    readings.count("long pauses", sum(pause.long for pause in events.pauses))
    if readings.recorder is not None:
        record_delivery(events, readings.recorder)


def _status(readings: Readings, now: float) -> str | None:
    return delivery_line(readings.latest("delivery"), now) or None  # e.g. "142 wpm, 2 fillers/min"
