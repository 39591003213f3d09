"""Listing cameras and microphones, and choosing them by name."""

import json
from pathlib import Path

import pytest

from overlay.errors import DataError
from overlay.sources.camera_devices import CameraDevice, list_cameras, resolve_camera
from tests.conftest import run_cli


def fake_sysfs(root: Path, nodes: dict[str, tuple[str, str]]) -> Path:
    """/sys/class/video4linux as the kernel lays it out: videoN/{name,index}."""
    for node, (name, index) in nodes.items():
        (root / node).mkdir(parents=True)
        (root / node / "name").write_text(name + "\n")
        (root / node / "index").write_text(index + "\n")
    return root


def test_linux_cameras_come_from_sysfs_without_metadata_nodes(tmp_path: Path) -> None:
    root = fake_sysfs(
        tmp_path,
        {
            "video0": ("Integrated Camera", "0"),
            "video1": ("Integrated Camera", "1"),  # the UVC metadata node
            "video10": ("Emotion Overlay", "0"),
            "video2": ("Logitech BRIO", "0"),
        },
    )
    cameras = list_cameras(root)
    assert [(c.index, c.name) for c in cameras] == [
        (0, "Integrated Camera"),
        (2, "Logitech BRIO"),
        (10, "Emotion Overlay"),
    ]
    assert cameras[1].path == "/dev/video2"


CAMERAS = [
    CameraDevice(0, "Integrated Camera", ""),
    CameraDevice(2, "Logitech BRIO", ""),
    CameraDevice(4, "BRIO 4K", ""),
]


def test_a_camera_is_chosen_by_index_or_part_of_its_name() -> None:
    assert resolve_camera("2", CAMERAS) == 2
    assert resolve_camera("integrated", CAMERAS) == 0
    assert resolve_camera("logitech brio", CAMERAS) == 2
    assert resolve_camera("BRIO 4K", CAMERAS) == 4  # exact beats partial


@pytest.mark.parametrize(("spec", "message"), [("Sony", "no camera named like 'Sony'"), ("BRIO", "matches several")])
def test_unknown_or_ambiguous_names_list_the_cameras(spec: str, message: str) -> None:
    with pytest.raises(DataError) as caught:
        resolve_camera(spec, CAMERAS)
    assert message in str(caught.value) and "2: Logitech BRIO" in str(caught.value)


def test_devices_command_lists_both_kinds() -> None:
    result = run_cli(["devices", "--json"])
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert set(listing) == {"cameras", "microphones", "problems"}
    text = run_cli(["devices"])
    assert "Cameras" in text.stdout and "Microphones" in text.stdout


def test_a_camera_name_that_matches_nothing_is_one_line(tmp_path: Path) -> None:
    result = run_cli(["run", "--camera", "No Such Camera Model", "--sink", "file", "--out", str(tmp_path / "o.mp4")])
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no camera named like 'No Such Camera Model'" in result.stderr
