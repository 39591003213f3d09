"""The OBS settings and the parts of the OBS overlay that need no OBS: config, secrets, flags, texts, bars image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from overlay.cli.live import _run_config
from overlay.cli.parser import build_parser
from overlay.config import Config, ConfigError, ObsConfig, load_config, parse_config, to_toml, without_secrets
from overlay.face.blinks import BlinkState
from overlay.fusion import FusedState
from overlay.labels import EMOTIONS
from overlay.obs.connection import PASSWORD_ENV, Backoff, ObsAddress, resolve_password
from overlay.render.draw import Captions, OverlayState, bars_image, bars_size
from overlay.session.metadata import session_metadata
from overlay.sinks.obs import bars_reading, overlay_texts
from tests.conftest import run_cli

SECRET = "hunter2-obs"


def test_obs_section_defaults_and_validation() -> None:
    assert Config().obs == ObsConfig()
    assert (Config().obs.host, Config().obs.port, Config().obs.password, Config().obs.scene) == (
        "127.0.0.1",
        4455,
        "",
        "",
    )
    config = parse_config({"obs": {"port": 4460, "elements": ["label", "bars"], "scene": "Talk"}})
    assert config.obs.port == 4460 and config.obs.elements == ("label", "bars") and config.obs.scene == "Talk"
    with pytest.raises(ConfigError, match=r"obs\.elements must be a list of label, blinks, captions, bars"):
        parse_config({"obs": {"elements": ["face"]}})
    with pytest.raises(ConfigError, match=r"obs\.port must be a whole number"):
        parse_config({"obs": {"port": "4455"}})
    assert parse_config({"output": {"sinks": ["vcam", "obs"]}}).output.sinks == ("vcam", "obs")


def test_the_password_is_shown_only_masked(isolated_config: Path) -> None:
    config = parse_config({"obs": {"password": SECRET}})
    shown = to_toml(config)
    assert SECRET not in shown and 'password = "********"' in shown
    assert 'password = ""' in to_toml(Config())  # an unset one is shown as unset
    isolated_config.write_text(f'[obs]\npassword = "{SECRET}"\n')
    assert load_config(isolated_config).obs.password == SECRET
    result = run_cli(["config", "show"])
    assert result.returncode == 0 and SECRET not in result.stdout and "********" in result.stdout


def test_the_password_never_reaches_a_session_timeline() -> None:
    config = parse_config({"obs": {"password": SECRET}})
    stored = json.dumps(session_metadata("live", "obs:Webcam", None, config), default=str)
    assert SECRET not in stored
    assert json.loads(stored)["settings"]["obs"]["password"] == "********"
    assert without_secrets(Config())["obs"]["password"] == ""
    assert without_secrets(config)["camera"] == without_secrets(Config())["camera"]  # the rest as it was


def test_the_password_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    assert resolve_password("from-config") == "from-config"
    monkeypatch.setenv(PASSWORD_ENV, "from-env")
    assert resolve_password("from-config") == "from-env"
    monkeypatch.setenv(PASSWORD_ENV, "")
    assert resolve_password("from-config") == ""  # set empty on purpose: no password
    address = ObsAddress("127.0.0.1", 4455, SECRET)
    assert SECRET not in repr(address) and SECRET not in str(address) and str(address) == "127.0.0.1:4455"


def test_obs_flags_override_the_config() -> None:
    flags = ["--obs-scene", "Talk", "--obs-elements", "label, bars", "--camera", "obs:Webcam"]
    args = build_parser().parse_args(
        ["run", "--sink", "obs", "--sink", "vcam", "--obs-host", "10.0.0.2", "--obs-port", "4460", *flags]
    )
    config = _run_config(args, parse_config({"obs": {"password": SECRET, "port": 4000}}))
    assert config.output.sinks == ("obs", "vcam") and config.camera.device == "obs:Webcam"
    assert (config.obs.host, config.obs.port, config.obs.scene) == ("10.0.0.2", 4460, "Talk")
    assert config.obs.elements == ("label", "bars") and config.obs.password == SECRET
    assert not args.obs_cleanup
    untouched = _run_config(build_parser().parse_args(["run"]), Config())
    assert untouched.obs == ObsConfig()


def test_bad_obs_elements_flag_is_a_usage_error() -> None:
    result = run_cli(["run", "--obs-elements", "label,mood"])
    assert result.returncode == 2 and "--obs-elements must be a list of label, blinks, captions, bars" in result.stderr


def _fused(label: str | None, confidence: float, top: float = 0.72) -> FusedState:
    probabilities = None
    if label:
        probabilities = np.full(7, (1 - top) / 6, dtype=np.float32)
        probabilities[EMOTIONS.index(label)] = top
    return FusedState(0.0, probabilities, label, confidence, 0.0, 0.0, {}, None)


def test_the_texts_shown_in_obs() -> None:
    face = np.array([0.05, 0.05, 0.05, 0.05, 0.6, 0.1, 0.1], dtype=np.float32)
    assert overlay_texts(None) == {"label": "", "blinks": "", "captions": "", "delivery": ""}
    assert overlay_texts(OverlayState(expression=face))["label"] == "sad 60%"  # the face when nothing is fused
    fused = OverlayState(expression=face, fused=_fused("happy", 0.715))
    assert overlay_texts(fused)["label"] == "happy 72%"  # the fused label when there is one
    flat = OverlayState(expression=face, fused=_fused("surprise", 0.21, top=0.21))
    assert overlay_texts(flat)["label"] == "unsure"  # never one label at 21 %
    assert overlay_texts(OverlayState(expression=face, fused=_fused(None, 0.0)))["label"] == "sad 60%"
    assert overlay_texts(OverlayState(expression=face, analysis_on=False))["label"] == "analysis paused"
    blinks = OverlayState(blink=BlinkState(None, None, False, 3, None))
    assert overlay_texts(blinks)["blinks"] == "blinks 3"  # no rate in the first seconds
    said = OverlayState(captions=Captions(("one", "two", "three"), "fo"))
    assert overlay_texts(said)["captions"] == "two\nthree\nfo"
    assert bars_reading(fused)[0] == "overall" and bars_reading(OverlayState(expression=face))[0] == "face"
    assert bars_reading(OverlayState(expression=face, analysis_on=False)) == ("", None)


def test_the_bars_image_is_truly_transparent() -> None:
    width, height = bars_size(1.0)
    empty = bars_image("", None, 1.0)
    assert empty.shape == (height, width, 4) and not empty.any()
    probabilities = np.array([0.05, 0.05, 0.05, 0.6, 0.1, 0.1, 0.05], dtype=np.float32)
    image = bars_image("face", probabilities, 1.0)
    assert image.shape == (height, width, 4)
    alpha = image[..., 3]
    panel = alpha[height - 3, width - 5]  # bare panel: see-through as on the video (55 % covering)
    assert abs(int(panel) - 140) <= 2 and abs(int(image[height - 3, width - 5, 0]) - 30) <= 2
    assert (alpha == 255).mean() > 0.1  # bars and text are opaque
    assert bars_size(1.5) == (570, bars_image("face", probabilities, 1.5).shape[0])  # scaled for a 1080p canvas


def test_reconnection_backoff() -> None:
    backoff = Backoff()
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 0.5
