"""The joint-Gaussian benchmark script runs end to end (tiny sizes) and writes its table."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def test_gaussian_benchmark_with_two_networks_writes_cross_fitted_rows(tmp_path):
    out = tmp_path / "g.parquet"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gaussian_mi.py"), "--noise", "1.0", "--seeds", "4",
           "--dx", "4", "--dy", "2", "--n-train", "600", "--n-eval", "300", "--width", "32", "--steps", "30",
           "--eval-every", "10", "--ensemble", "2", "--n-times", "8", "--threads", "1", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300)
    df = pd.read_parquet(out)
    assert list(df["kind"]) == ["snapshot", "final", "exact"]
    assert list(df["members"]) == [1, 2, 0]
    final = df[df["kind"] == "final"].iloc[0]
    assert final["steps"] == 60 and final["mi_minde_cross_se"] > 0
    assert df.loc[df["kind"] == "snapshot", "mi_minde_cross"].isna().all()
    exact = df[df["kind"] == "exact"].iloc[0]
    assert abs(exact["mi_minde_rel_error"]) < 0.1  # exact scores on 300 pairs, 8 nodes
