#!/usr/bin/env bash
# Reproduce the shipped text emotion model from ../shared/data/goemotions (seeded):
# fine-tune all-MiniLM-L6-v2 for 2 epochs on the train split, select on dev, then export
# (prior correction chosen on dev, int8 quantisation), verify and measure.
# About 45 minutes on 2 CPU cores with AVX-512 bf16. Needs: bash installer/linux/venv.sh train
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/text/train.py --out runs/text --epochs 2
$python models/text/export.py --checkpoint runs/text/best.pt
