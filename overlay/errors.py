"""Errors a user can act on: their message is one line saying what is wrong and what to do."""


class OverlayError(Exception):
    """Base class: the CLI prints the message as one line and exits with status 1."""


class ModelError(OverlayError):
    """A model file is missing, corrupt or does not match its card."""


class DataError(OverlayError):
    """Input data (images, audio, text, folders) cannot be used."""
