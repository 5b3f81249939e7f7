"""Cluster resources have one home per execution path, and the two homes agree.

* diffsep's launcher (submitit): ``diffsep.launch.STAGE_DEFAULTS`` per stage, under the user's
  ``launcher`` block;
* Snakemake's SLURM executor: the profile's ``set-resources`` per rule
  (``workflow/profiles/slurm/config.yaml``).

Rules set no ``resources:`` of their own. Each rule's stage is its ``params.stage``, read from the
``.smk`` files (the rule names are checked against ``snakemake --list-rules``).
"""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from diffsep import config as dsconfig
from diffsep import launch

from helpers import CONFIGS, REPO

PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
_RULE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.M)
_DIRECTIVE = re.compile(r"^    (\w+):", re.M)  # a rule's directives (4-space indent, black/snakefmt style)


def _directives(body: str) -> dict:
    """``{directive: its text}`` of one rule body."""
    marks = list(_DIRECTIVE.finditer(body))
    return {m.group(1): body[m.end():(marks[i + 1].start() if i + 1 < len(marks) else len(body))]
            for i, m in enumerate(marks)}


def _parse_rules() -> dict:
    """rule name -> {"file", "stage" (params.stage or None), "local" (localrule: True), "directives"}."""
    out = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = _RULE.match(line)
            if not m:
                continue
            body = []
            for nxt in lines[i + 1:]:  # the body: lines up to the next unindented code line
                if nxt.strip() and not nxt[0].isspace() and not nxt.startswith("#"):
                    break
                body.append(nxt)
            d = _directives("\n".join(body))
            stage = re.search(r"^\s+stage\s*=\s*[\"'](\w+)[\"']", d.get("params", ""), re.M)
            assert m.group(1) not in out, f"rule {m.group(1)} defined twice"
            out[m.group(1)] = {"file": path.relative_to(REPO), "stage": stage.group(1) if stage else None,
                               "local": d.get("localrule", "").strip() == "True", "directives": set(d)}
    return out


RULES = _parse_rules()
COMPUTE = {name: r["stage"] for name, r in RULES.items() if r["stage"] and r["stage"] not in launch.LOCAL_STAGES}


def _profile() -> dict:
    return yaml.safe_load(PROFILE.read_text())


def test_parsed_rules_are_the_workflow_rules(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
                           str(tmp_path), "--list-rules", "--configfile", str(CONFIGS / "tiny.yaml")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    listed = {ln.strip() for ln in proc.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", ln)}
    assert listed == set(RULES), (sorted(listed), sorted(RULES))


def test_rules_set_threads_but_no_resources():
    with_resources = sorted(f"{r['file']}: rule {n}" for n, r in RULES.items() if "resources" in r["directives"])
    assert not with_resources, ("resources come from the SLURM profile (Snakemake executor) or "
                                f"diffsep.launch.STAGE_DEFAULTS (launcher), not from rules: {with_resources}")


def test_every_rule_stage_is_known_and_local_stages_are_localrules():
    for name, r in RULES.items():
        if name == "all":
            continue
        assert r["stage"], f"{r['file']}: rule {name} has no params.stage"
        assert r["stage"] in launch.STAGE_DEFAULTS or r["stage"] in launch.LOCAL_STAGES, (name, r["stage"])
        # a local stage runs inline on the submit host; a compute stage is a cluster job
        assert r["local"] == (r["stage"] in launch.LOCAL_STAGES), (name, r["stage"], r["local"])
    assert set(COMPUTE.values()) == set(launch.STAGE_DEFAULTS), "a stage default no rule uses, or the reverse"


def test_profile_resources_match_the_launcher_stage_defaults():
    prof = _profile()
    set_res = prof.get("set-resources") or {}
    assert set(set_res) == set(COMPUTE), (f"profile set-resources lists {sorted(set_res)}; compute rules are "
                                          f"{sorted(COMPUTE)}")
    bad = []
    for name, stage in sorted(COMPUTE.items()):
        want = launch.STAGE_DEFAULTS[stage]
        have = set_res[name]
        expect = {"runtime": int(want["timeout_min"]), "mem_mb": int(round(want["mem_gb"] * 1000))}
        got = {k: have.get(k) for k in expect}
        if got != expect:
            bad.append(f"{name} (stage {stage}): profile {got}, launch.STAGE_DEFAULTS {expect}")
    assert not bad, "; ".join(bad)
    default = prof["default-resources"]  # the local rules and anything unlisted: the launcher's DEFAULTS
    assert default["runtime"] == launch.DEFAULTS["timeout_min"]
    assert default["mem_mb"] == launch.DEFAULTS["mem_gb"] * 1000


def test_profile_threads_cover_the_compute_rules_that_set_threads():
    threaded = {n for n in COMPUTE if "threads" in RULES[n]["directives"]}
    assert threaded <= set(_profile().get("set-threads") or {}), sorted(threaded)


def test_stage_defaults_reach_snakemake_jobs_through_the_normalised_config():
    cfg = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())
    cfg.pop("launcher", None)
    launcher = dsconfig.load(cfg).config["launcher"]  # what run_from_snakemake reads
    for stage, want in launch.STAGE_DEFAULTS.items():
        st = launch.stage_settings(launcher, stage)
        assert (st["timeout_min"], st["mem_gb"]) == (want["timeout_min"], want["mem_gb"]), stage
