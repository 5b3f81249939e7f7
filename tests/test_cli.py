import json

import numpy as np

from diffsep.cli import main


def test_validate_ok_and_error(capsys, tmp_path):
    assert main(["validate", "tests/configs/tiny.yaml"]) == 0
    assert "information jobs: 4" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: {}\nmodels: {m: {net: mlp}}\n")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "datasets" in err


def test_tables_lists_schemas(capsys):
    assert main(["tables"]) == 0
    out = capsys.readouterr().out
    assert "**information**" in out and "| mi_minde | float64 | nats |" in out


def test_estimate_mi_from_files(capsys, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    assert main(["estimate-mi", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--steps", "200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 < out["mi_nats"] < np.log(2) + 0.3
    assert main(["estimate-mi", str(tmp_path / "nope.npy"), str(tmp_path / "y.npy")]) == 1


def _parsers():
    import argparse

    from diffsep.cli import build_parser

    root = build_parser()
    subs = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)][0]
    return root, subs.choices


def test_help_is_plain_text_and_every_argument_has_help(capsys):
    import pytest

    root, subs = _parsers()
    for name, parser in [("diffsep", root), *subs.items()]:
        text = parser.format_help()
        assert "``" not in text and "::" not in text and ":func:" not in text, (name, text)
        for action in parser._actions:
            if action.dest in ("help", "cmd"):
                continue
            assert action.help, (name, action.dest)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "estimate-mi" in out and "paths" in out and "``" not in out


def test_version_and_paths(capsys):
    import pytest

    import diffsep

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"diffsep {diffsep.__version__}"
    assert main(["paths", "tests/configs/tiny.yaml", "--only", "report"]) == 0
    assert capsys.readouterr().out.strip() == "results/report/index.html"
