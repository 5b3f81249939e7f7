"""Run one compute job here, or through submitit (locally or on SLURM): the one launch path.

A job is a function named ``"module:function"`` plus keyword arguments made of paths and plain
data (never models or tensors), so it can be pickled into a SLURM job and re-run after a
requeue. The ``launcher`` config block picks how it runs:

* ``inline``: called in this process (the Snakemake job's own process);
* ``local``: a submitit subprocess on this machine;
* ``debug``: submitit's in-process debug executor;
* ``slurm``: a SLURM job submitted by submitit; Snakemake waits on the login node.

Only one layer schedules a job: with ``slurm`` Snakemake runs locally and submitit submits; when
Snakemake's own SLURM executor places the rule on a node, use ``inline`` (or ``local``).
Training jobs resume from their own checkpoint file, so a requeue (preemption, time-out,
``scontrol requeue``) continues where the last checkpoint left off.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import sys
import time
from pathlib import Path

__all__ = ["LaunchError", "run", "run_array", "stage_settings", "run_from_snakemake", "StageJob", "probe"]

log = logging.getLogger(__name__)
KINDS = ("inline", "local", "debug", "slurm")
_STAGE_KEYS = ("partition", "account", "qos", "gpus_per_job", "cpus_per_task", "mem_gb", "timeout_min",
               "constraint", "extra_sbatch", "array_parallelism", "max_requeues", "poll_seconds")
DEFAULTS = {"kind": "inline", "folder": "logs/submitit", "partition": None, "account": None, "qos": None,
            "gpus_per_job": 0, "cpus_per_task": 1, "mem_gb": 4, "timeout_min": 60, "constraint": None,
            "extra_sbatch": {}, "array_parallelism": 8, "max_requeues": 3, "poll_seconds": 2.0, "stages": {}}


class LaunchError(RuntimeError):
    """A job failed, was cancelled or timed out; the message is one line with the job id and stderr tail."""


def _resolve(fn: str):
    mod, _, name = fn.partition(":")
    if not name:
        raise ValueError(f"job function must be 'module:function', got {fn!r}")
    return getattr(importlib.import_module(mod), name)


def call(fn: str, kwargs: dict):
    """Import ``fn`` and call it with ``kwargs`` (what every launcher kind ends up doing)."""
    return _resolve(fn)(**kwargs)


def probe(value=None, fail: str | None = None, sleep: float = 0.0) -> dict:
    """A diagnostic job: echoes ``value`` with where it ran; raises ``fail`` as an error if given."""
    import os
    import socket

    if sleep:
        time.sleep(float(sleep))
    if fail:
        raise RuntimeError(fail)
    return {"value": value, "host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID")}


try:  # submitit is a dependency, but keep `inline` usable without it
    import submitit
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover
    submitit = None
    _Checkpointable = object


class StageJob(_Checkpointable):
    """The callable submitit runs. Checkpointable: on a time-out or preemption submitit calls
    :meth:`checkpoint`, which resubmits the same call; the stage resumes from its own files."""

    def __call__(self, fn: str, kwargs: dict):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return call(fn, kwargs)


def stage_settings(launcher: dict | None, stage: str) -> dict:
    """The launcher block with defaults and the per-stage overrides of ``stage`` applied."""
    cfg = {**DEFAULTS, **(launcher or {})}
    over = (cfg.get("stages") or {}).get(stage, {})
    unknown = sorted(set(over) - set(_STAGE_KEYS))
    if unknown:
        raise ValueError(f"config key 'launcher.stages.{stage}.{unknown[0]}': unknown key")
    cfg = {**cfg, **over}
    if cfg["kind"] not in KINDS:
        raise ValueError(f"config key 'launcher.kind': {cfg['kind']!r} is not one of {list(KINDS)}")
    return cfg


def _executor(stage: str, cfg: dict, name: str):
    if submitit is None:  # pragma: no cover
        raise LaunchError(f"launcher kind {cfg['kind']!r} needs submitit, which is not installed")
    folder = Path(cfg["folder"]) / stage
    ex = submitit.AutoExecutor(folder=folder, cluster=cfg["kind"])
    params = {"timeout_min": int(cfg["timeout_min"]), "cpus_per_task": int(cfg["cpus_per_task"]),
              "mem_gb": float(cfg["mem_gb"]), "name": name}
    if cfg["kind"] == "slurm":
        extra = {str(k): v for k, v in (cfg["extra_sbatch"] or {}).items()}
        if cfg["account"]:
            extra["account"] = cfg["account"]
        if cfg["qos"]:
            extra["qos"] = cfg["qos"]
        params.update({"slurm_max_num_timeout": int(cfg["max_requeues"]),
                       "slurm_array_parallelism": int(cfg["array_parallelism"])})
        if cfg["partition"]:
            params["slurm_partition"] = cfg["partition"]
        if cfg["constraint"]:
            params["slurm_constraint"] = cfg["constraint"]
        if cfg["gpus_per_job"]:
            params["slurm_gpus_per_node"] = int(cfg["gpus_per_job"])
        if extra:
            params["slurm_additional_parameters"] = extra
    elif cfg["gpus_per_job"]:
        params["gpus_per_node"] = int(cfg["gpus_per_job"])
    ex.update_parameters(**params)
    return ex


def _tail(path, n: int = 6) -> str:
    try:
        lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no stderr file)"
    return " | ".join(lines[-n:]) or "(stderr empty)"


def _state(job) -> str:
    with contextlib.suppress(Exception):
        return str(job.state)
    return "UNKNOWN"


def _wait(job, stage: str, what: str, poll: float):
    """Wait for ``job``; return its result or raise a one-line :class:`LaunchError`."""
    job._results_timeout_s = min(getattr(job, "_results_timeout_s", 15), 4)  # notice cancelled jobs fast
    try:
        while not job.done(force_check=True):
            time.sleep(poll)
        return job.result()
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            job.cancel(check=False)
        raise
    except Exception as exc:  # FailedJobError, UncompletedJobError, ...
        state = _state(job)
        err = getattr(job.paths, "stderr", None)
        kind = type(exc).__name__
        raise LaunchError(f"stage {stage} ({what}): job {job.job_id} ended in state {state} ({kind}); "
                          f"stderr {err}: {_tail(err)}") from None


def run(stage: str, fn: str, kwargs: dict, launcher: dict | None = None, what: str = ""):
    """Run one job of ``stage`` and return its result (raises :class:`LaunchError` on failure)."""
    cfg = stage_settings(launcher, stage)
    if cfg["kind"] == "inline":
        return call(fn, kwargs)
    ex = _executor(stage, cfg, name=f"diffsep-{stage}")
    job = ex.submit(StageJob(), fn, kwargs)
    log.info("stage %s (%s): submitted job %s (%s); logs %s", stage, what, job.job_id, cfg["kind"],
             getattr(job.paths, "stderr", "?"))
    return _wait(job, stage, what, float(cfg["poll_seconds"]))


def run_array(stage: str, fn: str, kwargs_list: list[dict], launcher: dict | None = None, what: str = ""):
    """Run independent jobs of ``stage`` (a SLURM job array under ``slurm``); results in order."""
    cfg = stage_settings(launcher, stage)
    if cfg["kind"] == "inline":
        return [call(fn, kw) for kw in kwargs_list]
    ex = _executor(stage, cfg, name=f"diffsep-{stage}")
    jobs = ex.map_array(StageJob(), [fn] * len(kwargs_list), kwargs_list)
    log.info("stage %s (%s): submitted array of %d jobs (%s)", stage, what, len(jobs),
             jobs[0].job_id if jobs else "-")
    return [_wait(j, stage, f"{what} [{i}]", float(cfg["poll_seconds"])) for i, j in enumerate(jobs)]


# ------------------------------------------------------------------------------------------------
# Snakemake glue: workflow/scripts/run_stage.py calls this with the `snakemake` object
# ------------------------------------------------------------------------------------------------
def run_from_snakemake(smk) -> None:
    """Run the rule's stage: ``params.stage``, ``params.fn``, ``params.kwargs``; paths come from the
    rule's named inputs/outputs; the launcher block is read from the config (not from params, so
    switching launchers does not re-run finished jobs). Logs go to the rule's first ``log`` file."""
    stage, fn = smk.params.stage, smk.params.fn
    kwargs = dict(smk.params.kwargs)
    kwargs["inp"] = {k: v for k, v in smk.input.items()}
    kwargs["out"] = {k: v for k, v in smk.output.items()}
    cfg = smk.config
    launcher = cfg.get("launcher", {})
    kwargs.setdefault("threads", int(cfg.get("threads", 1)))
    kwargs.setdefault("device", cfg.get("device", "auto"))
    logfile = smk.log[0] if len(smk.log) else None
    what = ", ".join(f"{k}={v}" for k, v in smk.wildcards.items()) or stage
    with _redirect(logfile):
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        t0 = time.perf_counter()
        try:
            run(stage, fn, kwargs, launcher, what=what)
        except Exception as exc:
            msg = " ".join(str(exc).split())
            log.error("%s", msg)
            raise SystemExit(f"diffsep {stage} failed ({what}): {msg}" + (f" [log: {logfile}]" if logfile else ""))
        log.info("stage %s (%s) done in %.1f s", stage, what, time.perf_counter() - t0)


@contextlib.contextmanager
def _redirect(logfile):
    if not logfile:
        yield
        return
    Path(logfile).parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "a", buffering=1) as fh:
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err
