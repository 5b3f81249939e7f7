#!/usr/bin/env bash
# Hyper-parameter sweep for benchmarks/gaussian_mi.py: runs the variants below in parallel (for a
# many-core or GPU machine) and concatenates their tables into $OUT/gaussian_mi_sweep.parquet.
#   DEVICE=cuda OUT=results/benchmarks SEEDS="0 1 2" benchmarks/gaussian_mi_sweep.sh
# (one process per variant and seed: size the variant list to the cores available)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}; [ -x "$PY" ] || PY=python3
OUT=${OUT:-results/benchmarks}; DEVICE=${DEVICE:-cpu}; SEEDS=${SEEDS:-"0 1 2"}; NOISE=${NOISE:-1.0}
mkdir -p "$OUT/sweep"
VARIANTS=(
  "cross2_w256_s8k_drop|--width 256 --steps 8000 --ensemble 2 --dropout 0.1"
  "w256_s20k|--width 256 --steps 20000"
  "w256_s40k|--width 256 --steps 40000"
  "w256_s10k|--width 256 --steps 10000"
  "w512_s20k|--width 512 --steps 20000"
  "w256_s20k_ema|--width 256 --steps 20000 --ema 0.999"
  "w256_s20k_b1024|--width 256 --steps 20000 --batch 1024"
  "w256_s20k_pu02|--width 256 --steps 20000 --p-uncond 0.2"
  "twonet_w256_s20k|--width 256 --steps 20000 --two-net"
)
for v in "${VARIANTS[@]}"; do
  name=${v%%|*}; args=${v#*|}
  for seed in $SEEDS; do  # one process per (variant, seed)
    # shellcheck disable=SC2086
    "$PY" benchmarks/gaussian_mi.py --noise $NOISE --seeds "$seed" $args --device "$DEVICE" --threads 1 \
      --snapshots --tag "$name" --out "$OUT/sweep/${name}_s$seed.parquet" > "$OUT/sweep/${name}_s$seed.log" 2>&1 &
  done
done
wait || true
"$PY" - "$OUT" <<'PY'
import sys, glob, pandas as pd
out = sys.argv[1]
parts = [pd.read_parquet(p) for p in sorted(glob.glob(f"{out}/sweep/*.parquet"))]
if parts:
    df = pd.concat(parts, ignore_index=True)
    df.to_parquet(f"{out}/gaussian_mi_sweep.parquet", index=False)
    fin = df[df.kind == "final"]
    print(fin.groupby("tag")[["mi_minde_rel_error", "mi_diff_rel_error", "mi_mmse_rel_error", "steps", "train_seconds"]]
          .agg(["mean", "min", "max"]).round(4).to_string())
PY
