"""The ``diffsep`` command: check a config, list table schemas, estimate MI from array files.

The workflow itself runs through Snakemake (``make run``); these commands are for users. The text
shown by ``diffsep --help`` is :data:`EPILOG` (plain text: argparse prints it as is).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


DESCRIPTION = "diffsep: what information a diffusion model stores, and when it uses it."
EPILOG = """\
examples:
  diffsep validate config/config.yaml      check a config (one line per problem) and print its plan
  diffsep paths config/config.yaml         where a run of that config writes its report and logs
  diffsep install-data config/config.yaml  install its optional real datasets (make data)
  diffsep tables                           the declared Parquet table schemas
  diffsep estimate-mi x.npy y.npy          I(X;Y) in nats from paired samples (.npy, .csv or .txt)
  diffsep config-docs --write config/README.md

The pipeline itself runs through Snakemake: make run (or snakemake --cores 2 --configfile FILE)."""


def _paths(args) -> int:
    from .config import ConfigError, load_file

    try:
        plan = load_file(args.config, check_files=False)
    except ConfigError as exc:
        print(f"diffsep config error: {exc}", file=sys.stderr)
        return 1
    r = plan.config["results"].rstrip("/") or "."
    paths = {"results": r, "report": f"{r}/report/index.html", "tables": f"{r}/tables",
             "logs": f"{r}/logs", "benchmarks": f"{r}/benchmarks"}
    if args.only:
        print(paths[args.only])
    else:
        for k, v in paths.items():
            print(f"{k}: {v}")
    return 0


def _install_data(args) -> int:
    import subprocess

    import yaml

    from .data.packages import install_plan, missing_packages

    try:
        cfg = yaml.safe_load(Path(args.config).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"diffsep: {args.config}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    cmd, msg = install_plan(missing_packages(cfg))
    print(msg)
    if cmd is None or args.dry_run:
        return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", "update", "-qq"], env=env).returncode or subprocess.run(cmd, env=env).returncode


def _validate(args) -> int:
    from .config import ConfigError, load_file

    try:
        plan = load_file(args.config, check_files=not args.no_files)
    except ConfigError as exc:
        print(f"diffsep config error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.config}: valid")
    for name, why in plan.skipped.items():
        print(f"  skipped dataset {name}: {why}")
    for name, spec in plan.datasets.items():
        print(f"  dataset {name}: kind {spec['kind']}, resolutions {spec['resolutions']}")
    print(f"  information jobs: {len(plan.information)} ({len(plan.trained)} trained models)")
    return 0


def _tables(args) -> int:
    from .tables import describe, table_names

    for name in table_names():
        print(describe(name) + "\n")
    return 0


MAX_ARRAY_BYTES = 1 << 34  # 16 GiB: an .npy header promising more is refused before reading


def _load_array(path: str, role: str):
    """The array in ``path`` (.npy without pickle, .csv, .txt); errors name the file and its role (x or y)."""
    import numpy as np

    p = Path(path)
    where = f"{role} file {p}"
    if not p.exists():
        raise ValueError(f"{where}: file not found")
    if p.is_dir():
        raise ValueError(f"{where}: is a directory, not an array file")
    try:
        if p.suffix == ".npy":
            with open(p, "rb") as fh:
                try:
                    ver = np.lib.format.read_magic(fh)
                    shape, _, dtype = (np.lib.format.read_array_header_1_0(fh) if ver == (1, 0)
                                       else np.lib.format.read_array_header_2_0(fh))
                except ValueError as exc:
                    raise ValueError(f"{where}: not a .npy array ({' '.join(str(exc).split())})") from None
                if dtype.hasobject:
                    raise ValueError(f"{where}: holds Python objects (pickled); save a numeric array")
                need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                have = p.stat().st_size - fh.tell()
                if need > MAX_ARRAY_BYTES:
                    raise ValueError(f"{where}: its header promises {need:,} bytes (shape {shape}); refused")
                if need != have:
                    raise ValueError(f"{where}: truncated or padded: its header promises shape {shape} of {dtype} "
                                     f"({need:,} bytes), the file holds {have:,}")
            return np.load(p, allow_pickle=False)
        if p.suffix in (".csv", ".txt"):
            return np.loadtxt(p, delimiter="," if p.suffix == ".csv" else None, ndmin=1)
    except ValueError as exc:
        msg = " ".join(str(exc).split())
        raise ValueError(msg if msg.startswith(where) else f"{where}: not readable as numbers ({msg})") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{where}: cannot read ({' '.join(str(exc).split())})") from None
    raise ValueError(f"{where}: unsupported file type {p.suffix or '(none)'!r} (use .npy, .csv or .txt)")


def _estimate(args) -> int:
    import warnings

    from .api import estimate_mi

    if args.discrete and args.continuous:
        print("diffsep: --discrete and --continuous exclude each other", file=sys.stderr)
        return 2
    discrete = True if args.discrete else (False if args.continuous else None)
    try:
        x = _load_array(args.x, "x")
        y = _load_array(args.y, "y")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda m, *a, **k: print(f"diffsep: warning: {m}", file=sys.stderr)
            r = estimate_mi(x, y, discrete=discrete, steps=args.steps, width=args.width, seed=args.seed,
                            networks=args.networks, dropout=args.dropout, progress=True)
    except ValueError as exc:
        msg = " ".join(str(exc).split())
        if msg.startswith(("x ", "x:", "x must", "x has", "x contains", "x is", "x and y")):
            msg = f"{msg} (x: {args.x})" if not msg.startswith("x and y") else f"{msg} (x: {args.x}, y: {args.y})"
        elif msg.startswith(("y ", "y:", "discrete y")):
            msg = f"{msg} (y: {args.y})"
        print(f"diffsep: {msg}", file=sys.stderr)
        return 1
    out = {"mi_nats": r.mi, "se": r.se, "networks": r.networks, "mi_diff": r.mi_diff, "mi_mmse": r.mi_mmse,
           "entropy_marginal": r.entropy_marginal, "n_train": r.n_train, "n_test": r.n_test,
           "train_seconds": round(r.train_seconds, 2), "settings": r.settings}
    print(json.dumps(out, indent=2))
    return 0


def _config_docs(args) -> int:
    from . import confdocs

    if args.write:
        changed = confdocs.write(args.write)
        print(f"{args.write}: {'updated' if changed else 'already current'}")
    else:
        print(confdocs.render(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    ap = argparse.ArgumentParser(prog="diffsep", description=DESCRIPTION, epilog=EPILOG,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"diffsep {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    v = sub.add_parser("validate", help="validate a workflow config and print its plan",
                       description="Validate a workflow config (one line per problem, exit 1) and print its plan.")
    v.add_argument("config", help="the config file (YAML), e.g. config/config.yaml")
    v.add_argument("--no-files", action="store_true", help="do not open data files")
    v.set_defaults(fn=_validate)
    p = sub.add_parser("paths", help="print where a run of a config writes its report, tables and logs",
                       description="Print where a run of CONFIG writes its report, tables, logs and job benchmarks.")
    p.add_argument("config", help="the config file (YAML)")
    p.add_argument("--only", choices=["results", "report", "tables", "logs", "benchmarks"],
                   help="print only this path")
    p.set_defaults(fn=_paths)
    i = sub.add_parser("install-data", help="install the optional real datasets a config uses (Debian packages)",
                       description="Install the Debian packages of a config's optional datasets that are absent "
                                   "(as root with apt), or print the one command to run.")
    i.add_argument("config", help="the config file (YAML)")
    i.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    i.set_defaults(fn=_install_data)
    t = sub.add_parser("tables", help="print the declared table schemas",
                       description="Print every declared Parquet table schema (columns, types, units).")
    t.set_defaults(fn=_tables)
    e = sub.add_parser("estimate-mi", help="estimate I(X;Y) from two array files (.npy/.csv)",
                       description="Estimate I(X;Y) in nats from paired samples; prints JSON.")
    e.add_argument("x", help="samples of X: .npy, .csv or .txt, one row per sample")
    e.add_argument("y", help="samples of Y, same number of rows; 1-D integers are read as class labels")
    e.add_argument("--discrete", action="store_true", help="treat y as class labels")
    e.add_argument("--continuous", action="store_true", help="treat y as continuous (even if it is integer)")
    e.add_argument("--steps", type=int, default=None,
                   help="optimizer steps per network (default: from the sample count)")
    e.add_argument("--width", type=int, default=None, help="MLP width (default: from the dimensions)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    e.add_argument("--networks", type=int, default=2,
                   help="independently trained networks; >= 2 reports the cross-fitted MINDE (default: %(default)s)")
    e.add_argument("--dropout", type=float, default=0.0,
                   help="dropout inside the MLP blocks (default: %(default)s)")
    e.set_defaults(fn=_estimate)
    d = sub.add_parser("config-docs", help="print the generated key reference of config/README.md",
                       description="Print the generated key reference of config/README.md.")
    d.add_argument("--write", metavar="FILE", help="replace the generated section of FILE instead")
    d.set_defaults(fn=_config_docs)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
