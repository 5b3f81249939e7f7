"""``diffsep`` command line: check a config, list table schemas, estimate MI from array files.

The workflow itself runs through Snakemake (``make run``); these commands are for users:

    diffsep validate config/config.yaml        # one line per problem, exit 1 on error; prints the plan
    diffsep tables                             # the declared Parquet table schemas
    diffsep estimate-mi x.npy y.npy [--discrete] [--steps N]    # MI (nats) from paired samples
    diffsep config-docs [--write config/README.md]             # the key reference of config/README.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="diffsep", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("validate", help="validate a workflow config and print its plan")
    v.add_argument("config")
    v.add_argument("--no-files", action="store_true", help="do not open data files")
    v.set_defaults(fn=_validate)
    t = sub.add_parser("tables", help="print the declared table schemas")
    t.set_defaults(fn=_tables)
    e = sub.add_parser("estimate-mi", help="estimate I(X;Y) from two array files (.npy/.csv)")
    e.add_argument("x")
    e.add_argument("y")
    e.add_argument("--discrete", action="store_true", help="treat y as class labels")
    e.add_argument("--continuous", action="store_true", help="treat y as continuous (even if it is integer)")
    e.add_argument("--steps", type=int, default=None,
                   help="optimizer steps per network (default: from the sample count)")
    e.add_argument("--width", type=int, default=None, help="MLP width (default: from the dimensions)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--networks", type=int, default=2,
                   help="independently trained networks; >= 2 reports the cross-fitted MINDE")
    e.add_argument("--dropout", type=float, default=0.0, help="dropout inside the MLP blocks")
    e.set_defaults(fn=_estimate)
    d = sub.add_parser("config-docs", help="print the generated key reference of config/README.md")
    d.add_argument("--write", metavar="FILE", help="replace the generated section of FILE instead")
    d.set_defaults(fn=_config_docs)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
