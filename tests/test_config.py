"""The settings file: defaults, validation that names the key, flags over the file, the config command."""

from pathlib import Path

import pytest

from overlay.config import Config, ConfigError, load_config, parse_config, to_toml
from tests.conftest import run_cli


def test_a_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml") == Config()


def test_the_file_needs_only_what_changes(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[camera]\ndevice = "BRIO"\nfps = 60\n[overlay]\nblinks = false\n[output]\nsinks = "file"\n')
    config = load_config(path)
    assert config.camera.device == "BRIO" and config.camera.fps == 60 and config.camera.width == 1280
    assert config.overlay.blinks is False and config.overlay.expression_bars is True
    assert config.output.sinks == ("file",)


def test_show_output_reads_back_as_the_same_config(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    changed = parse_config({"camera": {"mirror": True, "device": 'cam "A"'}, "face": {"smoothing_seconds": 2}})
    path.write_text(to_toml(changed))
    assert load_config(path) == changed


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"camera": {"fps": "fast"}}, "camera.fps must be a whole number >= 1, not 'fast'"),
        ({"camera": {"fps": 0}}, "camera.fps must be 1 to 240"),
        ({"camera": {"fsp": 30}}, "unknown key camera.fsp; keys in [camera] are device, width, height, fps, mirror"),
        ({"screen": {}}, "unknown section [screen]"),
        ({"output": {"sinks": ["tv"]}}, "output.sinks must be a list of vcam, file, preview"),
        ({"overlay": {"blinks": "yes"}}, "overlay.blinks must be true or false"),
        ({"face": {"smoothing_seconds": -1}}, "face.smoothing_seconds must be >= 0"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(raw: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(raw)
    assert message in str(caught.value)


def test_broken_toml_is_one_line_from_the_cli(isolated_config: Path, shared_data: Path) -> None:
    isolated_config.write_text("[camera\nfps = 3\n")
    result = run_cli(["run", "--camera", str(shared_data / "video" / "talking" / "1.mp4"), "--sink", "file"])
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not valid TOML" in lines[0] and "config reset" in lines[0]


def test_config_command_path_show_reset(isolated_config: Path) -> None:
    assert run_cli(["config", "path"]).stdout.strip() == str(isolated_config)
    assert "[overlay]" in run_cli(["config", "show"]).stdout
    isolated_config.write_text("[camera]\nfps = 15\n")
    result = run_cli(["config", "reset"])
    assert result.returncode == 0
    assert load_config(isolated_config) == Config()
    assert "fps = 15" in isolated_config.with_suffix(".toml.bak").read_text()


def test_config_edit_runs_the_editor_and_checks_the_result(isolated_config: Path, tmp_path: Path) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "[camera]\\nfps = -3\\n" > "$1"\n')
    editor.chmod(0o755)
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "overlay", "config", "edit"],
        env=os.environ | {"EDITOR": str(editor)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "camera.fps must be 1 to 240" in result.stderr
