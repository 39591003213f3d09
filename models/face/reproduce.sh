#!/usr/bin/env bash
# Reproduce the shipped face expression model from ../shared/data/fer2013 (seeded):
# stage 1, 25 epochs of SGD with a cosine schedule from lr 0.03 on FER+ vote targets;
# stage 2, a warm restart of 8 epochs from stage 1's best weights at lr 0.01; stage 3, a
# second warm restart of 10 epochs at lr 0.006 (one thread, as it was run); then export,
# verify and measure (val with FER+ majority and FER2013 labels, framing robustness, speed).
# About 100 minutes on 2 CPU cores in fp32 (bf16 where the CPU has it; a CUDA GPU when present).
# Needs: bash installer/linux/venv.sh train
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-.venv/bin/python}
$python models/face/train.py --out runs/face
$python models/face/train.py --out runs/face_stage2 --init runs/face/best.pt --epochs 8 --lr 0.01 --warmup-epochs 0.5
$python models/face/train.py --out runs/face_stage3 --init runs/face_stage2/best.pt --epochs 10 --lr 0.006 --warmup-epochs 0.5 --threads 1
$python models/face/export.py --checkpoint runs/face_stage3/best.pt
