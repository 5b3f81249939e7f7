# Stage: guidance-timing sweeps (claim 3) per (dataset, resolution, model, seed): CFG weight,
# one window at a time, early/late splits, constant vs information-scheduled vs best-window
# guidance at equal budget. Labelled images are scored by the classifier trained on real data;
# joint Gaussians against the exact guided law (diffsep.stages.guidance).


def _guidance_jobs(kind):
    return [j for j in PLAN.guidance if j.kind == kind]


def _guidance_parts(output, kind):
    """One file of ``output`` (a guidance rule's output pattern) per planned job of ``kind``."""
    return [
        output_path(output, dataset=j.dataset, resolution=j.resolution, trained_model=j.model, seed=j.seed)
        for j in _guidance_jobs(kind)
    ]


def guidance_settings(kind):
    g = dict(PLAN.config["experiments"]["guidance"])
    if kind == "labels":  # the Gaussian block does not affect image jobs (no re-run when it changes)
        g.pop("gaussian", None)
    return g


def guidance_inputs(wc):
    at = dict(dataset=wc.dataset, resolution=wc.resolution, seed=wc.seed)
    return {
        "data": output_path(rules.prepare_data.output.data, **at),
        "model": output_path(rules.train.output.model, trained_model=wc.trained_model, **at),
        # the model's measured MI rate i(s): the shape of the information-scheduled schedule
        "rates": output_path(rules.measure.output.rates, model=wc.trained_model, **at),
    }


def guidance_label_inputs(wc):
    g = PLAN.config["experiments"]["guidance"]
    # the classifier of the configured seed (experiments.guidance.classifier_seed), not the model's seed
    classifier = output_path(rules.train_classifier.output.model, dataset=wc.dataset, resolution=wc.resolution,
                             seed=g["classifier_seed"])
    return {**guidance_inputs(wc), "classifier": classifier}


rule guidance_labels:
    input:
        unpack(guidance_label_inputs),
    output:
        table=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance.parquet",
        per_class=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance_per_class.parquet",
    log:
        f"{R}/logs/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.tsv",
    wildcard_constraints:
        dataset=_alternatives({j.dataset for j in _guidance_jobs("labels")}),
    params:
        stage="guidance",
        fn="diffsep.stages.guidance",
        kwargs=lambda wc: {
            "kind": "labels",
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.trained_model,
            "seed": int(wc.seed),
            "settings": guidance_settings("labels"),
            "process": process_cfg(),
        },
    threads: config["threads"]
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


rule guidance_gaussian:
    input:
        unpack(guidance_inputs),
    output:
        table=f"{R}/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}/guidance_gaussian.parquet",
    log:
        f"{R}/logs/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.gaussian.log",
    benchmark:
        f"{R}/benchmarks/guidance/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.gaussian.tsv",
    wildcard_constraints:
        dataset=_alternatives({j.dataset for j in _guidance_jobs("gaussian")}),
    params:
        stage="guidance",
        fn="diffsep.stages.guidance",
        kwargs=lambda wc: {
            "kind": "gaussian",
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.trained_model,
            "seed": int(wc.seed),
            "settings": guidance_settings("gaussian"),
            "process": process_cfg(),
        },
    threads: config["threads"]
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


if _guidance_jobs("labels"):
    TABLE_PARTS["guidance"] = lambda: _guidance_parts(rules.guidance_labels.output.table, "labels")
    TABLE_PARTS["guidance_per_class"] = lambda: _guidance_parts(rules.guidance_labels.output.per_class, "labels")
if _guidance_jobs("gaussian"):
    TABLE_PARTS["guidance_gaussian"] = lambda: _guidance_parts(rules.guidance_gaussian.output.table, "gaussian")
