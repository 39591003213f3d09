"""The overlay's sources in an OBS scene: what they are called, where they go, how they are made and removed.

Layout (decided here):
- All our sources live in one scene of their own, "Emotion Overlay", which is added as a
  nested scene to the scene the user shows (the chosen one, else the current program scene).
  obs-websocket 5 cannot create groups, and a nested scene does everything a group would:
  one switch to show or hide the overlay, one item to move or scale in the user's scene, and
  its own items to arrange. Other scenes can show it too (add "Emotion Overlay" to them).
- Elements, each a source named "Emotion Overlay: <element>" (ELEMENTS): the label (the fused
  reading, else the face expression, with its confidence; top right), blinks (count and rate;
  bottom left), captions (the last lines said; bottom centre, wrapped), bars (the
  expression bars as an image we render; top left), and delivery (pace and fillers per
  minute; bottom right). The nested scene has the canvas size.
- Idempotent: sources are matched by these names only (nothing else in the user's collection
  is read or touched). What exists is reused as it is; only what is missing is created, and
  only a newly created source gets our position and size, scaled to the canvas (designed at
  720 p). A source the user moved, resized, restyled or put elsewhere stays as they left it.
- Elements not asked for are hidden (their scene item disabled), not deleted, so that asking
  for them again brings them back where the user had put them.
- remove_overlay() deletes exactly these sources and the "Emotion Overlay" scene (OBS then
  drops it from every scene that showed it).
- Text sources are OBS's own text source of the platform: GDI+ on Windows, FreeType 2
  elsewhere (the kinds OBS lists decide).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from overlay.obs.connection import ALREADY_EXISTS, NOT_FOUND, ObsConnection, ObsError, ObsRequestError
from overlay.obs.elements import ELEMENTS

logger = logging.getLogger(__name__)

SCENE: Final = "Emotion Overlay"
IMAGE_KIND: Final = "image_source"
# Preference order; OBS 30 on Windows has text_gdiplus_v3, 28-29 v2, Linux and macOS FreeType 2.
TEXT_KINDS: Final = ("text_gdiplus_v3", "text_gdiplus_v2", "text_ft2_source_v2")
GONE_TIMEOUT_S: Final = 3.0  # how long remove_overlay waits for OBS to drop what it removed
UNSHOW_PAUSE_S: Final = 0.3  # for OBS's window to drop what it showed of our scene
NAME_RELEASE_S: Final = 3.0  # OBS frees a removed source's name once nothing draws it any more

# OBS_ALIGN_* flags of a scene item's anchor point.
_LEFT, _RIGHT, _TOP, _BOTTOM = 1, 2, 4, 8
_WHITE_ABGR: Final = 0xFFFFFFFF
_ACCENT_ABGR: Final = 0xFF50C8FF  # the amber the video overlay uses, as OBS's 0xAABBGGRR


def source_name(element: str) -> str:
    return f"{SCENE}: {element}"


@dataclass(frozen=True)
class Canvas:
    """OBS's base (canvas) size; sizes are designed at 720 p and scaled by height."""

    width: int
    height: int

    @property
    def scale(self) -> float:
        return self.height / 720.0

    @property
    def margin(self) -> int:
        return round(16 * self.scale)


@dataclass(frozen=True)
class OverlayScene:
    """What ensure_overlay() found or made."""

    target_scene: str  # the user's scene that shows ours
    canvas: Canvas
    text_kind: str
    shown: tuple[str, ...]  # elements visible and to be updated
    created: tuple[str, ...]  # elements created this time (the rest already existed)


def ensure_overlay(
    connection: ObsConnection, scene: str, elements: tuple[str, ...], bars_file: Path | None
) -> OverlayScene:
    """Make sure our scene and the sources for `elements` exist and show in `scene` ("" = program scene).

    `bars_file` is the PNG the bars image source shows (None: no bars, e.g. OBS on another
    computer cannot read our files). Raises ObsError when the scene asked for does not exist.
    """
    video = connection.request("GetVideoSettings")
    canvas = Canvas(int(video["baseWidth"]), int(video["baseHeight"]))
    kinds = set(connection.request("GetInputKindList", unversioned=False)["inputKinds"])
    text_kind = next((kind for kind in TEXT_KINDS if kind in kinds), TEXT_KINDS[-1])
    platform = str(connection.request("GetVersion").get("platform", ""))
    scenes = [s["sceneName"] for s in connection.request("GetSceneList")["scenes"]]
    target = scene or str(connection.request("GetCurrentProgramScene")["currentProgramSceneName"])
    if target not in scenes:
        raise ObsError(f"OBS has no scene named {target!r}; its scenes are: {', '.join(scenes)} (see --obs-scene)")
    if SCENE not in scenes:
        _create_when_free(connection, "CreateScene", sceneName=SCENE)
        logger.info("created the scene %r in OBS", SCENE)
    inputs = {i["inputName"] for i in connection.request("GetInputList")["inputs"]}
    items = {i["sourceName"]: i for i in connection.request("GetSceneItemList", sceneName=SCENE)["sceneItems"]}
    if bars_file is None:
        elements = tuple(e for e in elements if e != "bars")
    created: list[str] = []
    for element in ELEMENTS:
        name = source_name(element)
        wanted = element in elements
        if name not in inputs:
            if wanted:
                _create(connection, element, canvas, text_kind, platform, bars_file)
                created.append(element)
            continue
        item = items.get(name)
        if item is not None and bool(item["sceneItemEnabled"]) != wanted:
            connection.request(
                "SetSceneItemEnabled", sceneName=SCENE, sceneItemId=item["sceneItemId"], sceneItemEnabled=wanted
            )
    if target != SCENE:
        shown_in_target = {
            i["sourceName"] for i in connection.request("GetSceneItemList", sceneName=target)["sceneItems"]
        }
        if SCENE not in shown_in_target:
            connection.request("CreateSceneItem", sceneName=target, sourceName=SCENE, sceneItemEnabled=True)
            logger.info("added %r to the OBS scene %r", SCENE, target)
    if created:
        logger.info("created in OBS: %s", ", ".join(source_name(e) for e in created))
    return OverlayScene(target, canvas, text_kind, tuple(e for e in ELEMENTS if e in elements), tuple(created))


def remove_overlay(connection: ObsConnection) -> list[str]:
    """Delete our sources and our scene; the names of what was removed (empty when there was nothing).

    OBS may still list a source it is deleting for a moment; one that is gone by the time we
    ask is taken as removed already. Our scene is first taken out of the scenes that show it
    (hidden, then removed, then a pause for OBS's window to let go of it): removing it while
    it was drawn there crashed OBS 29 now and then (a double free in obs_sceneitem_release).
    """
    removed: list[str] = []
    inputs = {i["inputName"] for i in connection.request("GetInputList")["inputs"]}
    scenes = [s["sceneName"] for s in connection.request("GetSceneList")["scenes"]]
    if SCENE in scenes:
        _unshow(connection, [s for s in scenes if s != SCENE])
    targets = [("RemoveInput", "inputName", source_name(e)) for e in ELEMENTS if source_name(e) in inputs]
    if SCENE in scenes:
        targets.append(("RemoveScene", "sceneName", SCENE))
    for request, key, name in targets:
        try:
            connection.request(request, **{key: name})
        except ObsRequestError as err:
            if err.code != NOT_FOUND:
                raise
            continue
        removed.append(name)
    _wait_until_gone(connection, {name for request, _, name in targets if request == "RemoveInput"})
    return removed


def _wait_until_gone(connection: ObsConnection, names: set[str]) -> None:
    """OBS lets go of a removed input once nothing shows it any more, a moment after it
    answers: wait (bounded) until it is no longer listed, so that "removed" is true when said."""
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while names and time.monotonic() < deadline:
        listed = {i["inputName"] for i in connection.request("GetInputList")["inputs"]}
        if not names & listed:
            return
        time.sleep(0.05)


def _unshow(connection: ObsConnection, scenes: list[str]) -> None:
    """Take our scene out of every scene that shows it: hide each item, remove it, let OBS's UI catch up."""
    found = False
    for scene in scenes:
        for item in connection.request("GetSceneItemList", sceneName=scene)["sceneItems"]:
            if item["sourceName"] != SCENE:
                continue
            found = True
            item_id = item["sceneItemId"]
            connection.request("SetSceneItemEnabled", sceneName=scene, sceneItemId=item_id, sceneItemEnabled=False)
            connection.request("RemoveSceneItem", sceneName=scene, sceneItemId=item_id)
    if found:
        time.sleep(UNSHOW_PAUSE_S)


def _create(
    connection: ObsConnection, element: str, canvas: Canvas, text_kind: str, platform: str, bars_file: Path | None
) -> None:
    name = source_name(element)
    if element == "bars":
        assert bars_file is not None
        kind, settings = IMAGE_KIND, {"file": str(bars_file), "unload": False}
    else:
        kind, settings = text_kind, _initial_text_settings(element, text_kind, platform, canvas)
    answer = _create_when_free(
        connection,
        "CreateInput",
        sceneName=SCENE,
        inputName=name,
        inputKind=kind,
        inputSettings=settings,
        sceneItemEnabled=True,
    )
    transform = _placement(element, canvas)
    connection.request(
        "SetSceneItemTransform", sceneName=SCENE, sceneItemId=answer["sceneItemId"], sceneItemTransform=transform
    )


def _create_when_free(connection: ObsConnection, request: str, **data: Any) -> dict[str, Any]:
    """Create a scene or input whose name OBS may still hold for a moment after removing it (cleanup just before)."""
    deadline = time.monotonic() + NAME_RELEASE_S
    while True:
        try:
            return connection.request(request, **data)
        except ObsRequestError as err:
            if err.code != ALREADY_EXISTS or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _placement(element: str, canvas: Canvas) -> dict[str, Any]:
    """Where a new source goes: the same corners as the video overlay (overlay.render.draw)."""
    s, m, w, h = canvas.scale, canvas.margin, canvas.width, canvas.height
    if element == "bars":
        x, y, alignment = float(m), float(m), _TOP | _LEFT
    elif element == "label":
        x, y, alignment = w - m, m, _TOP | _RIGHT
    elif element == "blinks":
        x, y, alignment = m, h - m, _BOTTOM | _LEFT
    elif element == "delivery":  # bottom right, across from the blinks
        x, y, alignment = w - m, h - m, _BOTTOM | _RIGHT
    else:  # captions: above the blink line, centred
        x, y, alignment = w / 2, h - m - round(56 * s), _BOTTOM
    return {"positionX": float(x), "positionY": float(y), "alignment": alignment}


_FONT_PX: Final = {"label": 56, "blinks": 34, "captions": 36, "delivery": 34}  # at 720 p


def _initial_text_settings(element: str, text_kind: str, platform: str, canvas: Canvas) -> dict[str, Any]:
    size = round(_FONT_PX[element] * canvas.scale)
    wrap_width = round(canvas.width * 0.8)
    colour = _ACCENT_ABGR if element == "label" else _WHITE_ABGR
    if text_kind.startswith("text_gdiplus"):
        settings: dict[str, Any] = {
            "text": "",
            "font": {"face": "Arial", "size": size, "style": "Bold" if element == "label" else "Regular", "flags": 0},
            "color": colour & 0xFFFFFF,
            "outline": True,
            "outline_size": max(2, round(3 * canvas.scale)),
            "outline_color": 0,
        }
        if element == "captions":
            settings |= {"extents": True, "extents_wrap": True, "extents_cx": wrap_width, "extents_cy": size * 4}
            settings |= {"align": "center", "valign": "bottom"}
        return settings
    face = "Helvetica" if platform == "macos" else "Sans Serif"
    settings = {
        "text": "",
        "font": {
            "face": face,
            "size": size,
            "style": "Bold" if element == "label" else "",
            "flags": 1 if element == "label" else 0,
        },
        "color1": colour,
        "color2": colour,
        "drop_shadow": True,
        "outline": False,
    }
    if element == "captions":
        settings |= {"word_wrap": True, "custom_width": wrap_width}
    return settings
