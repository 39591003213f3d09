"""Choosing a device by (part of) its name, the same way for cameras and microphones."""

from __future__ import annotations

from collections.abc import Sequence

from overlay.errors import DataError


def pick_by_name(spec: str, devices: Sequence[tuple[int, str]], kind: str) -> int:
    """The index of the one device whose name is `spec` (any case) or, failing that, contains it.

    No match or several give a DataError listing the devices there are.
    """
    wanted = spec.strip().casefold()
    exact = [index for index, name in devices if name.casefold() == wanted]
    matches = exact or [index for index, name in devices if wanted in name.casefold()]
    if len(matches) == 1:
        return matches[0]
    known = "; ".join(f"{index}: {name}" for index, name in devices) or "none found"
    if not matches:
        raise DataError(f"no {kind} named like {spec!r} ({kind}s: {known}); run `emotion-overlay devices`")
    raise DataError(f"{spec!r} matches several {kind}s ({known}); give more of the name or the index")
