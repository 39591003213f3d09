"""emotion-overlay: a local, real-time emotion overlay for webcam video."""

__version__ = "0.1.0"
