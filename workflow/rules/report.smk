# Stage: render the HTML comparison report from the collected tables.
import platform


def report_meta():
    import diffsep, pandas, snakemake, torch

    return {
        "title": PLAN.config["report"]["title"],
        "config_hash": CONFIG_HASH,
        "skipped": PLAN.skipped,
        "published": PLAN.config["report"]["published"],
        "versions": {
            "diffsep": diffsep.__version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "pandas": pandas.__version__,
            "snakemake": snakemake.__version__,
        },
        "launcher": PLAN.config["launcher"]["kind"],
        "datasets": {n: {"kind": s["kind"], "params": s["params"]} for n, s in PLAN.datasets.items()},
        "process": process_cfg(),
    }


rule render_report:
    input:
        **{t: output_path(rules.collect_table.output.table, table=t) for t in tables()},
    output:
        html=report(
            f"{R}/report/index.html",
            caption="../report/index.rst",
            category="Report",
        ),
        figures=report(
            directory(f"{R}/report/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Figures",
        ),
    log:
        f"{R}/logs/report/report.log",
    params:
        stage="report",
        fn="diffsep.stages.report",
        kwargs=lambda wc: {"meta": report_meta()},
    localrule: True
    conda:
        "../envs/diffsep.yaml"
    script:
        "../scripts/run_stage.py"
