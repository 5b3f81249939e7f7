"""`make data`: install the optional real datasets where the machine allows it, else print the command."""

import yaml

from diffsep.cli import main
from diffsep.data import available
from diffsep.data import packages as pk

CFG = yaml.safe_load(open("config/config.yaml"))


def test_default_config_names_the_fashion_mnist_package(monkeypatch, tmp_path):
    spec = CFG["datasets"]["fashion_mnist"]
    assert pk.package_for(spec["params"]["path"]) == "dataset-fashion-mnist"
    monkeypatch.setattr(pk, "DEBIAN_PACKAGES", {str(tmp_path / "fm"): "dataset-fashion-mnist"})
    cfg = {"datasets": {"fm": {**spec, "params": {**spec["params"], "path": str(tmp_path / "fm")}}}}
    assert pk.missing_packages(cfg) == ["dataset-fashion-mnist"]
    ok, why = available(cfg["datasets"]["fm"], name="fm")  # the skip note the report shows
    assert not ok and "make data" in why and "sudo apt-get install dataset-fashion-mnist" in why
    (tmp_path / "fm").mkdir()
    assert pk.missing_packages(cfg) == []


def test_install_plan_runs_apt_only_as_root(monkeypatch):
    monkeypatch.setattr(pk.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(pk.os, "geteuid", lambda: 0)
    cmd, _ = pk.install_plan(["dataset-fashion-mnist"])
    assert cmd == ["apt-get", "install", "-y", "--no-install-recommends", "dataset-fashion-mnist"]
    monkeypatch.setattr(pk.os, "geteuid", lambda: 1000)
    cmd, msg = pk.install_plan(["dataset-fashion-mnist"])
    assert cmd is None and msg.endswith("run: sudo apt-get install dataset-fashion-mnist")
    monkeypatch.setattr(pk.os, "geteuid", lambda: 0)
    monkeypatch.setattr(pk.shutil, "which", lambda name: None)  # root without apt
    assert pk.install_plan(["dataset-fashion-mnist"])[0] is None
    assert pk.install_plan([])[0] is None


def test_install_data_command_prints_the_one_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(pk.os, "geteuid", lambda: 1000)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"datasets": {"fm": {"kind": "idx", "params": {
        "path": "/usr/share/datasets/fashion-mnist/not-there", "optional": True}}}}))
    assert main(["install-data", str(cfg)]) == 0
    assert capsys.readouterr().out.strip().endswith("sudo apt-get install dataset-fashion-mnist")
