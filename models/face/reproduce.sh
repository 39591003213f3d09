#!/usr/bin/env bash
# Reproduce the shipped face expression model from ../shared/data/fer2013 (seeded).
# Stage 1: 60 epochs, cosine from lr 0.02. Stage 2: a second, shorter cosine cycle from
# stage 1's best weights. Then export, verify and measure. About 95 minutes on 2 CPU cores (AVX-512 bf16).
# Needs: bash installer/linux/venv.sh train
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/face/train.py --out runs/face --epochs 60 --lr 0.02
$python models/face/train.py --out runs/face2 --init runs/face/best.pt --epochs 30 --lr 0.008 --warmup-epochs 0.5 --seed 1
$python models/face/export.py --checkpoint runs/face2/best.pt
