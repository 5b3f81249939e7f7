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
