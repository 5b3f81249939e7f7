"""Stage ``guidance``: guidance-timing sweeps (claim 3) on one trained model.

``kind='labels'`` (labelled image datasets): label accuracy, classifier bound ``H(Y) - CE``,
Fréchet distance of classifier features to held-out real images, within-class diversity, paired
gains and bootstrap intervals -> tables ``guidance`` and ``guidance_per_class``.
``kind='gaussian'`` (joint Gaussians): exact MI / KL of the guided law for every setting and a
dense weight grid, Gaussian-fit MI / KL of samples from the exact scores and from the trained
network, and neural (MINDE) MI estimates of generated pairs -> ``guidance_gaussian``.
The settings and their sampling are :mod:`diffsep.sweeps`.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import pandas as pd
import torch

from .. import tables
from ..classifier import load_classifier, predict
from ..data import load_prepared
from ..gaussian import JointGaussian
from ..guidance import sample
from ..models import load_model
from ..process import VPProcess
from ..rng import derive_seed, np_generator
from ..sample_metrics import (FrechetReference, bootstrap_indices, class_diversity, gaussian_fit_kl,
                              gaussian_fit_mi, label_scores)
from ..schedules import Constant, Schedule, law_breakpoints
from ..stats import mean_se
from ..sweeps import Setting, describe, generate, n_steps, phase_one, phase_two, schedule_key
from ._job import provenance, setup, write_table

__all__ = ["run"]

log = logging.getLogger(__name__)
KINDS = ("labels", "gaussian")


def run(inp: dict, out: dict, *, kind: str, dataset: str, resolution: int, model: str, seed: int, settings: dict,
        process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Guidance sweeps of ``kind`` (:data:`KINDS`) for one trained model; ``settings``:
    ``experiments.guidance``."""
    if kind not in KINDS:
        raise ValueError(f"guidance: unknown kind {kind!r}; known: {list(KINDS)}")
    from ..sweeps import check_settings

    check_settings(settings, VPProcess(**process))  # the checks `diffsep validate` runs, before any work
    job = _labels if kind == "labels" else _gaussian
    job(inp, out, dataset=dataset, resolution=resolution, model=model, seed=seed, settings=settings,
        process=process, threads=threads, device=device, progress=progress)


def _rate_from_table(path) -> tuple:
    r = tables.read(path, "rates")
    r = r[r["i_rate_lam"].notna()]
    if len(r) < 2:
        raise ValueError(f"{path}: no MI rate curve (i_rate_lam) to schedule guidance on")
    return r["log_snr"].to_numpy(float), r["i_rate_lam"].to_numpy(float)


# ------------------------------------------------------------------------------------------------
# labelled images
# ------------------------------------------------------------------------------------------------
def _ci(v: np.ndarray) -> tuple[float, float]:
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    return float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))


def _labels(inp: dict, out: dict, dataset: str, resolution: int, model: str, seed: int, settings: dict,
               process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Guidance sweeps on a labelled image dataset, scored by the classifier trained on real data."""
    t0, c0 = time.perf_counter(), time.process_time()
    dev = setup(threads, device)
    cfg = settings
    proc = VPProcess(**process)
    data = load_prepared(inp["data"])
    if data.cond != "label":
        raise ValueError(f"guidance: dataset {dataset!r} is not labelled (cond {data.cond!r}); "
                         f"label metrics need class labels")
    sm, _meta = load_model(inp["model"], device=dev)
    clf, _cmeta = load_classifier(inp["classifier"], device=dev)
    k = data.num_classes
    n = int(cfg["n_samples"])
    labels = np.arange(n) % k
    cond = torch.as_tensor(labels, dtype=torch.long, device=dev)
    shape = tuple(data.x_test.shape[1:])
    steps = int(cfg["steps"])
    gseed = derive_seed(seed, "guidance", dataset, resolution)

    # held-out real images: the FD reference set; n other real images give the noise floor at this
    # sample size (held-out ones when the test split has room, else training images)
    rng = np_generator(seed, "guidance-real")
    perm = rng.permutation(len(data.x_test))
    n_real = min(int(cfg["n_real"]), len(perm))
    ref_idx = perm[:n_real]
    if len(perm) - n_real >= n:
        floor_x, floor_y, floor_src = data.x_test[perm[n_real:n_real + n]], data.y_test[perm[n_real:n_real + n]], "test"
    else:
        tr = rng.permutation(len(data.x_train))[:n]
        floor_x, floor_y, floor_src = data.x_train[tr], data.y_train[tr], "train"

    def feats(x: torch.Tensor):
        p, f = predict(clf, x.clamp(-1.0, 1.0).to(dev, torch.float32))
        return p.double().cpu().numpy(), f.double().cpu().numpy()

    _, f_ref = feats(torch.as_tensor(data.x_test[ref_idx]))
    fref = FrechetReference(f_ref)
    _, f_floor = feats(torch.as_tensor(floor_x))
    fd_real = fref.distance(f_floor)
    div_real = float(np.mean(list(class_diversity(f_floor, floor_y).values())))

    done: dict = {}
    s1 = phase_one(cfg, proc)
    generate(sm, cond, s1, done, shape=shape, cfg=cfg, steps=steps, seed=gseed, progress=progress,
              desc=f"guidance {dataset}/{resolution}")
    stats = {}

    def score(key):
        if key not in stats:
            pr, f = feats(done[key])
            stats[key] = {**label_scores(pr, labels, k), "feats": f}
        return stats[key]

    for st in s1:
        score(schedule_key(st.schedule))
    windows = [st for st in s1 if st.sweep == "window"]
    best = max(windows, key=lambda st: (score(schedule_key(st.schedule))["correct"].mean(),
                                        score(schedule_key(st.schedule))["bound"].mean(), -st.position), default=None)
    rate = _rate_from_table(inp["rates"]) if inp.get("rates") else None
    s2 = phase_two(cfg, proc, rate, best.schedule if best else None)
    generate(sm, cond, s2, done, shape=shape, cfg=cfg, steps=steps, seed=gseed, progress=progress,
              desc=f"guidance {dataset}/{resolution} budgets")
    all_settings = s1 + s2

    none_key, full_key = schedule_key(Constant(0.0)), schedule_key(Constant(float(cfg["reference_weight"])))
    none, full = score(none_key), score(full_key)
    boot = bootstrap_indices(n, int(cfg["bootstrap"]), derive_seed(gseed, "bootstrap"))
    fd_cache = {}

    def fd_reps(key):
        if key not in fd_cache:
            f = score(key)["feats"]
            fd_cache[key] = (fref.distance(f), np.array([fref.distance(f[b]) for b in boot]))
        return fd_cache[key]

    fd_none, fd_none_b = fd_reps(none_key)
    fd_full, fd_full_b = fd_reps(full_key)
    gain_full = full["correct"] - none["correct"]
    gain_full_b = np.array([gain_full[b].mean() for b in boot])
    bgain_full = full["bound"] - none["bound"]
    bgain_full_b = np.array([bgain_full[b].mean() for b in boot])
    rows, pc_rows = [], []
    for st in all_settings:
        key = schedule_key(st.schedule)
        sc = score(key)
        fd, fd_b = fd_reps(key)
        gain = sc["correct"] - none["correct"]
        g_mean, g_se = mean_se(gain)
        gain_b = np.array([gain[b].mean() for b in boot])
        bgain = sc["bound"] - none["bound"]
        bg_mean, bg_se = mean_se(bgain)
        bgain_b = np.array([bgain[b].mean() for b in boot])
        with np.errstate(divide="ignore", invalid="ignore"):
            share = g_mean / gain_full.mean() if gain_full.mean() != 0 else float("nan")
            share_b = gain_b / gain_full_b
            bshare = bg_mean / bgain_full.mean() if bgain_full.mean() != 0 else float("nan")
            bshare_b = bgain_b / bgain_full_b
        acc, acc_se = mean_se(sc["correct"])
        bound, bound_se = mean_se(sc["bound"])
        div = class_diversity(sc["feats"], labels)
        row = {**describe(st, proc, cfg["budget_measure"]), "sampler": cfg["sampler"],
               "steps": n_steps(steps, st.schedule, proc, cfg["spacing"]),
               "n_samples": n, "num_classes": k, "accuracy": acc, "accuracy_se": acc_se,
               "acc_gain": g_mean, "acc_gain_se": g_se, "gain_share": share,
               "gain_share_lo": _ci(share_b)[0], "gain_share_hi": _ci(share_b)[1],
               "mi_bound": bound, "mi_bound_se": bound_se, "label_entropy": float(math.log(k)),
               "bound_gain": bg_mean, "bound_gain_se": bg_se, "bound_share": bshare,
               "bound_share_lo": _ci(bshare_b)[0], "bound_share_hi": _ci(bshare_b)[1],
               "fd": fd, "fd_se": float(np.std(fd_b, ddof=1)) if len(fd_b) > 1 else float("nan"),
               "fd_delta_none": fd - fd_none, "fd_delta_none_lo": _ci(fd_b - fd_none_b)[0],
               "fd_delta_none_hi": _ci(fd_b - fd_none_b)[1],
               "fd_delta_full": fd - fd_full, "fd_delta_full_lo": _ci(fd_b - fd_full_b)[0],
               "fd_delta_full_hi": _ci(fd_b - fd_full_b)[1], "fd_real": fd_real,
               "diversity": float(np.mean(list(div.values()))) if div else float("nan"),
               "diversity_real": div_real, "n_real": n_real, "fd_real_source": floor_src}
        rows.append(row)
        for c in range(k):
            sel = labels == c
            a, a_se = mean_se(sc["correct"][sel])
            gc, gc_se = mean_se(gain[sel])
            pc_rows.append({"sweep": st.sweep, "setting": st.name, "label": c,
                            "class_name": data.class_names[c] if c < len(data.class_names) else str(c),
                            "n": int(sel.sum()), "accuracy": a, "accuracy_se": a_se, "acc_gain": gc,
                            "acc_gain_se": gc_se, "mi_bound": float(sc["bound"][sel].mean()),
                            "diversity": div.get(c, float("nan"))})
    ident = tables.identity(dataset, resolution, model, seed)
    df = pd.DataFrame(rows).assign(job_seconds=time.perf_counter() - t0, job_cpu_seconds=time.process_time() - c0)
    write_table(df, "guidance", out["table"], **ident, **provenance(dev))
    write_table(pd.DataFrame(pc_rows), "guidance_per_class", out["per_class"], **ident)
    log.info("guidance %s/%s %s seed %s: %d settings, %d sample sets in %.1f s (cpu %.1f s)", dataset, resolution,
             model, seed, len(all_settings), len(done), time.perf_counter() - t0, time.process_time() - c0)


# ------------------------------------------------------------------------------------------------
# joint Gaussian: exact law, exact-score samples, trained-network samples, neural MI
# ------------------------------------------------------------------------------------------------
def _fit_mi_se(x: np.ndarray, y: np.ndarray, boot: np.ndarray) -> tuple[float, float]:
    v = gaussian_fit_mi(x, y)
    reps = np.array([gaussian_fit_mi(x[b], y[b]) for b in boot])
    return v, float(np.std(reps, ddof=1)) if len(reps) > 1 else float("nan")


def _law_samples(law, y: np.ndarray, seed: int) -> np.ndarray:
    """Draws from the exact guided law ``x | y ~ N(M y, C)``."""
    rng = np_generator(seed, "guided-law-draws")
    lam, u = np.linalg.eigh(law.cond_cov)
    root = u * np.sqrt(np.clip(lam, 0, None))
    return y @ law.mean_map.T + rng.standard_normal((len(y), len(lam))) @ root.T


def _gaussian(inp: dict, out: dict, dataset: str, resolution: int, model: str, seed: int, settings: dict,
                 process: dict, threads: int = 1, device: str = "auto", progress: bool = True, **_) -> None:
    """Guidance sweeps on a joint Gaussian: exact law vs exact-score, trained-network and neural estimates."""
    from ..api import estimate_mi

    t0, c0 = time.perf_counter(), time.process_time()
    dev = setup(threads, device)
    cfg, gcfg = settings, settings["gaussian"]
    proc = VPProcess(**process)
    data = load_prepared(inp["data"])
    p = data.meta.get("params") or {}
    if data.meta.get("kind") != "joint_gaussian":
        raise ValueError(f"guidance: dataset {dataset!r} is not a joint_gaussian dataset")
    jg = JointGaussian(p["dx"], p["dy"], p["noise"], p["seed"])
    exact_scores = jg.score_model(proc)
    sm, _meta = load_model(inp["model"], device=dev)
    n = min(int(cfg["n_samples_vector"]), len(data.y_test))
    y_np = data.y_test[:n].astype(np.float64)
    steps = int(cfg["steps_vector"])
    gseed = derive_seed(seed, "guidance", dataset, resolution)
    measure = cfg["budget_measure"]
    wref = float(cfg["reference_weight"])

    # exact MI rate (per unit log-SNR) on a dense grid: the information schedule's shape
    lam = np.linspace(*proc.log_snr_range, 257)
    s_l = np.clip(proc.s_from_log_snr(lam), proc.s_min, 1.0)
    rate_exact = (lam, jg.mi_rate(proc, s_l) * proc.sigma2(s_l) / proc.beta(s_l))
    rate_model = _rate_from_table(inp["rates"]) if inp.get("rates") else None

    laws: dict = {}

    def law(sch: Schedule):
        """The exact guided law, or None where its computation is numerically singular (very large w)."""
        k = schedule_key(sch)
        if k not in laws:
            try:
                laws[k] = jg.guided_law(proc, sch, breakpoints=law_breakpoints(sch), start="equilibrium")
            except (np.linalg.LinAlgError, RuntimeError) as exc:
                log.warning("exact guided law of %r not computable (%s): its exact columns are left empty", sch, exc)
                laws[k] = None
        return laws[k]

    def law_mi(sch: Schedule) -> float:
        lw = law(sch)
        return lw.mi if lw is not None else float("nan")

    s1 = phase_one(cfg, proc)
    windows = [st for st in s1 if st.sweep == "window"]
    mi0 = law_mi(Constant(0.0))
    best = max(windows, key=lambda st: (np.nan_to_num(law_mi(st.schedule), nan=-np.inf), -st.position), default=None)
    # the trained model's info schedule uses its own measured rate; the exact analysis the exact rate
    s2_model = phase_two(cfg, proc, rate_model, best.schedule if best else None)
    s2_exact = [st for st in phase_two(cfg, proc, rate_exact, best.schedule if best else None) if st.family == "info"]
    for st in s2_exact:
        st.name = st.name.replace("info-scheduled", "info-scheduled (exact rate)")
    dense = [Setting("exact_weight", f"w={float(w):g} (exact law)", Constant(float(w)), "constant")
             for w in gcfg["exact_weights"]]

    sampled = s1 + s2_model
    cond_model = torch.as_tensor(y_np, dtype=torch.float32, device=dev)
    cond_exact = torch.as_tensor(y_np, dtype=torch.float64)
    done_model: dict = {}
    done_exact: dict = {}
    generate(sm, cond_model, sampled, done_model, shape=(jg.dx,), cfg=cfg, steps=steps, seed=gseed,
              progress=progress, desc=f"guidance {dataset} model")
    generate(exact_scores, cond_exact, sampled + s2_exact, done_exact, shape=(jg.dx,), cfg=cfg, steps=steps,
              seed=gseed, progress=progress, desc=f"guidance {dataset} exact scores")
    boot = bootstrap_indices(n, int(cfg["bootstrap"]), derive_seed(gseed, "bootstrap"))

    # neural (MINDE) estimates of the MI of generated pairs, at a few weights
    nn_cfg = gcfg["neural"]
    neural: dict = {}
    n_nn = min(int(nn_cfg["n"]), len(data.y_test))
    y_nn = data.y_test[:n_nn].astype(np.float64)
    for w in gcfg["neural_weights"]:
        sch = Constant(float(w))
        for src in gcfg["neural_sources"]:
            if src == "law":
                if law(sch) is None:
                    continue
                x = _law_samples(law(sch), y_nn, derive_seed(gseed, "law", float(w)))
            else:
                x = sample(sm, torch.as_tensor(y_nn, dtype=torch.float32, device=dev), {"x": sch}, shape=(jg.dx,),
                           sampler=cfg["sampler"], steps=steps, spacing=cfg["spacing"],
                           seed=derive_seed(gseed, "neural"), batch_size=int(cfg["batch_size"]))["x"]
                x = x.double().cpu().numpy()
            r = estimate_mi(x, y_nn, discrete=False, steps=int(nn_cfg["steps"]), lr=float(nn_cfg.get("lr", 1e-3)),
                            width=int(nn_cfg["width"]),
                            depth=int(nn_cfg["depth"]), n_times=int(nn_cfg["n_times"]),
                            # the stage's own estimate (one network, MINDE), not estimate_mi's defaults
                            networks=1, p_uncond=0.1, cond_input=False, estimator="minde",
                            seed=derive_seed(gseed, "neural-mi", src, float(w), bits=31),
                            device=str(dev), progress=False)
            neural[(float(w), src)] = (r.mi, r.se, gaussian_fit_mi(x, y_nn))
            log.info("neural MI of %s samples at w=%g: %.2f ± %.2f (exact %.2f)", src, w, r.mi, r.se, law_mi(sch))

    full_mi = law_mi(Constant(wref))
    rows = []
    for st in sampled + s2_exact + dense:
        key = schedule_key(st.schedule)
        lw = law(st.schedule)
        row = {**describe(st, proc, measure), "sampler": cfg["sampler"],
               "steps": n_steps(steps, st.schedule, proc, cfg["spacing"]), "n_samples": n, "true_mi": jg.mi()}
        if lw is not None:
            row.update(exact_mi=lw.mi, exact_kl_joint=lw.kl_joint, exact_kl_marginal=lw.kl_marginal,
                       exact_gain_share=(lw.mi - mi0) / (full_mi - mi0) if full_mi != mi0 else float("nan"))
        if key in done_exact:
            x = done_exact[key].double().cpu().numpy()
            row["scores_fit_mi"], row["scores_fit_mi_se"] = _fit_mi_se(x, y_np, boot)
        if key in done_model and st.sweep != "exact_weight":
            x = done_model[key].double().cpu().numpy()
            row["model_fit_mi"], row["model_fit_mi_se"] = _fit_mi_se(x, y_np, boot)
            row["model_fit_kl"] = gaussian_fit_kl(x, y_np, jg)
        if isinstance(st.schedule, Constant):
            for src, col in (("law", "neural_mi_law"), ("model", "neural_mi_model")):
                v = neural.get((st.schedule.w, src))
                if v is not None:
                    row[col], row[col + "_se"] = v[0], v[1]
                    row[col.replace("neural_mi", "neural_fit_mi")] = v[2]
        rows.append(row)
    ident = tables.identity(dataset, resolution, model, seed)
    df = pd.DataFrame(rows).assign(job_seconds=time.perf_counter() - t0, job_cpu_seconds=time.process_time() - c0)
    write_table(df, "guidance_gaussian", out["table"], **ident, **provenance(dev))
    log.info("guidance %s/%s %s seed %s: %d rows in %.1f s (cpu %.1f s)", dataset, resolution, model, seed, len(rows),
             time.perf_counter() - t0, time.process_time() - c0)
