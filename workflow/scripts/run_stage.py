"""Every rule runs its stage through this one script: diffsep.launch decides where the job runs
(in this process, a submitit subprocess, or a SLURM job) from the config's launcher block."""

from diffsep.launch import run_from_snakemake

run_from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake
