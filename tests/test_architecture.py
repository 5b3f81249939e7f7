"""The package's structure: no import cycles, library modules import nothing from the DAG's
stages, every stage has one entry point, and the report and the workflow's planning load no torch."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import diffsep
from diffsep.stages import STAGES

PKG = Path(diffsep.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Every diffsep module that ``path`` imports, at any depth (function-level imports included)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "diffsep"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "diffsep":
                continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from . import x` may name a module
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        # an import of a.b.c also runs a and a.b (package __init__ files)
        deps = set()
        for mod in _imports(path, name):
            parts = mod.split(".")
            deps |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & set(files)
        # a submodule importing from its own package (``from . import x``) is the ordinary package
        # layout, not a cycle: drop edges to its own ancestors
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = deps - {name} - ancestors
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_walker_sees_relative_and_function_level_imports(tmp_path):
    mod = PKG / "stages" / "train.py"
    deps = import_graph()["diffsep.stages.train"]
    assert {"diffsep.train", "diffsep.models", "diffsep.stages._job"} <= deps, deps
    assert mod.exists()
    # a made-up cycle is found
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    graph = import_graph()
    cycles = _cycles(graph)
    assert not cycles, f"import cycles: {cycles}"


def test_library_modules_import_nothing_from_stages():
    graph = import_graph()
    bad = {m: sorted(d for d in deps if d.startswith("diffsep.stages"))
           for m, deps in graph.items() if not m.startswith("diffsep.stages")}
    bad = {m: d for m, d in bad.items() if d}
    assert not bad, f"library modules that import DAG stages: {bad}"


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_one_entry_point_with_the_common_signature(stage):
    import importlib

    mod = importlib.import_module(f"diffsep.stages.{stage}")
    params = inspect.signature(mod.run).parameters
    names = list(params)
    assert names[:2] == ["inp", "out"], (stage, names)
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), stage
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items()
               if n not in ("inp", "out") and p.kind is not inspect.Parameter.VAR_KEYWORD), stage
    # only `run` is public: a stage module is a job, not a library
    public = [n for n, v in vars(mod).items() if inspect.isfunction(v) and v.__module__ == mod.__name__
              and not n.startswith("_")]
    assert public == ["run"], (stage, public)


def test_every_rule_calls_a_stage_module():
    rules = (PKG.parent / "workflow" / "rules").glob("*.smk")
    fns = set()
    for r in rules:
        for line in r.read_text().splitlines():
            line = line.strip()
            if line.startswith("fn="):
                fns.add(line.split("=", 1)[1].strip().strip(",").strip('"'))
    assert fns, "no rules found"
    assert fns <= {f"diffsep.stages.{s}" for s in STAGES}, fns


@pytest.mark.parametrize("module", ["diffsep.report", "diffsep.tables", "diffsep.dae",
                                    "diffsep.stages", "diffsep.stats", "diffsep.process", "diffsep.claims"])
def test_light_modules_do_not_import_torch(module):
    """The report and the tables run on a login node without torch (the config's planning still
    loads it, through the dataset kinds)."""
    code = f"import sys, {module}; bad = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]; " \
           f"print(len(bad))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "0", f"importing {module} imports torch"
