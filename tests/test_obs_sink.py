"""The overlay as sources in a real OBS (Debian's OBS 29 under Xvfb): created once, updated, visible,
removed; a wrong password, OBS not running, frozen, killed and restarted are all handled."""

from __future__ import annotations

import base64
import logging
import os
import signal
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from overlay.face.blinks import BlinkState
from overlay.fusion import FusedState
from overlay.obs.connection import ObsAddress, ObsAuthError, ObsConnection, ObsError
from overlay.obs.elements import ELEMENTS
from overlay.obs.scene import SCENE, remove_overlay, source_name
from overlay.render.draw import Captions, OverlayState
from overlay.sinks.obs import ObsOverlaySink, ObsSinkSettings, overlay_texts
from tests.conftest import run_cli
from tests.obs import ObsInstance, free_port, start_obs_or_skip, wait_until, write_grey_clip


@pytest.fixture(scope="module")
def obs() -> Iterator[ObsInstance]:
    instance = start_obs_or_skip()
    yield instance
    instance.close()


@pytest.fixture
def address(obs: ObsInstance) -> Iterator[ObsAddress]:
    obs.start()  # a test before may have killed it
    yield ObsAddress("127.0.0.1", obs.port, obs.password)
    assert obs.running and not obs.unexpected_exits, f"OBS ended by itself: {obs.output_tail()}"


@pytest.fixture
def client(address: ObsAddress) -> Iterator[ObsConnection]:
    """The test's own connection to OBS, to look at what the sink did; the overlay removed afterwards."""
    connection = ObsConnection(address)
    remove_overlay(connection)
    yield connection
    if connection.alive:
        remove_overlay(connection)
    connection.close()


def _state(label: str = "happy", confidence: float = 0.83, blinks: int = 4) -> OverlayState:
    probabilities = np.array([0.02, 0.01, 0.02, confidence, 0.05, 0.05, 0.02], dtype=np.float32)
    fused = FusedState(0.0, probabilities, label, confidence, 0.6, 0.3, {"face": 1.0}, None)
    return OverlayState(
        expression=probabilities,
        blink=BlinkState(0.3, 0.3, False, blinks, 12.0),
        captions=Captions(("hello everybody",), "and welcome"),
        fused=fused,
    )


def _sink(address: ObsAddress, tmp_path: Path, **changes: object) -> ObsOverlaySink:
    settings = ObsSinkSettings(address, bars_file=tmp_path / "bars.png", **changes)  # type: ignore[arg-type]
    return ObsOverlaySink(settings)


def _time_shows(sink: ObsOverlaySink, frames: int, state_at: Callable[[int], OverlayState]) -> list[float]:
    """Seconds each show() took, called at 30 fps as the video loop does."""
    waits = []
    for i in range(frames):
        started = time.perf_counter()
        sink.show(state_at(i))
        waits.append(time.perf_counter() - started)
        time.sleep(1 / 30)
    return waits


def _assert_never_waited_on_obs(waits: list[float]) -> None:
    # A request to OBS, even a refused connect, costs a round trip (ms); waiting on a frozen
    # OBS costs its 5 s timeout. The bound on the slowest call is far below that timeout and
    # leaves room for the scheduler of a loaded CI machine (12 ms and 102 ms seen), which
    # fixed bounds of 5 ms and 100 ms did not.
    assert statistics.median(waits) < 0.0005, waits
    assert max(waits) < 1.0, waits


def _text(client: ObsConnection, element: str) -> str:
    settings = client.request("GetInputSettings", inputName=source_name(element))["inputSettings"]
    return str(settings.get("text", ""))


def _screenshot(client: ObsConnection, source: str) -> npt.NDArray[np.uint8]:
    data = client.request("GetSourceScreenshot", sourceName=source, imageFormat="png")["imageData"]
    image = cv2.imdecode(np.frombuffer(base64.b64decode(data.partition(",")[2]), np.uint8), cv2.IMREAD_COLOR)
    return np.asarray(image, dtype=np.uint8)


def _items(client: ObsConnection, scene: str) -> list[str]:
    return [item["sourceName"] for item in client.request("GetSceneItemList", sceneName=scene)["sceneItems"]]


def test_sources_are_created_once_updated_visible_and_removed(
    address: ObsAddress, client: ObsConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", address.password)
    before = _screenshot(client, "Scene")
    sink = _sink(address, tmp_path)
    try:
        assert sink.stats.created == list(ELEMENTS)
        state = _state()
        sink.show(state)
        expected = overlay_texts(state)
        assert expected["label"] == "happy 83%" and expected["blinks"] == "blinks 4  12/min"
        assert wait_until(lambda: all(_text(client, e) == expected[e] for e in ("label", "blinks", "captions")))
        assert wait_until(lambda: sink.stats.image_updates >= 1)
        assert client.request("GetInputSettings", inputName=source_name("bars"))["inputSettings"]["file"] == str(
            tmp_path / "bars.png"
        )
        height, width = before.shape[:2]

        def drawn() -> bool:
            changed = np.abs(_screenshot(client, "Scene").astype(int) - before.astype(int)).max(axis=2) > 40
            return bool(
                changed[: height // 3, : width // 3].mean() > 0.05  # the bars, top left
                and changed[: height // 8, width // 2 :].mean() > 0.01  # the label, top right
                and changed[height * 2 // 3 :, : width // 3].mean() > 0.002  # the blink line, bottom left
            )

        assert wait_until(drawn, timeout=5, every=0.2)
    finally:
        sink.close()
    assert _items(client, "Scene").count(SCENE) == 1
    assert sorted(_items(client, SCENE)) == sorted(source_name(e) for e in ELEMENTS)
    assert _text(client, "label") == ""  # a stopped process leaves no stale reading on the stream

    # Running again reuses everything, and keeps where the user moved a source.
    item = next(
        i for i in client.request("GetSceneItemList", sceneName=SCENE)["sceneItems"] if "label" in i["sourceName"]
    )
    moved = {"positionX": 321.0, "positionY": 123.0}
    client.request("SetSceneItemTransform", sceneName=SCENE, sceneItemId=item["sceneItemId"], sceneItemTransform=moved)
    again = _sink(address, tmp_path)
    again.close()
    assert again.stats.created == []
    assert _items(client, "Scene").count(SCENE) == 1 and len(_items(client, SCENE)) == len(ELEMENTS)
    transform = client.request("GetSceneItemTransform", sceneName=SCENE, sceneItemId=item["sceneItemId"])
    assert transform["sceneItemTransform"]["positionX"] == 321.0

    # --obs-cleanup removes exactly what is ours.
    result = run_cli(["run", "--obs-cleanup", "--obs-port", str(address.port)])
    assert result.returncode == 0, result.stderr
    assert SCENE in result.stdout
    inputs = [i["inputName"] for i in client.request("GetInputList")["inputs"]]
    assert not [name for name in inputs if name.startswith(SCENE)]
    assert _items(client, "Scene") == []
    nothing = run_cli(["run", "--obs-cleanup", "--obs-port", str(address.port)])
    assert nothing.returncode == 0 and "nothing" in nothing.stderr


def test_elements_not_asked_for_are_hidden_and_come_back(
    address: ObsAddress, client: ObsConnection, tmp_path: Path
) -> None:
    _sink(address, tmp_path).close()
    only_label = _sink(address, tmp_path, elements=("label",))
    only_label.show(_state())
    assert wait_until(lambda: _text(client, "label") == "happy 83%")
    only_label.close()
    enabled = {
        i["sourceName"]: i["sceneItemEnabled"]
        for i in client.request("GetSceneItemList", sceneName=SCENE)["sceneItems"]
    }
    assert enabled == {source_name(e): e == "label" for e in ELEMENTS}
    _sink(address, tmp_path).close()
    assert all(i["sceneItemEnabled"] for i in client.request("GetSceneItemList", sceneName=SCENE)["sceneItems"])


def test_a_chosen_scene_and_a_missing_one(address: ObsAddress, client: ObsConnection, tmp_path: Path) -> None:
    client.request("CreateScene", sceneName="Interview")
    try:
        _sink(address, tmp_path, scene="Interview").close()
        assert _items(client, "Interview") == [SCENE]
        with pytest.raises(ObsError, match=r"no scene named 'Nope'; its scenes are: .*Interview"):
            _sink(address, tmp_path, scene="Nope")
    finally:
        remove_overlay(client)
        client.request("RemoveScene", sceneName="Interview")


def test_a_source_deleted_while_running_is_recreated(tmp_path: Path) -> None:
    # An OBS of its own: this test deletes a source behind the sink's back, the sequence that
    # crashed OBS 29 at the next cleanup (before remove_overlay unshowed our scene first), so
    # that if OBS ever does crash here, only this test says so.
    own = start_obs_or_skip()
    address = ObsAddress("127.0.0.1", own.port, own.password)
    try:
        client = ObsConnection(address)
        sink = _sink(address, tmp_path)
        try:
            sink.show(_state())
            assert wait_until(lambda: _text(client, "label") == "happy 83%")
            client.request("RemoveInput", inputName=source_name("label"))
            assert wait_until(lambda: _label_or_none(client) is None, timeout=5)  # OBS lets it go a moment later

            # The reading stays the same (a steady face): nothing new to send, yet the source
            # comes back within a few seconds (unchanged texts are sent again every RESEND_S)...
            assert wait_until(lambda: _label_or_none(client) == "happy 83%", timeout=10)
            # ...and the next reading reaches it.
            sink.show(_state(confidence=0.7))
            assert wait_until(lambda: _label_or_none(client) == "happy 70%", timeout=10)
        finally:
            sink.close()
            client.close()
        assert own.running, f"OBS ended by itself: {own.output_tail()}"
    finally:
        own.close()


def _label_or_none(client: ObsConnection) -> str | None:
    try:
        return _text(client, "label")
    except ObsError:
        return None


def test_wrong_password_is_one_line_and_never_shows_the_password(
    address: ObsAddress, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = ObsAddress(address.host, address.port, "not-the-password-42")
    with pytest.raises(ObsAuthError, match="refused the password"):
        _sink(wrong, tmp_path)
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", "not-the-password-42")
    clip = write_grey_clip(tmp_path / "grey.mp4")
    result = run_cli(["run", "--camera", str(clip), "--sink", "obs", "--obs-port", str(address.port), "--mic", "off"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "refused the password" in lines[0] and "OBS_WEBSOCKET_PASSWORD" in lines[0]
    assert "not-the-password-42" not in result.stderr + result.stdout
    out = tmp_path / "out.mp4"  # with another output, a warning and that output goes on
    both = ["--sink", "obs", "--sink", "file", "--out", str(out), "--seconds", "1"]
    result = run_cli(["run", "--camera", str(clip), *both, "--obs-port", str(address.port), "--mic", "off"])
    assert result.returncode == 0, result.stderr
    assert "refused the password" in result.stderr and "going on with the other outputs" in result.stderr
    assert cv2.VideoCapture(str(out)).read()[0]
    monkeypatch.setenv("OBS_WEBSOCKET_PASSWORD", "")
    unset = run_cli(["run", "--obs-cleanup", "--obs-port", str(address.port)])
    assert unset.returncode == 1 and "asks for a password and none is set" in unset.stderr


def test_obs_not_running(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    result = run_cli(["run", "--obs-cleanup", "--obs-port", str(port)])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert f"cannot reach OBS at 127.0.0.1:{port}" in lines[0] and "Enable WebSocket server" in lines[0]

    # `run` goes on without it (OBS may come later), saying so once, and the other outputs work.
    clip, out = write_grey_clip(tmp_path / "grey.mp4"), tmp_path / "out.mp4"
    command = ["run", "--camera", str(clip), "--sink", "obs", "--sink", "file", "--out", str(out), "--mic", "off"]
    run = run_cli([*command, "--obs-port", str(port), "--seconds", "3"])
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "cannot reach OBS" in line]
    assert len(warnings) == 1 and "appears in OBS as soon as it is reachable" in warnings[0]
    assert cv2.VideoCapture(str(out)).read()[0]

    caplog.set_level(logging.DEBUG, logger="overlay")
    sink = _sink(ObsAddress("127.0.0.1", port, "x"), tmp_path)
    started = time.perf_counter()
    for _ in range(100):
        sink.show(_state())
    assert time.perf_counter() - started < 0.05
    time.sleep(2.0)  # several reconnection attempts
    sink.close()
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "appears in OBS as soon as it is reachable" in said[0].getMessage()


def test_obs_killed_and_restarted_mid_run(
    obs: ObsInstance, address: ObsAddress, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="overlay")
    events: list[tuple[str, str]] = []
    sink = ObsOverlaySink(
        ObsSinkSettings(address, bars_file=tmp_path / "bars.png"),
        on_event=lambda kind, detail: events.append((kind, detail)),
    )
    try:
        sink.show(_state())
        assert wait_until(lambda: sink.stats.text_updates >= 3)
        obs.kill()
        waits = _time_shows(sink, 90, lambda i: _state(confidence=0.5 + i / 1000))  # 3 s while OBS is gone
        _assert_never_waited_on_obs(waits)
        assert not sink.connected.is_set()
        obs.start()
        sink.show(_state(label="sad", confidence=0.61))
        assert wait_until(sink.connected.is_set, timeout=15)
        with ObsConnection(address) as after:
            assert wait_until(lambda: _text(after, "label") == "sad 61%")
            remove_overlay(after)
    finally:
        sink.close()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([m for m in said if "lost the connection to OBS" in m]) == 1, said
    assert len([m for m in said if "is back" in m]) == 1, said
    assert [kind for kind, _ in events] == ["obs_lost", "obs_back"]
    assert sink.stats.outages == 1


def test_a_frozen_obs_never_delays_show_or_close(
    obs: ObsInstance, address: ObsAddress, client: ObsConnection, tmp_path: Path
) -> None:
    sink = _sink(address, tmp_path)
    assert obs.pid is not None
    try:
        sink.show(_state())
        assert wait_until(lambda: sink.stats.text_updates >= 3)
        os.kill(obs.pid, signal.SIGSTOP)
        waits = _time_shows(sink, 30, lambda i: _state(confidence=0.4 + i / 100))
        started = time.perf_counter()
        sink.close()
        closing = time.perf_counter() - started
    finally:
        os.kill(obs.pid, signal.SIGCONT)
        sink.close()
        # A fresh OBS for the tests after this one: OBS 29, thawed after its connections were
        # dropped while it was frozen, has (rarely) crashed later with a double free. The freeze
        # is this test's doing, not something the overlay does to a user's OBS.
        obs.kill()
        obs.start()
    _assert_never_waited_on_obs(waits)
    assert closing < 2.0  # not the 5 s request timeout
