# Stage: prepare each dataset at each resolution (validated, resampled, scaled, cached once).


rule prepare_data:
    output:
        data=f"{R}/data/{{dataset}}/{{resolution}}.npz",
    log:
        "logs/prepare/{dataset}/{resolution}.log",
    params:
        stage="prepare",
        fn="diffsep.stages.prepare",
        kwargs=lambda wc: {
            "name": wc.dataset,
            "spec": dataset_spec(wc.dataset),
            "resolution": int(wc.resolution),
        },
    script:
        "../scripts/run_stage.py"
