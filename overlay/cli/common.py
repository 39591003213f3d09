"""What every command shares: exit statuses, the config file, argument types."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from overlay.errors import OverlayError

if TYPE_CHECKING:
    from overlay.config import Config


EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def bounded_float(text: str, noun: str, accept: Callable[[float], bool], rule: str) -> float:
    """A finite number that `accept`s; else argparse's error: "expected NOUN" or "must be RULE"."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
    if not math.isfinite(value) or not accept(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
    return value


def seconds_or_zero(text: str) -> float:
    return bounded_float(text, "a number of seconds", lambda value: value >= 0, "0 or more seconds")


def positive_seconds(text: str) -> float:
    return bounded_float(text, "a number of seconds", lambda value: value > 0, "more than 0 seconds")


def probability(text: str) -> float:
    """A threshold strictly between 0 and 1."""
    return bounded_float(text, "a probability", lambda value: 0 < value < 1, "between 0 and 1")


def field_of_view(text: str) -> float:
    """A camera's field of view in degrees, 10 to 170."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected degrees, got {text!r}") from None
    if not 10 <= value <= 170:
        raise argparse.ArgumentTypeError(f"must be 10 to 170 degrees, got {text}")
    return value


def counted(count: int, plural_noun: str) -> str:
    """ "1 utterance", "2 utterances", "1 voice window" (the app counts nouns plural in -s)."""
    return f"{count} {plural_noun.removesuffix('s') if count == 1 else plural_noun}"


def actor_set(text: str) -> frozenset[int]:
    """ "17-20" or "17,18,20" -> a set of RAVDESS actor numbers."""
    actors: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            actors.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected actor numbers like 17-20 or 17,19, got {text!r}") from None
    return frozenset(actors)


def load_config(args: argparse.Namespace) -> Config:
    from overlay.config import load_config

    if args.config is not None and not args.config.is_file():
        raise OverlayError(f"{args.config}: no such config file; check the path given to --config")
    return load_config(args.config)


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, got {value}")
    return value
