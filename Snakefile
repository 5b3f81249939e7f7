# diffsep: what information a diffusion model stores, and when it uses it.
# Thin entry point: config + validation, one include per stage, one `all` rule.
from snakemake.utils import min_version

min_version("9.27.1")  # the version CI tests (constraints.txt); keep equal to pyproject.toml


# The default run. A --configfile on the command line replaces it (Snakemake would otherwise merge
# the two, and a user's config would inherit the default datasets and experiments).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/measure.smk"
include: "workflow/rules/classifier.smk"
include: "workflow/rules/bounds.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/guidance.smk"
include: "workflow/rules/dae.smk"
include: "workflow/rules/report.smk"


onsuccess:
    print_success()


onerror:
    print_failure(log)


rule all:
    input:
        all_outputs(),
    message:
        "all outputs of the run are up to date"
    default_target: True
