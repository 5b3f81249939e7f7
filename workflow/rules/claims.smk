# Stage: the verdicts on the paper's three claims (diffsep.stages.claims; rules in diffsep/claims.py).
# `claims` is derived from the collected tables of this run (not collected from per-job parts), so
# its rule writes tables/claims.parquet itself and takes precedence over the generic collector. Its
# inputs are looked up when the DAG is built, after every stage has registered its tables.
from diffsep.claims import INPUTS as CLAIMS_INPUTS


def claims_inputs(wildcards):
    return {t: output_path(rules.collect_table.output.table, table=t) for t in tables() if t in CLAIMS_INPUTS}


rule decide_claims:
    input:
        unpack(claims_inputs),
    output:
        table=f"{R}/tables/claims.parquet",
        csv=f"{R}/tables/claims.csv",
    log:
        f"{R}/logs/claims/claims.log",
    params:
        stage="claims",
        fn="diffsep.stages.claims",
        kwargs=lambda wc: {},
    localrule: True
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"


ruleorder: decide_claims > collect_table

TABLE_PARTS["claims"] = lambda: []  # derived by decide_claims, not collected
