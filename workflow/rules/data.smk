# Stage: prepare each dataset at each resolution (validated, resampled, scaled, cached once).


rule prepare_data:
    output:
        data=f"{R}/data/{{dataset}}/{{resolution}}.npz",
    log:
        f"{R}/logs/prepare/{{dataset}}/{{resolution}}.log",
    benchmark:
        f"{R}/benchmarks/prepare/{{dataset}}/{{resolution}}.tsv",
    params:
        stage="prepare",
        fn="diffsep.stages.prepare",
        kwargs=lambda wc: {
            "name": wc.dataset,
            "spec": dataset_spec(wc.dataset),
            "resolution": int(wc.resolution),
        },
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"
