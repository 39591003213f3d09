"""emotion-overlay: a local, real-time emotion overlay for webcam video."""

import os

# Nothing leaves the machine: onnxruntime >= 1.29 sends usage telemetry (device id, OS, CPU,
# paths) to Microsoft on Linux and macOS unless this is set before it initialises. Every
# entry point imports this package before onnxruntime, and child processes inherit it.
# Forced, not defaulted: a stray ORT_DISABLE_TELEMETRY=0 in the user's shell must not win.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
