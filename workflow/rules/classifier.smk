# Stage: image classifiers per (labelled image dataset, resolution, seed) -> the lower bound
# I(X;Y) >= H(Y) - CE (diffsep.stages.classifier).


rule train_classifier:
    input:
        data=rules.prepare_data.output.data,
    output:
        model=f"{R}/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.pt",
        table=f"{R}/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.parquet",
    log:
        f"{R}/logs/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.tsv",
    params:
        stage="classifier",
        fn="diffsep.stages.classifier",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "seed": int(wc.seed),
            "settings": dict(PLAN.config["classifier"]),
        },
    threads: config["threads"]
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"



# one row per planned classifier (PLAN.classifiers: labelled image datasets x resolutions x seeds)
TABLE_PARTS["classifier"] = lambda: [
    output_path(rules.train_classifier.output.table, dataset=j.dataset, resolution=j.resolution, seed=j.seed)
    for j in PLAN.classifiers
]
OUTPUT_FUNCS.append(lambda: [
    output_path(rules.train_classifier.output.model, dataset=j.dataset, resolution=j.resolution, seed=j.seed)
    for j in PLAN.classifiers
])
