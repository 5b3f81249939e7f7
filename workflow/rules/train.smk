# Stage: train a score model per (dataset, resolution, model, seed); resumable from its checkpoint.


rule train:
    input:
        data=rules.prepare_data.output.data,
    output:
        model=f"{R}/models/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.pt",
        history=f"{R}/models/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.history.parquet",
    log:
        f"{R}/logs/train/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.log",
    benchmark:
        f"{R}/benchmarks/train/{{dataset}}/{{resolution}}/{{trained_model}}/seed{{seed}}.tsv",
    params:
        stage="train",
        fn="diffsep.stages.train",
        kwargs=lambda wc: {
            "dataset": wc.dataset,
            "resolution": int(wc.resolution),
            "model": wc.trained_model,
            "model_cfg": model_cfg(wc.trained_model),
            "seed": int(wc.seed),
            "process": process_cfg(),
        },
    threads: config["threads"]
    priority: train_priority
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


TABLE_PARTS["training"] = lambda: [
    output_path(rules.train.output.history, dataset=j.dataset, resolution=j.resolution, trained_model=j.model,
                seed=j.seed)
    for j in PLAN.trained
]
OUTPUT_FUNCS.append(model_paths)
