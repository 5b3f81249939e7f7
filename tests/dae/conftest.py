"""Fixtures of the DAE tests: the stage run (train + measure jobs of a ladder and a plain DAE)."""

import pytest

from diffsep.dae import MEASURE_KEYS, TRAIN_KEYS
from diffsep.data import save_prepared

from dae.common_dae import SETTINGS, synth


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the DAG's jobs use (several threads thrash on a shared 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def stage_run(tmp_path_factory):
    """The dae stage (train, then measure) of a ladder and a plain DAE on tiny synthetic data, with a classifier."""
    from diffsep.stages import classifier as clf, dae as dae_stage

    def train_job(inp, out, dataset, resolution, s_star, seed, settings, process, **kw):
        return dae_stage.run(inp, out, part="train", dataset=dataset, resolution=resolution, s_star=s_star, seed=seed,
                             settings={k: settings[k] for k in TRAIN_KEYS if k in settings}, process=process, **kw)

    def measure_job(inp, out, dataset, resolution, seed, settings, **kw):
        return dae_stage.run(inp, out, part="measure", dataset=dataset, resolution=resolution, seed=seed,
                             settings={k: settings[k] for k in MEASURE_KEYS if k in settings}, **kw)

    wd = tmp_path_factory.mktemp("dae_stages")
    save_prepared(synth(n_train=200, n_test=80), wd / "data.npz")
    clf.run({"data": str(wd / "data.npz")}, {"model": str(wd / "clf.pt"), "table": str(wd / "clf.parquet")},
            dataset="synth", resolution=8, seed=0, settings={"steps": 40, "width": 8}, progress=False)
    outs = {}
    for arm, s_star in (("ladder", 0.3), ("plain", None)):
        d = wd / arm
        model, hist = str(d / "model.pt"), str(d / "history.parquet")
        train_job({"data": str(wd / "data.npz")}, {"model": model, "history": hist}, "synth", 8, s_star, 0,
                  SETTINGS, {}, device="cpu", progress=False)
        out = {k: str(d / f"{k}.parquet") for k in ("summary", "latents", "rates", "samples")}
        measure_job({"data": str(wd / "data.npz"), "model": model, "classifier": str(wd / "clf.pt")}, out, "synth",
                    8, 0, SETTINGS, device="cpu", progress=False)
        outs[arm] = {**out, "history": hist, "model": model}
    return outs
