from pathlib import Path

import yaml

from diffsep import confdocs
from diffsep.config import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[1]


def test_config_readme_reference_is_current():
    assert confdocs.current(ROOT / "config" / "README.md"), (
        "config/README.md is out of date: run `diffsep config-docs --write config/README.md`")


def test_every_schema_key_has_a_description_and_the_reference_names_it():
    text = confdocs.render()
    root = yaml.safe_load(SCHEMA_PATH.read_text())
    missing = []

    def walk(node, path):
        for key, sub in (node.get("properties") or {}).items():
            if "$ref" not in sub and not sub.get("description"):
                missing.append(f"{path}{key}")
            assert f"`{path}{key}`" in text or path.startswith("launcher.stages"), f"{path}{key} not documented"
            if isinstance(sub, dict):
                walk(sub, f"{path}{key}.")

    walk(root, "")
    assert not missing, f"schema keys without a description: {missing}"


def test_schema_has_no_keys_created_by_unquoted_commas():
    # `{description: a, b, default: 0}` in YAML flow style silently makes a key "b" with value null
    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                assert not (v is None and k != "default"), f"{path}.{k}: null-valued key (quote the description)"
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(yaml.safe_load(SCHEMA_PATH.read_text()), "schema")


def test_write_refuses_a_file_without_markers(tmp_path):
    p = tmp_path / "README.md"
    p.write_text("# no markers\n")
    try:
        confdocs.write(p)
    except ValueError as exc:
        assert "no generated section" in str(exc)
    else:
        raise AssertionError("expected ValueError")
