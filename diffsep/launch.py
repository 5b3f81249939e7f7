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
The light stages in :data:`LOCAL_STAGES` (collecting tables, rendering the report) always run
inline, like Snakemake's ``localrule``.

Resources: :data:`STAGE_DEFAULTS` holds each compute stage's default time limit and memory, under
the user's ``launcher`` block and its per-stage overrides (which win). It is the one home of these
numbers: the Snakemake SLURM profile (``workflow/profiles/slurm/config.yaml``) repeats them per
rule, and ``tests/workflow/test_resources.py`` fails when the two disagree.

Requeues: every job is a :class:`StageJob` (submitit ``Checkpointable``). On a time-limit or
preemption signal (USR2, ``signal_delay_s`` before the limit) submitit calls its ``checkpoint``,
which resubmits the same call, and requeues the job, at most ``max_requeues`` times. A plain
``scontrol requeue`` (SIGTERM, then SIGKILL) re-runs the original call. Either way the job
function starts again from the top, and training picks up its own checkpoint file
(``<model>.ckpt``), written every ``checkpoint_every`` steps: at most that many steps are redone.

Failures raise :class:`LaunchError` with one line: job id, SLURM state (from ``sacct``), the
reason (the job's exception, ``cancelled``, ``time limit``...), the stderr path and its last lines.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path, PurePath

__all__ = ["LaunchError", "run", "run_array", "submit", "wait", "stage_settings", "slurm_parameters", "run_from_snakemake",
           "StageJob", "probe", "sacct_info", "LOCAL_STAGES", "STAGE_DEFAULTS"]

log = logging.getLogger(__name__)
KINDS = ("inline", "local", "debug", "slurm")
LOCAL_STAGES = ("collect", "bounds", "claims", "report")  # always inline (like Snakemake's localrule): light, need no node
_STAGE_KEYS = ("partition", "account", "qos", "gpus_per_job", "cpus_per_task", "mem_gb", "timeout_min",
               "constraint", "extra_sbatch", "array_parallelism", "max_requeues", "signal_delay_s",
               "poll_seconds")
DEFAULTS = {"kind": "inline", "folder": "logs/submitit", "partition": None, "account": None, "qos": None,
            "gpus_per_job": 0, "cpus_per_task": 1, "mem_gb": 4, "timeout_min": 60, "constraint": None,
            "extra_sbatch": {}, "array_parallelism": 8, "max_requeues": 3, "signal_delay_s": 90,
            "poll_seconds": 2.0, "stages": {}}
# Default resources per compute stage (the launcher's stage names; LOCAL_STAGES run inline and take
# DEFAULTS). Applied under the user's launcher block and its per-stage overrides. The SLURM profile's
# set-resources must match: runtime = timeout_min, mem_mb = mem_gb * 1000 (tests/workflow/test_resources.py).
STAGE_DEFAULTS = {
    "prepare": {"timeout_min": 15, "mem_gb": 4},
    "train": {"timeout_min": 240, "mem_gb": 8},
    "measure": {"timeout_min": 60, "mem_gb": 8},
    "classifier": {"timeout_min": 60, "mem_gb": 4},
    "guidance": {"timeout_min": 120, "mem_gb": 8},
    "dae": {"timeout_min": 240, "mem_gb": 8},
}
_SACCT_EVERY = 5  # a waiting rule asks sacct every 5 polls (the result file is checked every poll)
# SLURM states after which a job will not run again (sacct names; "CANCELLED by 0" -> CANCELLED)
_TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL",
             "DEADLINE", "PREEMPTED", "REVOKED"}


class LaunchError(RuntimeError):
    """A job failed, was cancelled or timed out; the message is one line with the job id and stderr tail."""


def _resolve(fn: str):
    """``'module:function'``, or a stage module (``'diffsep.stages.train'``): its ``run``."""
    mod, _, name = fn.partition(":")
    return getattr(importlib.import_module(mod), name or "run")


def call(fn: str, kwargs: dict):
    """Import ``fn`` and call it with ``kwargs`` (what every launcher kind ends up doing)."""
    return _resolve(fn)(**kwargs)


def probe(value=None, fail: str | None = None, sleep: float = 0.0, **_) -> dict:
    """A diagnostic job: echoes ``value`` with where it ran; raises ``fail`` as an error if given."""
    import socket

    if sleep:
        time.sleep(float(sleep))
    if fail:
        raise RuntimeError(fail)
    return {"value": value, "host": socket.gethostname(), "pid": os.getpid(),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "restart_count": int(os.environ.get("SLURM_RESTART_COUNT", 0))}


try:  # submitit is a dependency, but keep `inline` usable without it
    import submitit
    from submitit.core.utils import FailedJobError, UncompletedJobError
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover
    submitit = None
    FailedJobError = UncompletedJobError = RuntimeError
    _Checkpointable = object


class StageJob(_Checkpointable):
    """The callable submitit runs. Checkpointable: on a time-out or preemption submitit calls
    :meth:`checkpoint`, which resubmits the same call; the stage resumes from its own files."""

    def __call__(self, fn: str, kwargs: dict):
        root = logging.getLogger("diffsep")  # not the root logger: submitit logs through its own handler
        if not root.handlers:
            h = logging.StreamHandler(sys.stderr)
            h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            root.addHandler(h)
            root.setLevel(logging.INFO)
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", 0) or 0)
        log.info("job %s: %s%s", os.environ.get("SLURM_JOB_ID", os.getpid()), fn,
                 f" (restart {restarts}: resumes from its own checkpoint files)" if restarts else "")
        return call(fn, kwargs)

    def checkpoint(self, *args, **kwargs):
        log.warning("time limit or preemption: requeueing the same call (it resumes from its checkpoint files)")
        return super().checkpoint(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# settings and submission
# ------------------------------------------------------------------------------------------------
def stage_settings(launcher: dict | None, stage: str) -> dict:
    """The launcher block with defaults and the per-stage overrides of ``stage`` applied, in this
    order (later wins): :data:`DEFAULTS`, the stage's :data:`STAGE_DEFAULTS`, the launcher block,
    ``launcher.stages.<stage>``."""
    cfg = {**DEFAULTS, **STAGE_DEFAULTS.get(stage, {}), **(launcher or {})}
    over = (cfg.get("stages") or {}).get(stage) or {}
    unknown = sorted(set(over) - set(_STAGE_KEYS))
    if unknown:
        raise ValueError(f"config key 'launcher.stages.{stage}.{unknown[0]}': unknown key; known: {list(_STAGE_KEYS)}")
    cfg = {**cfg, **over}
    if cfg["kind"] not in KINDS:
        raise ValueError(f"config key 'launcher.kind': {cfg['kind']!r} is not one of {list(KINDS)}")
    if stage in LOCAL_STAGES:
        cfg["kind"] = "inline"
    return cfg


def slurm_parameters(cfg: dict) -> dict:
    """submitit parameters of a stage's settings (``cfg`` from :func:`stage_settings`)."""
    params = {"timeout_min": int(cfg["timeout_min"]), "cpus_per_task": int(cfg["cpus_per_task"]),
              "mem_gb": float(cfg["mem_gb"])}
    if int(cfg["gpus_per_job"]):
        params["gpus_per_node"] = int(cfg["gpus_per_job"])
    if cfg["kind"] == "slurm":
        params["slurm_array_parallelism"] = int(cfg["array_parallelism"])
        params["slurm_signal_delay_s"] = int(cfg["signal_delay_s"])
        for key in ("partition", "account", "qos", "constraint"):
            if cfg[key]:
                params[f"slurm_{key}"] = str(cfg[key])
        extra = {str(k).replace("-", "_"): v for k, v in (cfg["extra_sbatch"] or {}).items()}
        if extra:
            params["slurm_additional_parameters"] = extra
    return params


def _executor(stage: str, cfg: dict, name: str):
    if submitit is None:  # pragma: no cover
        raise LaunchError(f"launcher kind {cfg['kind']!r} needs submitit, which is not installed")
    folder = Path(cfg["folder"]) / stage
    extra = {"slurm_max_num_timeout": int(cfg["max_requeues"])} if cfg["kind"] == "slurm" else {}
    ex = submitit.AutoExecutor(folder=folder, cluster=cfg["kind"], **extra)
    ex.update_parameters(name=name, **slurm_parameters(cfg))
    return ex


def _check_plain(value, where: str = "kwargs") -> None:
    """Jobs receive paths and plain data, never objects (they are pickled and re-run after a requeue)."""
    if value is None or isinstance(value, (str, int, float, bool, PurePath)):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"job argument {where} is a {type(value).__name__}: jobs take paths and plain data only")


def _submit_error(stage: str, cfg: dict, exc: Exception) -> LaunchError:
    msg = " ".join(str(exc).split())
    return LaunchError(f"stage {stage}: {cfg['kind']} refused the job ({type(exc).__name__}): {msg[-600:]}")


def submit(stage: str, fn: str, kwargs: dict, launcher: dict | None = None):
    """Submit one job of ``stage`` (kinds local/debug/slurm) and return the submitit job."""
    cfg = stage_settings(launcher, stage)
    if cfg["kind"] == "inline":
        raise ValueError("submit() needs launcher kind local, debug or slurm; inline jobs run with run()")
    _check_plain(kwargs)
    try:
        job = _executor(stage, cfg, name=f"diffsep-{stage}").submit(StageJob(), fn, kwargs)
    except (OSError, subprocess.SubprocessError, FailedJobError, UncompletedJobError) as exc:
        raise _submit_error(stage, cfg, exc) from None
    log.info("stage %s: submitted %s job %s; logs %s", stage, cfg["kind"], job.job_id, job.paths.stderr)
    return job


# ------------------------------------------------------------------------------------------------
# waiting, and one-line failure reports
# ------------------------------------------------------------------------------------------------
def sacct_info(job_id: str) -> dict:
    """``{"state", "exit_code", "requeues"}`` of a SLURM job from accounting (``{}`` without sacct)."""
    if shutil.which("sacct") is None:
        return {}
    try:
        out = subprocess.run(["sacct", "-j", str(job_id), "-X", "-D", "-n", "-P", "-o", "JobID,State,ExitCode"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return {}
    rows = [ln.split("|") for ln in out.stdout.splitlines() if ln.strip()]
    rows = [r for r in rows if len(r) >= 3 and r[0] == str(job_id)]
    if not rows:
        return {}
    info = {"state": rows[-1][1].split()[0], "exit_code": rows[-1][2],
            "requeues": sum(r[1].split()[0] == "REQUEUED" for r in rows)}
    if info["state"] == "REQUEUED":  # SLURM 22.05: cancelled while pending after a requeue stays REQUEUED
        info["state"] = _controller_state(job_id) or "REQUEUED"
    return info


def _controller_state(job_id: str) -> str | None:
    """The job's state from slurmctld (``scontrol``); "GONE" once it forgot the job (MinJobAge)."""
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return "GONE" if "Invalid job id" in out.stderr else None
    m = re.search(r"JobState=(\S+)", out.stdout)
    return m.group(1) if m else None


def _final_sacct(job, patience: float = 10.0) -> dict:
    """sacct info once the job's state is final (slurmdbd records it a moment after the result file)."""
    deadline = time.monotonic() + patience
    while True:
        info = sacct_info(job.job_id)
        if info.get("state") in _TERMINAL | {"GONE"} or time.monotonic() > deadline:
            return info
        time.sleep(0.5)


def _requeued_then_gone(job) -> bool:
    """submitit waits forever on a job that accounting still calls REQUEUED although slurmctld has
    cancelled it (scancel while pending after a requeue): ask slurmctld."""
    if _state(job) != "REQUEUED":
        return False
    return _controller_state(job.job_id) in _TERMINAL | {"GONE"}


_PROGRESS = re.compile(r"\d+%\|.*\|")  # tqdm progress-bar updates ("\r"-separated): not worth a tail line


def _tail(path, n: int = 4) -> str:
    try:
        lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no stderr file)"
    lines = [ln for ln in lines if not ln.startswith("----") and not _PROGRESS.search(ln) and ln.strip("^~ ")]
    return " | ".join(lines[-n:]) or "(stderr empty)"


def _reason(exc: Exception, state: str, cfg: dict) -> str:
    text = str(exc)
    if "timed-out too many times" in text:
        return (f"hit its time limit (timeout_min={cfg['timeout_min']}) after "
                f"{cfg['max_requeues']} requeue(s) (launcher.max_requeues)")
    if isinstance(exc, FailedJobError):  # the job raised: the traceback's last line names the error
        parts = text.split("----------------------")  # submitit: header / trace / paths
        trace = parts[1] if len(parts) >= 3 else text
        lines = [ln.strip() for ln in trace.splitlines() if ln.strip()]
        return lines[-1][:400] if lines else "the job raised"
    if state == "CANCELLED":
        return "cancelled (scancel or the cluster) before it wrote a result"
    if state == "TIMEOUT":
        return f"killed at its time limit (timeout_min={cfg['timeout_min']}) before it wrote a result"
    if state == "OUT_OF_MEMORY":
        return f"out of memory (mem_gb={cfg['mem_gb']})"
    if state in _TERMINAL:
        return f"ended without a result ({type(exc).__name__})"
    return " ".join(text.split())[:300] or type(exc).__name__


def _failure(job, exc: Exception, cfg: dict, tail_lines: int = 4) -> str:
    """One line: job id, state, reason, stderr path and its last lines."""
    if cfg["kind"] == "slurm":
        info = _final_sacct(job)
        state = info.get("state") or _state(job)
        req = info.get("requeues", 0)
        code = info.get("exit_code", "0:0")
        head = f"SLURM job {job.job_id} {state}" + (f" (exit {code})" if code not in ("", "0:0") else "")
        head += f" after {req} requeue(s)" if req else ""
    else:
        state = "FAILED" if isinstance(exc, FailedJobError) else _state(job)
        head = f"{cfg['kind']} job {job.job_id} {state}"
    err = getattr(job.paths, "stderr", None)
    return f"{head}: {_reason(exc, state, cfg)}; stderr {err}: {_tail(err, tail_lines)}"


def _state(job) -> str:
    with contextlib.suppress(Exception):
        return str(job.state).split()[0]
    return "UNKNOWN"


def _wait_all(jobs: list, cfg: dict) -> list:
    """Wait for every job; ``[(True, result) | (False, exc)]`` in order. Ctrl-C/SIGTERM cancels them."""
    poll = float(cfg["poll_seconds"])
    for j in jobs:
        j._results_timeout_s = min(getattr(j, "_results_timeout_s", 15), 4)  # notice cancelled jobs fast
    pending, n = list(jobs), 0
    try:
        while pending:
            force = n % _SACCT_EVERY == _SACCT_EVERY - 1
            # one forced sacct call refreshes the shared watcher for all jobs
            pending = [j for k, j in enumerate(pending) if not j.done(force_check=force and k == 0)
                       and not (force and cfg["kind"] == "slurm" and _requeued_then_gone(j))]
            if pending:
                time.sleep(poll)
                n += 1
    except BaseException:  # KeyboardInterrupt, SystemExit (SIGTERM): do not leave jobs behind
        for j in pending:
            with contextlib.suppress(Exception):
                j.cancel(check=False)
                log.warning("cancelled job %s", j.job_id)
        raise
    out = []
    for j in jobs:
        try:
            out.append((True, j.result()))
        except Exception as exc:  # FailedJobError, UncompletedJobError, ...
            out.append((False, exc))
    return out


def wait(job, stage: str, launcher: dict | None = None, what: str = ""):
    """Wait for a submitted job; its result, or a one-line :class:`LaunchError`."""
    cfg = stage_settings(launcher, stage)
    ok, value = _wait_all([job], cfg)[0]
    if ok:
        return value
    raise LaunchError(f"stage {stage} ({what or stage}): {_failure(job, value, cfg)}")


def run(stage: str, fn: str, kwargs: dict, launcher: dict | None = None, what: str = ""):
    """Run one job of ``stage`` and return its result (raises :class:`LaunchError` on failure)."""
    cfg = stage_settings(launcher, stage)
    if cfg["kind"] == "inline":
        return call(fn, kwargs)
    return wait(submit(stage, fn, kwargs, launcher), stage, launcher, what)


def run_array(stage: str, fn: str, kwargs_list: list[dict], launcher: dict | None = None, what: str = ""):
    """Run independent jobs of ``stage`` (one SLURM job array under ``slurm``, at most
    ``array_parallelism`` at a time); results in order. Every element runs even when some fail;
    then one :class:`LaunchError` lists each failed element (index, job id, state, reason, stderr)."""
    cfg = stage_settings(launcher, stage)
    what = what or stage
    kwargs_list = list(kwargs_list)
    if not kwargs_list:
        return []
    if cfg["kind"] == "inline":
        outcomes = []
        for kw in kwargs_list:
            try:
                outcomes.append((True, call(fn, kw)))
            except Exception as exc:
                outcomes.append((False, exc))
        fails = [f"[{i}] {type(e).__name__}: {' '.join(str(e).split())[:300]}"
                 for i, (ok, e) in enumerate(outcomes) if not ok]
    else:
        for kw in kwargs_list:
            _check_plain(kw)
        try:
            jobs = _executor(stage, cfg, name=f"diffsep-{stage}").map_array(StageJob(), [fn] * len(kwargs_list),
                                                                             kwargs_list)
        except (OSError, subprocess.SubprocessError, FailedJobError, UncompletedJobError) as exc:
            raise _submit_error(stage, cfg, exc) from None
        log.info("stage %s (%s): submitted array of %d jobs (%s); logs %s", stage, what, len(jobs),
                 jobs[0].job_id.split("_")[0], jobs[0].paths.folder)
        outcomes = _wait_all(jobs, cfg)
        fails = [f"[{i}] {_failure(jobs[i], e, cfg, tail_lines=2)}" for i, (ok, e) in enumerate(outcomes) if not ok]
    if fails:
        raise LaunchError(f"stage {stage} ({what}): {len(fails)} of {len(kwargs_list)} array jobs failed: "
                          + " || ".join(fails))
    return [v for _, v in outcomes]


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
    with _redirect(logfile), _sigterm_as_interrupt():
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        t0 = time.perf_counter()
        try:
            st = stage_settings(launcher, stage)
            if st["kind"] != "inline" and int(st["cpus_per_task"]) < kwargs["threads"]:
                log.warning("launcher cpus_per_task=%s < threads=%s: the job oversubscribes its CPUs",
                            st["cpus_per_task"], kwargs["threads"])
            run(stage, fn, kwargs, launcher, what=what)
        except Exception as exc:
            import traceback

            msg = " ".join(str(exc).split()).removeprefix(f"stage {stage} ({what}): ")
            log.error("traceback of the failure:\n%s", traceback.format_exc().rstrip())  # full, for diagnosis
            log.error("%s", msg)
            line = f"diffsep {stage} failed ({what}): {msg}" + (f" [log: {logfile}]" if logfile else "")
            print(line, file=sys.stderr)  # the log's last line (the workflow's onerror handler looks for it)
            raise SystemExit(line)
        log.info("stage %s (%s) done in %.1f s", stage, what, time.perf_counter() - t0)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Snakemake stops a job with SIGTERM: turn it into KeyboardInterrupt so submitted jobs are cancelled."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


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
