"""Safe YAML for configs: PyYAML's ``SafeLoader`` plus three refusals, each one line.

* a duplicate key in a mapping (PyYAML keeps the last value silently): refused with the key's
  line and the line of its first occurrence;
* alias expansion beyond :data:`MAX_NODES` nodes (a kilobyte of nested aliases, the "billion
  laughs", expands to gigabytes once copied): refused while loading, without expanding anything;
* a document over :data:`MAX_BYTES` bytes.

:func:`expanded_size` measures an already loaded structure (for configs Snakemake parsed itself):
it counts the nodes a full copy would create, sharing the work for repeated sub-objects, and stops
at the bound, so it runs in time linear in the distinct objects.
"""

from __future__ import annotations

from pathlib import Path

import yaml

__all__ = ["YAMLLimitError", "SafeConfigLoader", "load", "load_path", "expanded_size", "MAX_BYTES", "MAX_NODES"]

MAX_BYTES = 1 << 20  # 1 MiB of YAML text is far beyond any config
MAX_NODES = 200_000  # nodes (scalars, lists, mappings) after alias expansion


class YAMLLimitError(yaml.YAMLError):
    """A config refused by a bound or a duplicate key (the message is one line)."""


class SafeConfigLoader(yaml.SafeLoader):
    """``SafeLoader`` refusing duplicate keys and bounding the expanded size of aliases."""

    def __init__(self, stream):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> expanded node count

    def _size(self, node) -> int:
        def kids(n):
            if isinstance(n, yaml.SequenceNode):
                return n.value
            if isinstance(n, yaml.MappingNode):
                return [c for kv in n.value for c in kv]
            return ()
        return _dag_size(node, kids, MAX_NODES, self._sizes)

    def construct_document(self, node):
        size = self._size(node)
        if size > MAX_NODES:
            raise YAMLLimitError(f"aliases expand to more than {MAX_NODES:,} nodes (line "
                                 f"{node.start_mark.line + 1}); refusing to expand them")
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) may legitimately repeat
            seen = {}
            for k, _v in node.value:
                try:
                    key = self.construct_object(k, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue  # PyYAML itself reports unhashable keys
                if key in seen:
                    raise YAMLLimitError(f"duplicate key {key!r} on line {k.start_mark.line + 1} (first on line "
                                         f"{seen[key] + 1}); each key may appear once")
                seen[key] = k.start_mark.line
        return super().construct_mapping(node, deep=deep)


SafeConfigLoader.add_constructor("tag:yaml.org,2002:map", SafeConfigLoader.construct_yaml_map)


def load(text: str | bytes, name: str = "<config>"):
    """Parse one YAML document safely; raises :class:`yaml.YAMLError` (one line, naming ``name``)."""
    if len(text) > MAX_BYTES:
        raise YAMLLimitError(f"{name}: {len(text):,} bytes, more than the {MAX_BYTES:,} a config may have")
    try:
        return yaml.load(text, Loader=SafeConfigLoader)  # noqa: S506 - a SafeLoader subclass
    except YAMLLimitError as exc:
        raise YAMLLimitError(f"{name}: {exc}") from None


def load_path(path: str | Path):
    """:func:`load` of a file (size checked before reading it whole)."""
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise YAMLLimitError(f"{p}: {size:,} bytes, more than the {MAX_BYTES:,} a config may have")
    return load(p.read_bytes(), str(p))


def _dag_size(root, kids, limit: int, sizes: dict | None = None) -> int:
    """Nodes in the tree that expanding the graph under ``root`` gives (shared children counted at
    each use; memoised, so linear in distinct nodes); a cycle or more than ``limit`` gives ``limit + 1``."""
    sizes = {} if sizes is None else sizes
    busy: set[int] = set()
    stack = [(root, False)]
    while stack:
        n, done = stack.pop()
        i = id(n)
        if done:
            busy.discard(i)
            sizes[i] = min(1 + sum(sizes[id(c)] for c in kids(n)), limit + 1)
            continue
        if i in sizes:
            continue
        if i in busy:  # a cycle: infinite expansion
            return limit + 1
        busy.add(i)
        stack.append((n, True))
        stack.extend((c, False) for c in kids(n) if id(c) not in sizes)
    return sizes[id(root)]


def expanded_size(obj, limit: int = MAX_NODES) -> int:
    """Nodes a deep copy of ``obj`` creates (aliases counted at every use), capped at ``limit + 1``."""
    def kids(o):
        if isinstance(o, dict):
            return [*o.keys(), *o.values()]
        if isinstance(o, (list, tuple)):
            return o
        return ()
    return _dag_size(obj, kids, limit)
