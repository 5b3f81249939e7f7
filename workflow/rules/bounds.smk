# Stage: the sanity interval [H(Y) - CE, log K] for every labelled estimate (diffsep.stages.bounds).
# `bounds` is derived from three collected tables (not collected from per-job parts), so its rule
# writes tables/bounds.parquet itself and takes precedence over the generic collector.
rule check_bounds:
    input:
        information=output_path(rules.collect_table.output.table, table="information"),
        classifier=output_path(rules.collect_table.output.table, table="classifier"),
        training=output_path(rules.collect_table.output.table, table="training"),
    output:
        table=f"{R}/tables/bounds.parquet",
        csv=f"{R}/tables/bounds.csv",
    log:
        f"{R}/logs/bounds/bounds.log",
    params:
        stage="bounds",
        fn="diffsep.stages.bounds",
        kwargs=lambda wc: {},
    localrule: True
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


ruleorder: check_bounds > collect_table

TABLE_PARTS["bounds"] = lambda: []  # derived by check_bounds, not collected
