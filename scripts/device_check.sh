#!/usr/bin/env bash
# Device check (GPU machine): the tiny config's training and measurement jobs on CUDA and on CPU
# agree within stated tolerances; writes $OUT/device_check.json and prints it. Installs nothing.
#   scripts/device_check.sh            # OUT defaults to the current directory
#   OUT=/tmp/out scripts/device_check.sh --launcher inline
# Python: .venv/bin/python when it imports torch and diffsep's dependencies, else python3.
# Expected: < 1 min on an H100/H200 machine with 16 cores (hard limit 230 s); ~2-3 min on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.}"
mkdir -p "$OUT"
NEED="import torch, numpy, scipy, pandas, pyarrow, yaml, jsonschema, tqdm"
PY=""
for cand in .venv/bin/python python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "$NEED" 2>/dev/null; then PY="$cand"; break; fi
done
if [ -z "$PY" ]; then
    for cand in .venv/bin/python python3; do
        command -v "$cand" >/dev/null 2>&1 && { echo "$cand:"; "$cand" -c "$NEED" 2>&1 | tail -1; }
    done
    echo "device_check: no python with torch and diffsep's dependencies (run 'make setup' or install them)" >&2
    exit 2
fi
echo "device_check: using $PY ($("$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'))"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # diffsep from this checkout, installed or not
LAUNCH=()  # jobs in submitit subprocesses (as on a cluster node) when submitit is there, else in-process
"$PY" -c "import submitit" 2>/dev/null || { echo "device_check: submitit missing: jobs run inline"; LAUNCH=(--launcher inline); }
exec timeout 230 "$PY" scripts/device_check.py --out "$OUT" "${LAUNCH[@]}" "$@"
