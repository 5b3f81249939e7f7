# Stage: entropy and MI rates and integrals per (dataset, resolution, model, seed); collection.

from diffsep.measure import measure_settings

for _t in MEASURE_TABLES:
    TABLE_PARTS[_t] = lambda _t=_t: measure_parts(_t)


def measure_inputs(wc):
    inputs = {"data": output_path(rules.prepare_data.output.data, dataset=wc.dataset, resolution=wc.resolution)}
    if wc.model != "exact":  # analytic scores need no trained model
        inputs["model"] = output_path(rules.train.output.model, dataset=wc.dataset, resolution=wc.resolution,
                                      trained_model=wc.model, seed=wc.seed)
    return inputs


rule measure:
    input:
        unpack(measure_inputs),
    output:
        information=f"{R}/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}/information.parquet",
        rates=f"{R}/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}/rates.parquet",
        per_class=f"{R}/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}/per_class.parquet",
        cutoffs=f"{R}/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}/cutoffs.parquet",
    log:
        f"{R}/logs/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/measure/{{dataset}}/{{resolution}}/{{model}}/seed{{seed}}.tsv",
    params:
        stage="measure",
        fn="diffsep.stages.measure",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.model,
            "seed": int(wc.seed),
            "settings": measure_settings(PLAN.config["experiments"]["information"]),
            "process": process_cfg(),
        },
    threads: config["threads"]
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


rule collect_table:
    input:
        parts=table_parts,
    output:
        table=f"{R}/tables/{{table}}.parquet",
        csv=f"{R}/tables/{{table}}.csv",
    log:
        f"{R}/logs/collect/{{table}}.log",
    params:
        stage="collect",
        fn="diffsep.stages.collect",
        kwargs=lambda wc: {"table": wc.table},
    localrule: True
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"
