#!/usr/bin/env bash
# Reproduce the shipped head pose face shape from ../shared/data/headpose/pointing04_dev:
# landmarks through the app's face tracker, the shape and pitch calibration fitted leaving
# each person out (figures printed), then on all seven, written to
# overlay/attention/face_shape.py. About 30 s on one core; needs only the test install.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/head_pose/fit.py --write
