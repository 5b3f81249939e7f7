# Stage: diffusion autoencoders (claim 2) per (labelled image dataset, resolution, arm, seed); arm
# is 'ladder-<s*>' (semantic latent read for s >= s*, perceptual below) or 'plain' (one latent).
# Training, then measurements judged by the image classifier of the same (dataset, resolution, seed).


def _dae_dir(j):
    return f"{R}/dae/{j.dataset}/{j.resolution}/{j.arm}/seed{j.seed}"


DAE_JOBS = {(j.dataset, j.resolution, j.arm, j.seed): j for j in PLAN.dae}


def dae_settings():
    return dict(PLAN.config["experiments"]["dae"])


def dae_measure_settings():
    """What measurement depends on (training settings are in the model file)."""
    d = dae_settings()
    return {k: v for k, v in d.items() if k not in ("latents", "decoder", "gamma", "holdout_fraction", "train",
                                                    "train_by_dataset", "datasets", "resolutions", "seeds",
                                                    "sweep", "sweep_datasets", "plain")}


def dae_train_settings(dataset):
    """What training depends on (measurement settings left out: changing them re-runs only measure_dae),
    with the dataset's training overrides applied."""
    d = dae_settings()
    out = {k: d[k] for k in ("name", "latents", "decoder", "gamma", "holdout_fraction")}
    out["train"] = {**d["train"], **d["train_by_dataset"].get(dataset, {})}
    return out


def dae_job(wc):
    return DAE_JOBS[(wc.dataset, int(wc.resolution), wc.arm, int(wc.seed))]


rule train_dae:
    input:
        data=f"{R}/data/{{dataset}}/{{resolution}}.npz",
    output:
        model=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/model.pt",
        history=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/history.parquet",
    log:
        "logs/dae/{dataset}/{resolution}/{arm}/seed{seed}.train.log",
    wildcard_constraints:
        arm=r"plain|ladder-[0-9.e+-]+",
    params:
        stage="dae",
        fn="diffsep.dae:train_job",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "s_star": dae_job(wc).s_star,
            "seed": int(wc.seed),
            "settings": dae_train_settings(wc.dataset),
            "process": process_cfg(),
        },
    threads: config["threads"]
    resources:
        runtime=120,
        mem_mb=4000,
    script:
        "../scripts/run_stage.py"


rule measure_dae:
    input:
        data=f"{R}/data/{{dataset}}/{{resolution}}.npz",
        model=rules.train_dae.output.model,
        classifier=f"{R}/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.pt",
    output:
        summary=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae.parquet",
        latents=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_latents.parquet",
        rates=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_rates.parquet",
        samples=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_samples.parquet",
    log:
        "logs/dae/{dataset}/{resolution}/{arm}/seed{seed}.measure.log",
    wildcard_constraints:
        arm=r"plain|ladder-[0-9.e+-]+",
    params:
        stage="dae",
        fn="diffsep.dae:measure_job",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "seed": int(wc.seed),
            "settings": dae_measure_settings(),
        },
    threads: config["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
    script:
        "../scripts/run_stage.py"


if PLAN.dae:
    for _t in ("dae", "dae_latents", "dae_rates", "dae_samples"):
        TABLE_PARTS[_t] = lambda _t=_t: [f"{_dae_dir(j)}/{_t}.parquet" for j in PLAN.dae]
    TABLE_PARTS["dae_training"] = lambda: [f"{_dae_dir(j)}/history.parquet" for j in PLAN.dae]
    OUTPUT_FUNCS.append(lambda: [f"{_dae_dir(j)}/model.pt" for j in PLAN.dae])
