# Stage: guidance-timing sweeps (claim 3) per (dataset, resolution, model, seed): CFG weight,
# one window at a time, early/late splits, constant vs information-scheduled vs best-window
# guidance at equal budget. Labelled images are scored by the classifier trained on real data;
# joint Gaussians against the exact guided law (diffsep.guidance_stage).


def _guidance_jobs(kind):
    return [j for j in PLAN.guidance if j.kind == kind]


def _guidance_dir(j):
    return f"{R}/guidance/{j.dataset}/{j.resolution}/{j.model}/seed{j.seed}"


def guidance_settings(kind):
    g = dict(PLAN.config["experiments"]["guidance"])
    if kind == "labels":  # the Gaussian block does not affect image jobs (no re-run when it changes)
        g.pop("gaussian", None)
    return g


def guidance_inputs(wc):
    return {
        "data": f"{R}/data/{wc.dataset}/{wc.resolution}.npz",
        "model": f"{R}/models/{wc.dataset}/{wc.resolution}/{wc.trained_model}/seed{wc.seed}.pt",
        # the model's measured MI rate i(s): the shape of the information-scheduled schedule
        "rates": f"{R}/measure/{wc.dataset}/{wc.resolution}/{wc.trained_model}/seed{wc.seed}/rates.parquet",
    }


def guidance_label_inputs(wc):
    g = PLAN.config["experiments"]["guidance"]
    return {**guidance_inputs(wc),
            "classifier": f"{R}/classifier/{wc.dataset}/{wc.resolution}/seed{g['classifier_seed']}.pt"}


rule guidance_labels:
    input:
        unpack(guidance_label_inputs),
    output:
        table=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance.parquet",
        per_class=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance_per_class.parquet",
    log:
        "logs/guidance/{dataset}/{resolution}/{trained_model}/seed{seed}.log",
    wildcard_constraints:
        dataset=_alternatives({j.dataset for j in _guidance_jobs("labels")}),
    params:
        stage="guidance",
        fn="diffsep.guidance_stage:run_labels",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.trained_model,
            "seed": int(wc.seed),
            "settings": guidance_settings("labels"),
            "process": process_cfg(),
        },
    threads: config["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
    script:
        "../scripts/run_stage.py"


rule guidance_gaussian:
    input:
        unpack(guidance_inputs),
    output:
        table=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance_gaussian.parquet",
    log:
        "logs/guidance/{dataset}/{resolution}/{trained_model}/seed{seed}.gaussian.log",
    wildcard_constraints:
        dataset=_alternatives({j.dataset for j in _guidance_jobs("gaussian")}),
    params:
        stage="guidance",
        fn="diffsep.guidance_stage:run_gaussian",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.trained_model,
            "seed": int(wc.seed),
            "settings": guidance_settings("gaussian"),
            "process": process_cfg(),
        },
    threads: config["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
    script:
        "../scripts/run_stage.py"


if _guidance_jobs("labels"):
    TABLE_PARTS["guidance"] = lambda: [f"{_guidance_dir(j)}/guidance.parquet" for j in _guidance_jobs("labels")]
    TABLE_PARTS["guidance_per_class"] = lambda: [
        f"{_guidance_dir(j)}/guidance_per_class.parquet" for j in _guidance_jobs("labels")
    ]
if _guidance_jobs("gaussian"):
    TABLE_PARTS["guidance_gaussian"] = lambda: [
        f"{_guidance_dir(j)}/guidance_gaussian.parquet" for j in _guidance_jobs("gaussian")
    ]
