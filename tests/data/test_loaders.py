"""Dataset package: every kind loads; shapes, scaling, splits, subsetting, caps, determinism;
storage round trip; and a bad-data matrix (each case a one-line DataError naming the file/key)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from diffsep.data import (DATASET_KINDS, KIND_PARAMS, REQUIRED, SPEC_KEYS, DataError, Prepared,
                          available, load_prepared, native_resolution, params_json_schema, prepare,
                          save_prepared, validate_spec)
from diffsep.gaussian import JointGaussian

FASHION = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------------------------------------
# fake files
# ------------------------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray, magic: int | None = None, dims=None) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    magic = magic if magic is not None else (0x0800 | arr.ndim)
    dims = arr.shape if dims is None else dims
    head = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    return head + arr.tobytes()


def write_file(path: Path, data: bytes, gz: bool = False) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_idx(root: Path, ntr=60, nte=30, side=8, k=3, gz=False, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", ntr), ("t10k", nte)):
        x = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        y = (np.arange(n) % k).astype(np.uint8)
        write_file(root / f"{split}-images-idx3-ubyte", idx_bytes(x), gz)
        write_file(root / f"{split}-labels-idx1-ubyte", idx_bytes(y), gz)
    return root


def make_cifar(root: Path, per_batch=10, n_test=6, meta=True, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i, n in [(b, per_batch) for b in range(1, 6)] + [(0, n_test)]:
        y = (np.arange(n) % 10).astype(np.uint8)
        pix = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        rec = np.concatenate([y[:, None], pix], 1)
        name = f"data_batch_{i}.bin" if i else "test_batch.bin"
        (root / name).write_bytes(rec.tobytes())
    if meta:
        (root / "batches.meta.txt").write_text("\n".join(f"c{j}" for j in range(10)) + "\n\n")
    return root


def make_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def idx_spec(root, **kw):
    spec = {"kind": "idx", "params": {"path": str(root)}, "resolutions": [8]}
    spec.update(kw)
    return spec


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg.strip() == msg and msg
    return msg


# ------------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------------
def test_registry_and_params():
    assert set(DATASET_KINDS) == {"sklearn_digits", "idx", "cifar10_binary", "npz",
                                  "synthetic_separable", "gaussian_texture", "joint_gaussian", "gaussian_mixture"}
    assert set(KIND_PARAMS) == set(DATASET_KINDS)
    for kind, params in KIND_PARAMS.items():
        for p, (t, default, desc) in params.items():
            assert isinstance(t, type) and isinstance(desc, str) and desc
            assert default is REQUIRED or default is None or isinstance(default, t) or \
                (t is float and isinstance(default, int))
        schema = params_json_schema(kind)
        assert schema["additionalProperties"] is False
        json.dumps(schema)
    assert KIND_PARAMS["idx"]["path"][1] is REQUIRED
    assert "kind" in SPEC_KEYS and "allow_upsample" in SPEC_KEYS
    with pytest.raises(DataError) as e:
        prepare("foo", {"kind": "nope", "resolutions": [8]}, 8)
    msg = one_line(e)
    assert "datasets.foo.kind" in msg and "sklearn_digits" in msg and "cifar10_binary" in msg


def test_spec_validation_names_keys(tmp_path):
    with pytest.raises(DataError, match=r"datasets\.d\.params\.bogus"):
        prepare("d", {"kind": "sklearn_digits", "params": {"bogus": 1}, "resolutions": [8]}, 8)
    with pytest.raises(DataError, match=r"datasets\.d\.params\.path: required"):
        validate_spec("d", {"kind": "idx", "resolutions": [8]})
    with pytest.raises(DataError, match=r"datasets\.d\.max_train"):
        validate_spec("d", {"kind": "sklearn_digits", "resolutions": [8], "max_train": 0})
    with pytest.raises(DataError, match=r"datasets\.d\.params\.num_classes"):
        validate_spec("d", {"kind": "synthetic_separable", "params": {"num_classes": "4"},
                            "resolutions": [8]})
    with pytest.raises(DataError, match=r"datasets\.g\.resolutions"):
        validate_spec("g", {"kind": "joint_gaussian", "params": {"dx": 5}, "resolutions": [8]})
    with pytest.raises(DataError, match=r"datasets\.g\.classes"):
        validate_spec("g", {"kind": "gaussian_mixture", "classes": [0, 1]})
    norm = validate_spec("g", {"kind": "joint_gaussian", "params": {"dx": 5, "dy": 2}})
    assert norm["resolutions"] == [5] and norm["params"]["noise"] == 1.0
    with pytest.raises(DataError, match=r"datasets\.s\.resolutions.*allow_upsample"):
        validate_spec("s", {"kind": "sklearn_digits", "resolutions": [8, 16]}, check_files=True)


# ------------------------------------------------------------------------------------------------
# kinds
# ------------------------------------------------------------------------------------------------
def test_sklearn_digits_split_caps_determinism():
    spec = {"kind": "sklearn_digits", "resolutions": [8, 4]}
    p = prepare("digits", spec, 8)
    assert p.x_train.shape[1:] == (1, 8, 8) and p.x_train.dtype == np.float32
    assert p.y_train.dtype == np.int64 and p.modality == "image" and p.cond == "label"
    assert p.x_train.shape[0] + p.x_test.shape[0] == 1797
    assert p.x_test.shape[0] == round(1797 * 0.2)
    assert p.x_train.min() == -1.0 and p.x_train.max() == 1.0
    assert p.class_names == [str(i) for i in range(10)]
    assert p.meta["native_resolution"] == 8 and p.meta["num_classes"] == 10
    # stratified split: every class in both splits in proportion
    frac = np.bincount(p.y_test, minlength=10) / np.bincount(np.r_[p.y_train, p.y_test], minlength=10)
    assert np.all(np.abs(frac - 0.2) < 0.02)
    # determinism and seed dependence
    q = prepare("digits", spec, 8)
    assert np.array_equal(p.x_train, q.x_train) and np.array_equal(p.y_test, q.y_test)
    r = prepare("digits", {**spec, "seed": 1}, 8)
    assert not np.array_equal(p.y_test, r.y_test)
    # caps and downsampling
    c = prepare("digits", {**spec, "max_train": 100, "max_test": 50}, 4)
    assert c.x_train.shape == (100, 1, 4, 4) and c.x_test.shape == (50, 1, 4, 4)
    assert np.bincount(c.y_train).min() >= 9 and c.meta["resample"] == "area"
    # classes subset, relabelled in the given order
    s = prepare("digits", {**spec, "classes": [7, 3]}, 8)
    assert s.class_names == ["7", "3"] and set(np.unique(s.y_train)) == {0, 1}
    assert s.meta["num_classes"] == 2


def test_dequantize_keeps_each_pixel_in_its_grey_level_cell():
    """Uniform dequantization: every value lies in the cell of its level, the offsets inside the cell
    are uniform (mean 1/2, variance 1/12), and the law is continuous (no repeated values)."""
    from diffsep.data.images import dequantize

    spec = {"kind": "sklearn_digits", "resolutions": [8]}
    raw = prepare("digits", spec, 8)
    p = prepare("digits", {**spec, "dequantize": 17}, 8)
    assert np.array_equal(p.y_train, raw.y_train) and p.meta["dequantized_levels"] == 17
    level = np.rint((raw.x_train.astype(np.float64) + 1) * 8)  # the 0..16 grey values
    u = (p.x_train.astype(np.float64) + 1) * 17 / 2 - level  # offset inside the cell, in units of a cell
    assert u.min() >= -1e-5 and u.max() < 1 + 1e-5
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert np.unique(p.x_train).size > 0.99 * p.x_train.size
    assert p.x_train.min() >= -1 and p.x_train.max() < 1
    # deterministic in the dataset seed; train and test draw their own offsets
    assert np.array_equal(p.x_test, prepare("digits", {**spec, "dequantize": 17}, 8).x_test)
    assert not np.array_equal(p.x_train, prepare("digits", {**spec, "dequantize": 17, "seed": 1}, 8).x_train)
    # values off the grid (area-averaged images) are first rounded to the nearest level
    x = np.array([-1.0, -0.999, 0.0, 0.999, 1.0], dtype=np.float32)
    d = dequantize(x, 3, np.random.default_rng(0))
    assert np.array_equal(np.floor((d + 1) * 3 / 2), [0, 0, 1, 2, 2])
    with pytest.raises(ValueError, match="levels"):
        dequantize(x, 1, np.random.default_rng(0))


@pytest.mark.parametrize("spec,text", [
    ({"kind": "sklearn_digits", "resolutions": [8], "dequantize": 1}, "grey levels in [2, 65536]"),
    ({"kind": "sklearn_digits", "resolutions": [8], "dequantize": 2.5}, "must be an integer"),
    ({"kind": "gaussian_texture", "resolutions": [8], "dequantize": 256}, "exact law"),
    ({"kind": "gaussian_mixture", "params": {"k": 2, "d": 2}, "dequantize": 256}, "only image kinds"),
])
def test_dequantize_refused_where_it_does_not_apply(spec, text):
    with pytest.raises(DataError, match=r"datasets\.d\.dequantize") as e:
        validate_spec("d", spec)
    assert text in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_load(tmp_path, gz):
    root = make_idx(tmp_path / "mn", gz=gz)
    spec = idx_spec(root, resolutions=[8, 4])
    assert native_resolution(spec) == 8 and available(spec) == (True, "")
    p = prepare("mn", spec, 8)
    assert p.x_train.shape == (60, 1, 8, 8) and p.x_test.shape == (30, 1, 8, 8)
    assert p.meta["split"] == "dataset" and len(p.meta["sources"]) == 4
    assert all(s["bytes"] > 0 for s in p.meta["sources"])
    f = root / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    raw = np.frombuffer(gzip.decompress(f.read_bytes()) if gz else f.read_bytes(), np.uint8)[16:]
    np.testing.assert_allclose(p.x_train.ravel(), raw.astype(np.float32) / 127.5 - 1, atol=1e-6)
    # area downsampling = exact 2x2 block means
    q = prepare("mn", spec, 4)
    blocks = p.x_train.reshape(60, 1, 4, 2, 4, 2).mean((3, 5))
    np.testing.assert_allclose(q.x_train, blocks, atol=1e-6)
    # class names, subset, caps stratified
    spec2 = idx_spec(root, classes=[2, 0], max_train=30, max_test=10)
    spec2["params"]["class_names"] = ["a", "b", "c"]
    s = prepare("mn", spec2, 8)
    assert s.class_names == ["c", "a"] and s.x_train.shape[0] == 30
    assert np.bincount(s.y_train).tolist() == [15, 15] and s.x_test.shape[0] == 10


def test_idx_dotted_names_and_upsample(tmp_path):
    root = tmp_path / "m"
    make_idx(root)
    for f in list(root.iterdir()):  # the original MNIST site's spelling
        f.rename(root / f.name.replace("-idx", ".idx"))
    p = prepare("m", idx_spec(root, allow_upsample=True), 12)
    assert p.x_train.shape == (60, 1, 12, 12) and p.meta["resample"] == "bilinear upsampling"
    assert p.x_train.min() >= -1 and p.x_train.max() <= 1


def test_cifar_binary(tmp_path):
    root = make_cifar(tmp_path / "cifar")
    spec = {"kind": "cifar10_binary", "params": {"path": str(root)}, "resolutions": [16, 32]}
    p = prepare("cifar", spec, 32)
    assert p.x_train.shape == (50, 3, 32, 32) and p.x_test.shape == (6, 3, 32, 32)
    assert p.class_names == [f"c{j}" for j in range(10)]
    rec = np.frombuffer((root / "data_batch_1.bin").read_bytes(), np.uint8).reshape(-1, 3073)
    np.testing.assert_allclose(p.x_train[0, 0].ravel(), rec[0, 1:1025] / 127.5 - 1, atol=1e-6)  # red
    np.testing.assert_allclose(p.x_train[0, 2].ravel(), rec[0, 2049:] / 127.5 - 1, atol=1e-6)  # blue
    assert p.y_train[:10].tolist() == list(range(10))
    q = prepare("cifar", spec, 16)
    assert q.x_train.shape == (50, 3, 16, 16) and q.meta["channels"] == 3
    (root / "batches.meta.txt").unlink()
    assert prepare("cifar", spec, 16).class_names[0] == "airplane"


def test_npz_layouts_ranges_and_split(tmp_path):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (40, 6, 6), dtype=np.uint8)
    y = np.arange(40) % 4
    f1 = make_npz(tmp_path / "a.npz", images=u8, labels=y, class_names=np.array(list("wxyz")))
    p = prepare("a", {"kind": "npz", "params": {"path": str(f1)}, "resolutions": [6]}, 6)
    assert p.x_train.shape == (32, 1, 6, 6) and p.x_test.shape == (8, 1, 6, 6)  # seeded split
    assert p.class_names == list("wxyz") and p.meta["split"].startswith("seeded")
    assert np.bincount(p.y_test).tolist() == [2, 2, 2, 2]
    # NHWC float [0, 1] with its own test split
    x01 = rng.random((20, 6, 6, 3)).astype(np.float32)
    f2 = make_npz(tmp_path / "b.npz", images=x01, labels=np.arange(20) % 2,
                  images_test=x01[:4], labels_test=np.array([0, 1, 0, 1]))
    q = prepare("b", {"kind": "npz", "params": {"path": str(f2)}, "resolutions": [6, 3]}, 3)
    assert q.x_train.shape == (20, 3, 3, 3) and q.x_test.shape == (4, 3, 3, 3)
    full = prepare("b", {"kind": "npz", "params": {"path": str(f2)}, "resolutions": [6]}, 6)
    np.testing.assert_allclose(full.x_train, np.moveaxis(x01, 3, 1) * 2 - 1, atol=1e-6)
    # NCHW float already in [-1, 1]: kept as is
    xs = (rng.random((10, 1, 4, 4)) * 2 - 1).astype(np.float32)
    f3 = make_npz(tmp_path / "c.npz", images=xs, labels=np.arange(10) % 2,
                  images_test=xs, labels_test=np.arange(10) % 2)
    r = prepare("c", {"kind": "npz", "params": {"path": str(f3)}, "resolutions": [4]}, 4)
    np.testing.assert_allclose(r.x_test, xs, atol=1e-6)
    assert r.meta["source_value_range"] == "-1-1" and native_resolution(
        {"kind": "npz", "params": {"path": str(f3)}, "resolutions": [4]}) == 4


def test_synthetic_separable():
    spec = {"kind": "synthetic_separable", "resolutions": [8, 16],
            "params": {"n_train": 200, "n_test": 80, "num_classes": 5, "texture": 0.5, "native": 16}}
    p = prepare("syn", spec, 16)
    assert p.x_train.shape == (200, 1, 16, 16) and p.x_test.shape == (80, 1, 16, 16)
    assert p.x_train.min() >= -1 and p.x_train.max() <= 1
    assert np.bincount(p.y_train).tolist() == [40] * 5 and p.num_classes == 5
    q = prepare("syn", spec, 16)
    assert np.array_equal(p.x_train, q.x_train) and np.array_equal(p.y_test, q.y_test)
    assert not np.array_equal(p.x_train[:80], p.x_test)
    r = prepare("syn", {**spec, "seed": 3}, 8)
    assert r.x_train.shape == (200, 1, 8, 8) and not np.array_equal(r.y_train, p.y_train)
    # the label lives in the low-pass view: class means at 8x8 are well separated
    low = r.x_train.reshape(200, -1)
    means = np.stack([low[r.y_train == c].mean(0) for c in range(5)])
    nearest = np.argmin(((low[:, None] - means[None]) ** 2).sum(-1), 1)
    assert (nearest == r.y_train).mean() > 0.9
    rgb = prepare("syn", {**spec, "params": {**spec["params"], "channels": 3}}, 16)
    assert rgb.x_train.shape == (200, 3, 16, 16) and rgb.meta["channels"] == 3
    with pytest.raises(DataError, match=r"datasets\.syn\.params\.channels"):
        prepare("syn", {**spec, "params": {**spec["params"], "channels": 2}}, 16)


def test_vector_kinds():
    params = {"dx": 6, "dy": 3, "noise": 0.5, "n_train": 500, "n_test": 200, "seed": 2}
    spec = {"kind": "joint_gaussian", "params": params}
    p = prepare("g", spec, 6)
    assert p.x_train.shape == (500, 6) and p.y_train.shape == (500, 3) and p.y_train.dtype == np.float32
    assert p.modality == "vector" and p.cond == "vector" and p.class_names == []
    assert p.meta["true_mi"] == pytest.approx(JointGaussian(6, 3, 0.5, 2).mi())
    assert native_resolution(spec) == 6 and not np.allclose(p.x_train[:200], p.x_test)
    assert np.array_equal(p.x_train, prepare("g", spec, 6).x_train)
    assert prepare("g", {**spec, "max_train": 100}, 6).x_train.shape == (100, 6)
    with pytest.raises(DataError, match=r"datasets\.g\.resolutions"):
        prepare("g", spec, 8)
    m = prepare("m", {"kind": "gaussian_mixture", "params": {"k": 3, "d": 2, "n_train": 300,
                                                          "n_test": 100, "mi_samples": 2000}}, 2)
    assert m.x_train.shape == (300, 2) and m.y_train.dtype == np.int64 and m.cond == "label"
    assert 0 < m.meta["true_mi"] <= np.log(3) + 4 * m.meta["true_mi_se"]
    assert m.meta["true_mi_se"] > 0 and m.meta["num_classes"] == 3


def test_save_load_roundtrip(tmp_path):
    p = prepare("digits", {"kind": "sklearn_digits", "resolutions": [8], "max_train": 50,
                           "max_test": 20}, 8)
    out = tmp_path / "sub" / "8.npz"
    save_prepared(p, out)
    assert sorted(f.name for f in out.parent.iterdir()) == ["8.npz"]  # nothing half-written
    q = load_prepared(out)
    assert isinstance(q, Prepared) and q.meta == p.meta and q.class_names == p.class_names
    for a in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(p, a), getattr(q, a)) and getattr(p, a).dtype == getattr(q, a).dtype
    with np.load(out, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    g = prepare("g", {"kind": "joint_gaussian", "params": {"dx": 3, "dy": 2, "n_train": 10,
                                                        "n_test": 5}}, 3)
    save_prepared(g, tmp_path / "g.npz")
    h = load_prepared(tmp_path / "g.npz")
    assert h.class_names == [] and h.cond == "vector" and h.meta["true_mi"] == g.meta["true_mi"]
    with pytest.raises(DataError, match="g2.npz"):
        load_prepared(tmp_path / "g2.npz")


def test_available_optional_and_required(tmp_path):
    spec = {"kind": "idx", "params": {"path": str(tmp_path / "absent"), "optional": True},
            "resolutions": [28]}
    ok, why = available(spec, "fashion")
    assert not ok and "absent" in why and "\n" not in why
    spec["params"]["optional"] = False
    with pytest.raises(DataError) as e:
        available(spec, "fashion")
    assert "absent" in one_line(e) and "datasets.fashion" in str(e.value)
    assert available(spec, "fashion", strict=False)[0] is False
    with pytest.raises(DataError, match="absent"):
        prepare("fashion", spec, 28)


@pytest.mark.skipif(not FASHION.is_dir(), reason=f"Fashion-MNIST not installed at {FASHION}")
def test_fashion_mnist_real():
    spec = {"kind": "idx", "params": {"path": str(FASHION), "optional": True},
            "resolutions": [7, 14, 28], "max_train": 2000, "max_test": 500}
    assert available(spec) == (True, "") and native_resolution(spec) == 28
    p = prepare("fashion", spec, 14)
    assert p.x_train.shape == (2000, 1, 14, 14) and p.x_test.shape == (500, 1, 14, 14)
    assert p.meta["num_classes"] == 10 and p.meta["train_class_counts"] == [200] * 10
    assert p.x_train.min() >= -1 and p.x_train.max() <= 1 and p.x_train.mean() < 0
    full = {s["path"].rsplit("/", 1)[1]: s["bytes"] for s in p.meta["sources"]}
    assert set(full) == {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    q = prepare("fashion", {**spec, "max_train": None, "max_test": None}, 7)
    assert q.x_train.shape == (60000, 1, 7, 7) and q.x_test.shape == (10000, 1, 7, 7)


# ------------------------------------------------------------------------------------------------
# bad data matrix: (name, spec, resolution, text the one-line message must contain)
# ------------------------------------------------------------------------------------------------
def _missing_file(t):
    root = make_idx(t / "m")
    (root / "t10k-labels-idx1-ubyte").unlink()
    return idx_spec(root), 8, "t10k-labels-idx1-ubyte"


def _truncated_gz(t):
    root = make_idx(t / "m", gz=True)
    f = root / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-40])
    return idx_spec(root), 8, "train-images-idx3-ubyte.gz"


def _truncated_raw(t):
    root = make_idx(t / "m")
    f = root / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-7])
    return idx_spec(root), 8, "t10k-images-idx3-ubyte"


def _wrong_magic(t):
    root = make_idx(t / "m")
    f = root / "train-labels-idx1-ubyte"
    f.write_bytes(b"\x00\x00\x08\x03" + f.read_bytes()[4:])
    return idx_spec(root), 8, "train-labels-idx1-ubyte"


def _wrong_dims(t):
    root = make_idx(t / "m")
    x = np.zeros((60, 8, 6), np.uint8)
    write_file(root / "train-images-idx3-ubyte", idx_bytes(x))
    return idx_spec(root), 6, "train-images-idx3-ubyte"


def _labels_out_of_range(t):
    root = make_idx(t / "m")
    write_file(root / "t10k-labels-idx1-ubyte", idx_bytes(np.full(30, 7, np.uint8)))
    spec = idx_spec(root)
    spec["params"]["num_classes"] = 3
    return spec, 8, "t10k-labels-idx1-ubyte"


def _cifar_label_out_of_range(t):
    root = make_cifar(t / "c")
    b = bytearray((root / "test_batch.bin").read_bytes())
    b[3073] = 10
    (root / "test_batch.bin").write_bytes(bytes(b))
    return {"kind": "cifar10_binary", "params": {"path": str(root)}, "resolutions": [32]}, 32, \
        "test_batch.bin"


def _count_mismatch_idx(t):
    root = make_idx(t / "m")
    write_file(root / "train-labels-idx1-ubyte", idx_bytes(np.zeros(59, np.uint8)))
    return idx_spec(root), 8, "train-labels-idx1-ubyte"


def _npz_spec(path, res=4):
    return {"kind": "npz", "params": {"path": str(path)}, "resolutions": [res]}


def _count_mismatch_npz(t):
    f = make_npz(t / "cm.npz", images=np.zeros((10, 4, 4), np.uint8), labels=np.zeros(9, int))
    return _npz_spec(f), 4, "cm.npz"


def _non_integer_labels(t):
    f = make_npz(t / "nil.npz", images=np.zeros((4, 4, 4), np.uint8),
                 labels=np.array([0, 1, 0.5, 1]))
    return _npz_spec(f), 4, "nil.npz"


def _empty_idx(t):
    root = make_idx(t / "m")
    write_file(root / "train-images-idx3-ubyte", idx_bytes(np.zeros((0, 8, 8), np.uint8)))
    write_file(root / "train-labels-idx1-ubyte", idx_bytes(np.zeros(0, np.uint8)))
    return idx_spec(root), 8, "train-images-idx3-ubyte"


def _empty_npz(t):
    f = make_npz(t / "empty.npz", images=np.zeros((0, 4, 4), np.uint8), labels=np.zeros(0, int))
    return _npz_spec(f), 4, "empty.npz"


def _npz_missing_arrays(t):
    f = make_npz(t / "keys.npz", x=np.zeros((4, 4, 4), np.uint8), y=np.zeros(4, int))
    return _npz_spec(f), 4, "keys.npz"


def _nan_images(t):
    x = np.zeros((4, 4, 4), np.float32)
    x[1, 2, 3] = np.nan
    f = make_npz(t / "nan.npz", images=x, labels=np.zeros(4, int))
    return _npz_spec(f), 4, "nan.npz"


def _object_array(t):
    obj = np.empty(4, dtype=object)
    obj[:] = [0, 1, 0, 1]
    f = t / "pickle.npz"
    np.savez(f, images=np.zeros((4, 4, 4), np.uint8), labels=obj)
    return _npz_spec(f), 4, "pickle.npz"


def _pickle_file(t):
    import pickle
    f = t / "evil.npz"
    f.write_bytes(pickle.dumps({"images": 1}))
    return _npz_spec(f), 4, "evil.npz"


def _cifar_size(t):
    root = make_cifar(t / "c")
    f = root / "data_batch_3.bin"
    f.write_bytes(f.read_bytes()[:-100])
    return {"kind": "cifar10_binary", "params": {"path": str(root)}, "resolutions": [32]}, 32, \
        "data_batch_3.bin"


def _upsample(t):
    return idx_spec(make_idx(t / "m"), resolutions=[16]), 16, "datasets.bad.resolutions"


def _npz_non_square(t):
    f = make_npz(t / "rect.npz", images=np.zeros((4, 4, 5), np.uint8), labels=np.zeros(4, int))
    return _npz_spec(f), 4, "rect.npz"


def _npz_negative_label(t):
    f = make_npz(t / "neg.npz", images=np.zeros((4, 4, 4), np.uint8), labels=np.array([0, -1, 0, 1]))
    return _npz_spec(f), 4, "neg.npz"


def _npz_float_out_of_range(t):
    f = make_npz(t / "range.npz", images=np.full((4, 4, 4), 3.0), labels=np.zeros(4, int))
    return _npz_spec(f), 4, "range.npz"


BAD = {
    "missing_file": _missing_file,
    "truncated_gz": _truncated_gz,
    "truncated_raw_idx_payload": _truncated_raw,
    "wrong_idx_magic": _wrong_magic,
    "wrong_dimensions": _wrong_dims,
    "labels_out_of_range_idx": _labels_out_of_range,
    "labels_out_of_range_cifar": _cifar_label_out_of_range,
    "non_integer_labels_npz": _non_integer_labels,
    "count_mismatch_idx": _count_mismatch_idx,
    "count_mismatch_npz": _count_mismatch_npz,
    "empty_dataset_idx": _empty_idx,
    "empty_dataset_npz": _empty_npz,
    "npz_without_expected_arrays": _npz_missing_arrays,
    "nan_in_float_images": _nan_images,
    "npz_object_array_refused": _object_array,
    "pickle_file_refused": _pickle_file,
    "cifar_size_not_multiple_of_3073": _cifar_size,
    "resolution_above_native": _upsample,
    "npz_non_square": _npz_non_square,
    "npz_negative_label": _npz_negative_label,
    "npz_float_out_of_range": _npz_float_out_of_range,
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data(tmp_path, case):
    spec, res, expected = BAD[case](tmp_path)
    with pytest.raises(DataError) as e:
        prepare("bad", spec, res)
    msg = one_line(e)
    assert expected in msg, msg
    assert isinstance(e.value, ValueError)
