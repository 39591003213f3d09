#!/usr/bin/env bash
# Reproduce the shipped eye-contact model from ../shared/data/gaze/nitec_dev (seeded, one
# thread): features through the app's code, repeated 5-fold cross-validation, the final fit,
# ONNX export and card, the calibration measurement on headpose/pointing04_dev and the timing.
# About 5 minutes on one core. Needs scikit-learn and onnx (bash installer/linux/venv.sh train).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/eye_contact/train.py
