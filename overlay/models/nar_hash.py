"""The sha256 of a folder as Nix serialises it (a NAR), and Nix's own base-32 for hashes.

Some upstream archives have no published sha256 of the download, but Nix users pin the
unpacked tree: `fetchzip { url = ...; sha256 = "<nix base-32>"; }` is the sha256 of the
folder's Nix archive (NAR) serialisation, after the archive's single top folder is
stripped. That hash does not depend on the zip's timestamps or compression, only on the
names, contents, executable bits and symlinks of the files, so we can check a download
against it after unpacking, before the model is used.

NAR (nix/doc/manual/src/protocols/nix-archive.md): every string is a 64-bit little-endian
length, the bytes, and zero padding to a multiple of 8; a node is `( type regular
[executable ""] contents <bytes> )`, `( type symlink target <t> )` or `( type directory
entry ( name <n> node <node> ) ... )` with the entries sorted by name bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Final, Protocol

NIX32_ALPHABET: Final = "0123456789abcdfghijklmnpqrsvwxyz"  # no e, o, t, u
CHUNK: Final = 1 << 20


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


def nix32_decode(text: str) -> bytes:
    """Bytes from Nix's base-32 (as printed by `nix hash` and pinned in nixpkgs); ValueError if malformed.

    Nix writes the last 5-bit group first and packs the bits little-endian, so this is not
    RFC 4648 base-32 with another alphabet.
    """
    size = len(text) * 5 // 8
    out = bytearray(size)
    for position, char in enumerate(reversed(text)):
        digit = NIX32_ALPHABET.find(char)
        if digit < 0:
            raise ValueError(f"{char!r} is not a Nix base-32 digit")
        bit = position * 5
        byte, shift = divmod(bit, 8)
        out[byte] |= (digit << shift) & 0xFF
        carry = digit >> (8 - shift)
        if byte + 1 < size:
            out[byte + 1] |= carry
        elif carry:
            raise ValueError(f"{text!r} has bits beyond its length")
    return bytes(out)


def nar_sha256(path: Path, *, skip: frozenset[str] = frozenset()) -> str:
    """Hex sha256 of the NAR serialisation of `path` (a file, symlink or folder).

    `skip` names entries of the top folder to leave out (our own bookkeeping files).
    """
    digest = hashlib.sha256()
    _string(digest, b"nix-archive-1")
    _node(digest, path, skip)
    return digest.hexdigest()


def _string(digest: _Hasher, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "little"))
    digest.update(data)
    digest.update(b"\0" * (-len(data) % 8))


def _node(digest: _Hasher, path: Path, skip: frozenset[str] = frozenset()) -> None:
    mode = path.lstat().st_mode
    _string(digest, b"(")
    _string(digest, b"type")
    if stat.S_ISLNK(mode):
        _string(digest, b"symlink")
        _string(digest, b"target")
        _string(digest, os.fsencode(os.readlink(path)))
    elif stat.S_ISDIR(mode):
        _string(digest, b"directory")
        for name in sorted(os.fsencode(entry.name) for entry in os.scandir(path)):
            if os.fsdecode(name) in skip:
                continue
            _string(digest, b"entry")
            _string(digest, b"(")
            _string(digest, b"name")
            _string(digest, name)
            _string(digest, b"node")
            _node(digest, path / os.fsdecode(name))
            _string(digest, b")")
    elif stat.S_ISREG(mode):
        _string(digest, b"regular")
        if mode & stat.S_IXUSR:
            _string(digest, b"executable")
            _string(digest, b"")
        _string(digest, b"contents")
        size = path.stat().st_size
        digest.update(size.to_bytes(8, "little"))
        with path.open("rb") as source:  # streamed: model files are hundreds of MB
            while chunk := source.read(CHUNK):
                digest.update(chunk)
        digest.update(b"\0" * (-size % 8))
    else:
        raise ValueError(f"{path}: neither a file, a folder nor a symlink")
    _string(digest, b")")
