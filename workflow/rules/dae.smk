# Stage: diffusion autoencoders (claim 2) per (labelled image dataset, resolution, arm, seed); arm
# is 'ladder-<s*>' (semantic latent read for s >= s*, perceptual below) or 'plain' (one latent).
# Training, then measurements judged by the image classifier of the same (dataset, resolution, seed).


from diffsep.dae import MEASURE_KEYS as DAE_MEASURE_KEYS, TRAIN_KEYS as DAE_TRAIN_KEYS, for_dataset as dae_for_dataset


def _dae_parts(output):
    """One file of ``output`` (a DAE rule's output pattern) per planned DAE job."""
    return [
        output_path(output, dataset=j.dataset, resolution=j.resolution, arm=j.arm, seed=j.seed) for j in PLAN.dae
    ]


DAE_JOBS = {(j.dataset, j.resolution, j.arm, j.seed): j for j in PLAN.dae}


def dae_settings():
    return dict(PLAN.config["experiments"]["dae"])


def dae_measure_settings():
    """What measurement depends on (diffsep.dae.MEASURE_KEYS; training settings are in the model file)."""
    d = dae_settings()
    return {k: d[k] for k in DAE_MEASURE_KEYS if k in d}


def dae_train_settings(dataset):
    """What training depends on (diffsep.dae.TRAIN_KEYS; measurement settings left out: changing them
    re-runs only measure_dae), with the dataset's training and encoder overrides applied."""
    d = dae_for_dataset(dae_settings(), dataset)
    return {k: d[k] for k in DAE_TRAIN_KEYS if k in d}


def dae_train_priority(wc):
    """An autoencoder step runs two encoders and the decoder: twice a U-Net step of the decoder's width."""
    d = dae_train_settings(wc.dataset)
    return work_priority(d["train"]["steps"], d["train"]["batch_size"], pixels=int(wc.resolution) ** 2,
                         width=d.get("decoder", {}).get("base", 16) / 16, networks=2)


def dae_job(wc):
    return DAE_JOBS[(wc.dataset, int(wc.resolution), wc.arm, int(wc.seed))]


rule train_dae:
    input:
        data=rules.prepare_data.output.data,
    output:
        model=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/model.pt",
        history=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/history.parquet",
    log:
        f"{R}/logs/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}.train.log",
    benchmark:
        f"{R}/benchmarks/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}.train.tsv",
    wildcard_constraints:
        arm=r"plain|ladder-[0-9.e+-]+",
    params:
        stage="dae",
        fn="diffsep.stages.dae",
        kwargs=lambda wc: {
            "part": "train",
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "s_star": dae_job(wc).s_star,
            "seed": int(wc.seed),
            "settings": dae_train_settings(wc.dataset),
            "process": process_cfg(),
        },
    threads: config["threads"]
    priority: dae_train_priority
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


rule measure_dae:
    input:
        data=rules.prepare_data.output.data,
        model=rules.train_dae.output.model,
        # judged by the image classifier of the same (dataset, resolution, seed)
        classifier=rules.train_classifier.output.model,
    output:
        summary=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae.parquet",
        latents=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_latents.parquet",
        rates=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_rates.parquet",
        samples=f"{R}/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}/dae_samples.parquet",
    log:
        f"{R}/logs/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}.measure.log",
    benchmark:
        f"{R}/benchmarks/dae/{{dataset}}/{{resolution}}/{{arm}}/seed{{seed}}.measure.tsv",
    wildcard_constraints:
        arm=r"plain|ladder-[0-9.e+-]+",
    params:
        stage="dae",
        fn="diffsep.stages.dae",
        kwargs=lambda wc: {
            "part": "measure",
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "seed": int(wc.seed),
            "settings": dae_measure_settings(),
        },
    threads: config["threads"]
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


if PLAN.dae:
    # table name -> the measure_dae output holding one part of it
    _DAE_TABLES = {"dae": "summary", "dae_latents": "latents", "dae_rates": "rates", "dae_samples": "samples"}
    for _t, _out in _DAE_TABLES.items():
        TABLE_PARTS[_t] = lambda _out=_out: _dae_parts(getattr(rules.measure_dae.output, _out))
    TABLE_PARTS["dae_training"] = lambda: _dae_parts(rules.train_dae.output.history)
    OUTPUT_FUNCS.append(lambda: _dae_parts(rules.train_dae.output.model))
