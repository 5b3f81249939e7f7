"""Device check: the tiny config's training and measurement jobs on CUDA and on CPU agree.

Runs, through :mod:`diffsep.launch` (kind ``local`` by default: each job in its own submitit
subprocess, as on a cluster node), for each vector dataset of ``tests/configs/tiny.yaml``:

1. train the tiny model on CPU and (when CUDA is available) on CUDA, plus a second CUDA run;
2. measure each model on its own device, and the CPU-trained model on CUDA too.

Checks (tolerances are stated in the JSON summary):

* ``measure_cpu_vs_cuda``: the same weights measured on CUDA and on CPU give the same estimates
  within ``|cuda - cpu| <= 1e-4 * (|cpu| + 1)`` (float32, TF32 off; noise drawn on CPU);
* ``train_cpu_vs_cuda``: models trained on CUDA and on CPU (same seed) give estimates that
  differ by less than ``3 * sqrt(se_cpu^2 + se_cuda^2)`` (their statistical error bars), and
  final held-out losses within 5 %;
* ``cuda_repeatable`` (reported, not required): two CUDA trainings with the same seed give
  bit-identical weights (CUDA atomics, e.g. in embedding backward, may break this);
* ``provenance``: ``device=auto`` picked CUDA exactly when available; the information table and
  the model file record device, precision and torch version.

Writes ``device_check.json`` to ``--out`` (the ``$OUT`` folder in scripts/device_check.sh), prints
it, and exits 0 when every check passed (on a machine without CUDA only the CPU half runs).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ESTIMATES = ("S_marg", "S_cond", "mi_minde", "mi_diff", "mi_mmse")
TOL = {"measure_cpu_vs_cuda": "|cuda - cpu| <= 1e-4 * (|cpu| + 1) for S_marg, S_cond, mi_minde, mi_diff, mi_mmse",
       "train_cpu_vs_cuda": "|cuda - cpu| <= 3 * sqrt(se_cpu^2 + se_cuda^2) per estimate; held-out loss within 5 %",
       "cuda_repeatable": "bit-identical weights from two CUDA trainings with the same seed (reported only)"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=".", help="folder for device_check.json")
    ap.add_argument("--config", default=str(REPO / "tests/configs/tiny.yaml"))
    ap.add_argument("--launcher", default="local", choices=["local", "inline"], help="how jobs run")
    ap.add_argument("--threads", type=int, default=4, help="CPU threads per job")
    ap.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    import torch
    import yaml

    from diffsep import config

    cuda = torch.cuda.is_available()
    summary = {"ok": False, "cuda_available": cuda, "torch": torch.__version__, "torch_cuda": torch.version.cuda,
               "gpu": torch.cuda.get_device_name(0) if cuda else None, "python": sys.executable,
               "platform": platform.platform(), "launcher": args.launcher, "threads": args.threads,
               "tolerances": TOL, "checks": [], "results": {},
               "note": None if cuda else "no CUDA device (torch.cuda.is_available() is False): only the CPU half ran"}
    checks = summary["checks"]

    def check(name, ok, **detail):  # cuda_repeatable is reported, not required (CUDA atomics may differ)
        checks.append({"name": name, "ok": bool(ok), "required": name != "cuda_repeatable", **detail})

    def on_term(signum, frame):  # `timeout` in device_check.sh: still write the summary
        raise TimeoutError(f"stopped by signal {signum} (time limit of scripts/device_check.sh)")

    signal.signal(signal.SIGTERM, on_term)
    work = Path(args.work or tempfile.mkdtemp(prefix="diffsep-device-"))
    launcher = {"kind": args.launcher, "folder": str(work / "submitit"), "poll_seconds": 0.5, "timeout_min": 10,
                # submitit's local executor hides GPUs from jobs that ask for none (CUDA_VISIBLE_DEVICES="")
                "gpus_per_job": 1 if cuda else 0}
    try:
        plan = config.load(yaml.safe_load(Path(args.config).read_text()))
        mname = plan.config["experiments"]["information"]["models"]["vector"]
        datasets = [d for d in plan.config["experiments"]["information"]["datasets"] if d in plan.datasets][:2]
        _run_checks(summary, check, plan, work, launcher, mname, datasets, args.threads, cuda)
    except Exception as exc:  # a failed job: still write the summary, with the one-line reason
        summary["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    summary["ok"] = bool(checks) and all(c["ok"] for c in checks if c["required"]) and "error" not in summary
    summary["seconds"] = time.perf_counter() - t_start
    summary["work"] = str(work)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(summary, indent=2, default=str)
    (out / "device_check.json").write_text(text + "\n")
    print(text)
    print(f"device check: {'PASS' if summary['ok'] else 'FAIL'} ({'CUDA and CPU' if cuda else 'CPU only: no CUDA'}), "
          f"{summary['seconds']:.0f} s; summary in {out / 'device_check.json'}")
    return 0 if summary["ok"] else 1


def _run_checks(summary, check, plan, work, launcher, mname, datasets, threads, cuda):
    import pandas as pd
    import torch

    from diffsep import launch
    from diffsep.stages import prepare
    from diffsep.io import load_torch

    # 1. data (here, in this process)
    jobs = {}
    for ds in datasets:
        spec = plan.datasets[ds]
        res = int(spec["resolutions"][0])
        data = str(work / f"{ds}.npz")
        prepare.run({}, {"data": data}, name=ds, spec=spec, resolution=res)
        jobs[ds] = (res, data, mname)

    devices = ["cpu"] + (["auto", "auto#2"] if cuda else [])  # auto must pick CUDA when it is there

    def tag(dev):
        return dev.replace("#", "_")

    # 2. training jobs: one array
    train_kw = []
    for ds, (res, data, mname) in jobs.items():
        for dev in devices:
            out = {"model": str(work / f"{ds}-{tag(dev)}.pt"), "history": str(work / f"{ds}-{tag(dev)}.history.parquet")}
            train_kw.append({"inp": {"data": data}, "out": out, "dataset": ds, "resolution": res, "model": mname,
                             "model_cfg": plan.config["models"][mname], "seed": 0, "process": plan.config["process"],
                             "threads": threads, "device": dev.split("#")[0], "progress": False})
    t0 = time.perf_counter()
    launch.run_array("train", "diffsep.stages.train", train_kw, launcher, what="device check")
    summary["train_wall_seconds"] = time.perf_counter() - t0

    # 3. measurement jobs: each model on its device; the CPU model on CUDA as well
    runs = [(ds, dev, dev) for ds in jobs for dev in devices if dev != "auto#2"]
    runs += [(ds, "cpu", "auto") for ds in jobs] if cuda else []
    meas_kw = []
    for ds, trained, dev in runs:
        res, data, mname = jobs[ds]
        folder = work / f"measure-{ds}-{tag(trained)}-on-{tag(dev)}"
        out = {k: str(folder / f"{k}.parquet") for k in ("information", "rates", "per_class", "cutoffs")}
        meas_kw.append({"inp": {"data": data, "model": str(work / f"{ds}-{tag(trained)}.pt")}, "out": out,
                        "dataset": ds, "resolution": res, "model": mname, "seed": 0, "process": plan.config["process"],
                        "settings": plan.config["experiments"]["information"], "threads": threads,
                        "device": dev, "progress": False})
    t0 = time.perf_counter()
    launch.run_array("measure", "diffsep.stages.measure", meas_kw, launcher, what="device check")
    summary["measure_wall_seconds"] = time.perf_counter() - t0

    # 4. compare
    for (ds, trained, dev), kw in zip(runs, meas_kw):
        row = pd.read_parquet(kw["out"]["information"]).iloc[0]
        model_file = load_torch(kw["inp"]["model"])
        meta = json.loads(model_file["meta"])
        hist = pd.read_parquet(kw["inp"]["model"].replace(".pt", ".history.parquet"))
        summary["results"].setdefault(ds, {})[f"trained_{tag(trained)}_measured_{tag(dev)}"] = {
            **{k: float(row[k]) for k in ESTIMATES}, **{f"{k}_se": float(row[f"{k}_se"]) for k in ESTIMATES},
            "device": row["device"], "precision": row["precision"], "torch_version": row["torch_version"],
            "train_device": meta.get("device"), "train_seconds": meta.get("train_seconds"),
            "measure_seconds": float(row["measure_seconds"]), "final_holdout": float(hist["holdout"].dropna().iloc[-1])}
        want_cuda = dev == "auto" and cuda
        ok = row["device"].startswith("cuda") == want_cuda and meta["device"].startswith("cuda") == (trained != "cpu" and cuda)
        ok = ok and bool(row["precision"]) and row["torch_version"] == torch.__version__ and meta.get("torch_version")
        check("provenance", ok, dataset=ds, run=f"trained {trained}, measured {dev}", device=row["device"],
              train_device=meta.get("device"), precision=row["precision"], torch_version=row["torch_version"])

    for ds, r in summary["results"].items():
        cpu = r["trained_cpu_measured_cpu"]
        if not cuda:
            continue
        cross = r["trained_cpu_measured_auto"]
        diffs = {k: abs(cross[k] - cpu[k]) for k in ESTIMATES}
        check("measure_cpu_vs_cuda", all(diffs[k] <= 1e-4 * (abs(cpu[k]) + 1) for k in ESTIMATES), dataset=ds,
              abs_diff=diffs)
        gpu = r["trained_auto_measured_auto"]
        diffs = {k: abs(gpu[k] - cpu[k]) for k in ESTIMATES}
        bars = {k: 3 * math.hypot(gpu[f"{k}_se"], cpu[f"{k}_se"]) for k in ESTIMATES}
        hl = abs(gpu["final_holdout"] - cpu["final_holdout"]) / abs(cpu["final_holdout"])
        check("train_cpu_vs_cuda", all(diffs[k] <= bars[k] for k in ESTIMATES) and hl <= 0.05, dataset=ds,
              abs_diff=diffs, allowed=bars, holdout_rel_diff=hl)
        a, b = (load_torch(work / f"{ds}-{t}.pt")["state"] for t in ("auto", "auto_2"))
        same = a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        check("cuda_repeatable", same, dataset=ds,
              max_abs_diff=0.0 if same else max(float((a[k] - b[k]).abs().max()) for k in a))
        w_cpu = load_torch(work / f"{ds}-cpu.pt")["state"]
        summary["results"][ds]["weights_max_abs_diff_cpu_vs_cuda"] = max(
            float((a[k].float() - w_cpu[k].float()).abs().max()) for k in a)



if __name__ == "__main__":
    sys.exit(main())
