"""The DAG's jobs, one module per stage; nothing else in the package defines a job.

Every module has one entry point, ``run(inp, out, *, threads=1, device="auto", progress=True,
**params)``: ``inp`` and ``out`` map the rule's named inputs and outputs to paths, ``params`` are
the rule's plain settings. A job reads only ``inp``, writes only ``out`` (atomically, tables
through their declared schemas) and logs what it did. Rules name the module
(``fn="diffsep.stages.train"``); :mod:`diffsep.launch` runs it here, in a subprocess or as a SLURM
job. Shared plumbing (threads and device, provenance, writing a table) is in :mod:`._job`.

=============  ==============================================================================
stage          job
=============  ==============================================================================
prepare        one dataset at one resolution -> ``data/{dataset}/{res}.npz``
train          a score model -> ``models/.../seed{seed}.pt`` and its training history
measure        entropy and MI rates and integrals -> information, rates, per_class, cutoffs
classifier     an image classifier -> its file and the ``H(Y) - CE`` bound (table classifier)
guidance       guidance-timing sweeps (labelled images, or joint Gaussians against exact laws)
dae            a diffusion autoencoder: ``part='train'`` or ``part='measure'``
bounds         collected tables -> table ``bounds`` (estimates outside ``[H(Y) - CE, log K]``)
claims         collected tables -> table ``claims`` (the paper's claims decided per dataset)
collect        per-job Parquet files -> ``tables/<table>.parquet``
report         collected tables -> ``report/index.html``
=============  ==============================================================================

Adding a stage: a module here with ``run``, a ``workflow/rules/<stage>.smk`` file whose rules call
it (and register their tables in ``TABLE_PARTS``), and a schema ``diffsep/schemas/tables/<table>.yaml``
for each table it writes.
"""

STAGES = ("prepare", "train", "measure", "classifier", "guidance", "dae", "bounds", "claims", "collect",
          "report")

__all__ = ["STAGES"]
