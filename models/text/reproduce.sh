#!/usr/bin/env bash
# Reproduce the shipped text emotion model (1.1) from ../shared/data/goemotions (seeded):
# fine-tune all-MiniLM-L6-v2 for 2 epochs on the train split (class weights 1/count^0.25,
# the auxiliary 28-label head, seed 1), select on dev, then export (prior correction chosen
# on dev, int8 quantisation), verify and measure. CPU kernels may differ in the last digits.
# About 20 minutes on 2 CPU cores with AVX-512 bf16. Needs: bash installer/linux/venv.sh train
# To compare runs or try a weight soup: python models/text/soup.py runs/*/best.pt
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/text/train.py --out runs/text --epochs 2 --class-weight-power 0.25 --fine-labels-weight 1 --seed 1
$python models/text/export.py --checkpoint runs/text/best.pt
