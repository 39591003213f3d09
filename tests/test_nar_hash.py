"""Nix-archive hashes: checked against values Nix itself printed (`nix hash path`, `nix hash file`)."""

import base64
import hashlib
from pathlib import Path

import pytest

from overlay.models.nar_hash import nar_sha256, nix32_decode


def sri_hex(sri: str) -> str:
    return base64.b64decode(sri.removeprefix("sha256-")).hex()


def test_a_single_file_hashes_as_nix_hash_path_prints(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello")
    assert nar_sha256(tmp_path / "hello.txt") == sri_hex("sha256-CkMIecJm+LV/QJKg+TXPP6zUi7zN5XYNR0jKQFFx6Wk=")


def test_a_folder_hashes_as_nix_hash_path_prints(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello")
    assert nar_sha256(tmp_path) == sri_hex("sha256-KAu6dmvIOUDFbBf9INpPeZtIaA0nfu2LV8byhsTF9LU=")


def test_skipped_entries_and_the_executable_bit(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_bytes(b"hello")
    plain = nar_sha256(tmp_path)
    (tmp_path / ".record.json").write_text("{}")
    assert nar_sha256(tmp_path, skip=frozenset({".record.json"})) == plain
    assert nar_sha256(tmp_path) != plain
    (tmp_path / ".record.json").unlink()
    (tmp_path / "hello.txt").chmod(0o755)
    assert nar_sha256(tmp_path) != plain  # Nix records the executable bit


def test_nix_base32_decodes_to_the_same_digest() -> None:
    # `echo -n hello | nix hash file --base32 /dev/stdin`
    assert nix32_decode("094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwic") == hashlib.sha256(b"hello").digest()
    with pytest.raises(ValueError, match="not a Nix base-32 digit"):
        nix32_decode("094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwie")  # 'e' is not in the alphabet
