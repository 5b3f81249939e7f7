# Stage: prepare each dataset at each resolution (validated, resampled, scaled, cached once).
from diffsep import data as dsdata


rule prepare_data:
    input:
        # the dataset's source files (none for generated kinds): a changed file re-prepares it
        sources=lambda wc: dsdata.source_files(dataset_spec(wc.dataset), wc.dataset),
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
    priority: PREPARE_PRIORITY
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"
