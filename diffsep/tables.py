"""Parquet tables with declared schemas, atomic writes, and the collector.

Each table's schema is a YAML file ``diffsep/schemas/tables/<table>.yaml`` (package data) (column name, type,
unit, description, nullability); every table also carries the identifying columns of
``_identity.yaml`` (``dataset, resolution, model, seed, git_rev, created_at``). Units travel in
the Parquet schema metadata. :func:`write` checks a frame against its schema before writing it
atomically; :func:`collect` concatenates per-job files into ``tables/<table>.parquet``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from .io import atomic_path

__all__ = ["TableSchema", "schema", "table_names", "empty", "write", "read", "collect", "identity", "git_rev",
           "SchemaError", "ID_COLUMNS", "fit"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "tables"  # package data
ID_COLUMNS = ("dataset", "resolution", "model", "seed", "git_rev", "created_at")
_TYPES = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
          "timestamp[us, UTC]": pa.timestamp("us", tz="UTC")}


class SchemaError(ValueError):
    """A frame does not match its declared table schema."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    unit: str | None
    nullable: bool
    description: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow(self) -> pa.Schema:
        fields = [pa.field(c.name, _TYPES[c.type], nullable=c.nullable or c.name == "created_at",
                           metadata={"unit": c.unit or "", "description": c.description})
                  for c in self.columns]
        return pa.schema(fields, metadata={"table": self.name, "description": self.description})

    def units(self) -> dict:
        return {c.name: c.unit for c in self.columns if c.unit}


def _load_columns(path: Path) -> tuple[str, list[Column]]:
    doc = yaml.safe_load(path.read_text())
    cols = []
    for name, c in doc["columns"].items():
        if c["type"] not in _TYPES:
            raise SchemaError(f"{path}: column {name!r} has unknown type {c['type']!r}; known: {sorted(_TYPES)}")
        cols.append(Column(name, c["type"], c.get("unit"), bool(c.get("nullable", False)), c.get("description", "")))
    return doc.get("description", ""), cols


@functools.lru_cache(maxsize=None)
def schema(table: str) -> TableSchema:
    path = SCHEMA_DIR / f"{table}.yaml"
    if not path.exists() or table.startswith("_"):
        raise SchemaError(f"no schema for table {table!r} (looked for {path}); known: {table_names()}")
    _, ident = _load_columns(SCHEMA_DIR / "_identity.yaml")
    desc, cols = _load_columns(path)
    clash = {c.name for c in cols} & {c.name for c in ident}
    if clash:
        raise SchemaError(f"{path}: redeclares identifying column(s) {sorted(clash)}")
    return TableSchema(table, desc, tuple(ident + cols))


def table_names() -> list[str]:
    return sorted(p.stem for p in SCHEMA_DIR.glob("*.yaml") if not p.stem.startswith("_"))


@functools.lru_cache(maxsize=1)
def git_rev() -> str:
    """Short git revision of the code (with ``-dirty`` when the tree has changes), or 'unknown'."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").exists():  # an installed copy: no source tree to ask
        return "unknown"
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def identity(dataset: str, resolution: int, model: str, seed: int) -> dict:
    return {"dataset": str(dataset), "resolution": int(resolution), "model": str(model), "seed": int(seed),
            "git_rev": git_rev(), "created_at": pd.Timestamp(_dt.datetime.now(_dt.timezone.utc)).floor("us")}


def conform(df: pd.DataFrame, table: str) -> pa.Table:
    """Check ``df`` against the schema of ``table`` and return an Arrow table (columns in order)."""
    sch = schema(table)
    have, want = list(df.columns), sch.names
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    if missing or extra:
        raise SchemaError(f"table {table!r}: missing columns {missing}, unexpected columns {extra}")
    df = df[want].copy()
    for c in sch.columns:
        if not c.nullable and df[c.name].isna().any():
            raise SchemaError(f"table {table!r}: column {c.name!r} has nulls but is not nullable")
    try:
        return pa.Table.from_pandas(df, schema=sch.arrow(), preserve_index=False, safe=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise SchemaError(f"table {table!r}: {' '.join(str(exc).split())}") from None


def fit(df: pd.DataFrame, table: str, **columns) -> pd.DataFrame:
    """``df`` shaped to the schema of ``table``: ``columns`` (e.g. :func:`identity`) assigned, absent
    columns added as nulls, integer columns holding nulls made nullable (``Int64``), columns in
    schema order. What is left to check (types, non-nullable columns) is :func:`conform`'s job."""
    df = df.assign(**columns) if columns else df.copy()
    for c in schema(table).columns:
        if c.name not in df:
            df[c.name] = pd.NA if c.type == "int64" else float("nan") if c.type == "float64" else None
        if c.type == "int64" and not pd.api.types.is_integer_dtype(df[c.name].dtype):
            df[c.name] = df[c.name].astype("Int64")
    return df[schema(table).names]


def empty(table: str) -> pd.DataFrame:
    """A zero-row frame with the columns and dtypes of ``table``."""
    return schema(table).arrow().empty_table().to_pandas()


def write(df: pd.DataFrame, table: str, path: str | Path, csv: str | Path | None = None) -> Path:
    """Validate and write atomically; returns the path. With ``csv``, the same rows also as CSV
    there (UTF-8, header row, empty cells for nulls; units are in the Parquet schema)."""
    at = conform(df, table)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(at, tmp)
    if csv is not None:
        with atomic_path(csv, suffix=".csv") as tmp:
            at.to_pandas().to_csv(tmp, index=False)
    return Path(path)


def read(path: str | Path, table: str | None = None) -> pd.DataFrame:
    at = pq.read_table(path)
    if table is not None:
        name = (at.schema.metadata or {}).get(b"table", b"").decode()
        if name and name != table:
            raise SchemaError(f"{path}: holds table {name!r}, expected {table!r}")
        conform(at.to_pandas(), table)
    return at.to_pandas()


def collect(table: str, paths, out: str | Path, csv: str | Path | None = None) -> pd.DataFrame:
    """Concatenate per-job files of ``table`` (schema-checked) into ``out`` (and ``csv``); returns the frame."""
    frames = [read(p, table) for p in paths]
    frames = [f for f in frames if len(f)]
    if frames:
        df = pd.concat(frames, ignore_index=True)
    else:
        df = empty(table)
    write(df, table, out, csv=csv)
    return df


def describe(table: str) -> str:
    """Markdown description of a table (used in the docs and the report)."""
    sch = schema(table)
    lines = [f"**{table}** — {sch.description}", "", "| column | type | unit | description |", "|---|---|---|---|"]
    for c in sch.columns:
        lines.append(f"| {c.name} | {c.type}{'?' if c.nullable else ''} | {c.unit or ''} | {c.description} |")
    return "\n".join(lines)
