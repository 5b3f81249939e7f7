# Stage: image classifiers per (labelled image dataset, resolution, seed) -> the lower bound
# I(X;Y) >= H(Y) - CE; then the sanity interval [H(Y) - CE, log K] for every labelled estimate.


rule train_classifier:
    input:
        data=rules.prepare_data.output.data,
    output:
        model=f"{R}/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.pt",
        table=f"{R}/classifier/{{dataset}}/{{resolution}}/seed{{seed}}.parquet",
    log:
        "logs/classifier/{dataset}/{resolution}/seed{seed}.log",
    params:
        stage="classifier",
        fn="diffsep.classifier:train_job",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "seed": int(wc.seed),
            "settings": dict(PLAN.config["classifier"]),
        },
    threads: config["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
    script:
        "../scripts/run_stage.py"


# `bounds` is derived from three collected tables (not collected from per-job parts), so its rule
# writes tables/bounds.parquet itself and takes precedence over the generic collector.
rule check_bounds:
    input:
        information=f"{R}/tables/information.parquet",
        classifier=f"{R}/tables/classifier.parquet",
        training=f"{R}/tables/training.parquet",
    output:
        table=f"{R}/tables/bounds.parquet",
    log:
        "logs/collect/bounds.log",
    params:
        stage="collect",
        fn="diffsep.bounds:bounds_job",
        kwargs=lambda wc: {},
    localrule: True
    script:
        "../scripts/run_stage.py"


ruleorder: check_bounds > collect_table

# one row per planned classifier (PLAN.classifiers: labelled image datasets x resolutions x seeds)
TABLE_PARTS["classifier"] = lambda: [
    f"{R}/classifier/{j.dataset}/{j.resolution}/seed{j.seed}.parquet" for j in PLAN.classifiers
]
TABLE_PARTS["bounds"] = lambda: []  # written by check_bounds
OUTPUT_FUNCS.append(lambda: [f"{R}/classifier/{j.dataset}/{j.resolution}/seed{j.seed}.pt" for j in PLAN.classifiers])
