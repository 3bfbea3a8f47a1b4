#!/usr/bin/env bash
# Prepared training run of negas_mini on a lent CUDA machine (issue 9; docs/gpu-training.md).
#
# The machine has torch, numpy, OpenCV, PyYAML and safetensors but no sentence encoder, no
# WordNet and no pycocotools, so the work is split in three:
#   here, before:  negas-ros train-world --bank-out build/gpu_train/bank.npz
#   there:         bash scripts/gpu_train.sh            (carry build/gpu_train; writes $OUT/run)
#   here, after:   negas-ros train-world --release-run <fetched>/run --out DIR
# The run trains the shipped recipe (same network, batch, losses, seed, the pretrain scene stream
# from SCENE_OFFSET, default 0 as the shipped run) for a fixed wall-clock budget, with the cosine
# decay over that budget (--schedule time), so it ends annealed however fast the machine is; the
# render workers use every CPU core but one. The budget starts inside training: start-up and
# saving add about a minute, so give the device call MINUTES + 2.5 minutes.
#
# Settings (environment): OUT (default $OUT or ./gpu_train_out), BANK, MINUTES (training budget,
# default 6), DEVICE (default cuda), WORKERS (default: CPU cores - 1), BATCH (16), STEPS
# (upper bound, 100000), IMGSZ (256), SCENE_OFFSET (0), INIT_FROM (a model directory to continue
# from; default none: from scratch). The CPU check of this script (test/train) runs it with
# DEVICE=cpu and a few steps.
set -euo pipefail
export PYTHONUNBUFFERED=1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT:-$PWD/gpu_train_out}"
BANK="${BANK:-$ROOT/build/gpu_train/bank.npz}"
MINUTES="${MINUTES:-6}"
DEVICE="${DEVICE:-cuda}"
CORES="$(nproc)"
WORKERS="${WORKERS:-$(( CORES > 1 ? CORES - 1 : 0 ))}"
BATCH="${BATCH:-16}"
STEPS="${STEPS:-100000}"
IMGSZ="${IMGSZ:-256}"
SCENE_OFFSET="${SCENE_OFFSET:-0}"
INIT_FROM="${INIT_FROM:-}"

if [[ ! -f "$BANK" ]]; then
    echo "gpu_train.sh: no phrase bank at $BANK; write it first (on a machine with the" \
         "sentence encoder): negas-ros train-world --bank-out build/gpu_train/bank.npz" >&2
    exit 2
fi
mkdir -p "$OUT_DIR"
if [[ "$DEVICE" == cuda* ]]; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
fi
echo "gpu_train.sh: $DEVICE, $WORKERS render workers on $CORES cores, $MINUTES min, batch $BATCH," \
     "scenes from $SCENE_OFFSET, init ${INIT_FROM:-random}"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" python3 -m negas_ros.cli train-world \
    --bank "$BANK" --device "$DEVICE" --schedule time --time-limit-min "$MINUTES" \
    --steps "$STEPS" --batch "$BATCH" --imgsz "$IMGSZ" --workers "$WORKERS" --threads 1 \
    --scene-offset "$SCENE_OFFSET" ${INIT_FROM:+--init-from "$INIT_FROM"} \
    --val-every 0 --run-out "$OUT_DIR/run" --log-json "$OUT_DIR/log.jsonl"
