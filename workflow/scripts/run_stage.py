"""Every rule runs its stage through this one script: diffsep.launch decides where the job runs
(in this process, a submitit subprocess, or a SLURM job) from the config's launcher block."""

import sys
from pathlib import Path

try:
    import diffsep  # noqa: F401
except ImportError:  # a conda env from workflow/envs/ holds the dependencies; this checkout holds diffsep
    sys.path.insert(0, str(Path(snakemake.scriptdir).resolve().parents[1]))  # noqa: F821

from diffsep.launch import run_from_snakemake  # noqa: E402

run_from_snakemake(snakemake)  # noqa: F821 - injected by Snakemake
