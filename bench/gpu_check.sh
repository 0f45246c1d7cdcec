#!/usr/bin/env bash
# One-GPU check of the training stack (bench/gpu_check.py): train the tiny test model for a few steps
# with the GPU recipes' settings (bf16, packing, activation checkpointing, 4-bit when bitsandbytes is
# installed), evaluate, serve and merge it; offline, in <= 8 minutes on one CUDA GPU.
#
#   bench/gpu_check.sh [OUT_DIR]          # on the GPU machine, from the repository root
#   CTXENG_WHEELS=wheels/ bench/gpu_check.sh   # first install carried wheels (no index, no network)
#   bench/gpu_check.sh OUT_DIR --cpu      # the same flow on a CPU (bf16 and 4 bits off): checks the script
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-.}}
shift || true
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 MALLOC_TOP_PAD_=536870912
py=${PYTHON:-python3}
if [ -n "${CTXENG_WHEELS:-}" ]; then
  # Only what is on this machine plus the carried wheels: never an index (PIP_NO_INDEX above).
  "$py" -m pip install -q --no-index --find-links "$CTXENG_WHEELS" -e '.[train,serve]'
  ls "$CTXENG_WHEELS"/bitsandbytes-*.whl >/dev/null 2>&1 && \
    "$py" -m pip install -q --no-index --find-links "$CTXENG_WHEELS" bitsandbytes
fi
"$py" -c "import ctxeng, torch, transformers, peft, trl, starlette, uvicorn" || {
  echo "gpu_check: missing packages; install ctxeng[train,serve] (CTXENG_WHEELS=dir to use carried wheels)" >&2
  exit 2
}
timeout 480 "$py" bench/gpu_check.py --out "$out/gpu_check.json" "$@"
