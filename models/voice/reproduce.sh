#!/usr/bin/env bash
# Reproduce the shipped voice emotion model from ../shared/data/ravdess_speech (seeded):
# actors 01-16 train, 17-20 select; then export, verify and measure.
# Needs: bash installer/linux/venv.sh train
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/voice/train.py --out runs/voice
$python models/voice/export.py --checkpoint runs/voice/best.pt
