"""Tests for bpclf.serialize: exact predictions, deterministic atomic writes, hostile files."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from bpclf import serialize
from bpclf.errors import ModelError
from bpclf.serialize import (
    FORMAT_NAME,
    FORMAT_VERSION,
    TreeEnsemble,
    load_model,
    save_model,
)

N_FEATURES = 8
META = {"name": "test", "features": [f"f{i}" for i in range(N_FEATURES)], "nested": {"ü": 1.5}}


def _data(seed: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, N_FEATURES))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=0.5, size=n_rows) > 0).astype(int)
    X[rng.random(X.shape) < 0.1] = np.nan
    # Feature 7 is constant except where missing, and missingness carries signal: sklearn
    # can only split it "on NaN" (threshold +inf), which exercises the inf/NaN rules.
    missing = rng.random(n_rows) < 0.3
    X[:, 7] = 0.0
    X[missing, 7] = np.nan
    y[missing] = 1
    return X, y


def _test_matrix(seed: int = 1, n_rows: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=2.0, size=(n_rows, N_FEATURES))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[rng.random(X.shape) < 0.05] = np.inf
    X[rng.random(X.shape) < 0.05] = -np.inf
    return X


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    """Fit/predict with one OpenMP thread: tiny models fit slower, not faster, with more,
    and spinning OpenMP workers make the tests crawl when the machine is busy."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def model() -> HistGradientBoostingClassifier:
    X, y = _data(0, 500)
    return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)


@pytest.fixture(scope="module")
def ensemble(model: HistGradientBoostingClassifier) -> TreeEnsemble:
    return TreeEnsemble.from_sklearn(model)


@pytest.fixture
def model_file(tmp_path: Path, ensemble: TreeEnsemble) -> Path:
    path = tmp_path / "model.bpclf"
    save_model(path, ensemble, META)
    return path


def _members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _write_raw(path: Path, members: dict[str, np.ndarray]) -> None:
    """Write a container without validation (to craft hostile files)."""
    serialize._write_container(path, members)


def _tampered(path: Path, **changes: np.ndarray) -> Path:
    members = _members(path)
    members.update(changes)
    out = path.with_name("tampered.bpclf")
    _write_raw(out, members)
    return out


def _refused(path: Path, match: str) -> ModelError:
    with pytest.raises(ModelError, match=match) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return info.value


# ---------------------------------------------------------------- exact predictions


def test_round_trip_matches_sklearn(model_file: Path, model: HistGradientBoostingClassifier):
    ens, meta = load_model(model_file)
    assert meta == META
    X = _test_matrix()
    assert np.isinf(ens.threshold[~ens.is_leaf]).any(), "want split-on-NaN nodes covered"
    np.testing.assert_allclose(ens.decision_function(X), model.decision_function(X), atol=1e-9)
    np.testing.assert_allclose(ens.predict_proba(X), model.predict_proba(X)[:, 1], atol=1e-9)
    # Rows are scored independently: a slice gives the same scores as the whole matrix.
    np.testing.assert_array_equal(ens.decision_function(X[5:12]), ens.decision_function(X)[5:12])


@pytest.mark.parametrize(
    "params",
    [
        {"max_leaf_nodes": None, "max_depth": None, "min_samples_leaf": 2},  # deep trees
        {"max_depth": 2, "learning_rate": 0.5},
        {"min_samples_leaf": 1000},  # no split possible: every tree is a single leaf
    ],
)
def test_other_tree_shapes_match_sklearn(params: dict):
    X, y = _data(2, 400)
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0, **params).fit(X, y)
    ens = TreeEnsemble.from_sklearn(model)
    ens.validate()
    # sklearn writes nodes in preorder: children always come after their parent.
    internal = ~ens.is_leaf
    idx = np.flatnonzero(internal)
    assert np.all(ens.left[idx] > idx) and np.all(ens.right[idx] > idx)
    Xt = _test_matrix(seed=3, n_rows=500)
    np.testing.assert_allclose(ens.decision_function(Xt), model.decision_function(Xt), atol=1e-9)


def test_blocks_with_and_without_nan_match_sklearn(
    ensemble: TreeEnsemble, model: HistGradientBoostingClassifier
):
    """The walker skips the NaN rule in row blocks without NaN: blocks with and without
    NaN (and a NaN in the last row of a block) score like sklearn and like each row
    scored alone."""
    from bpclf.kernels import TREE_BLOCK_ROWS

    X = _test_matrix(seed=4, n_rows=5 * TREE_BLOCK_ROWS + 7)
    clean = np.isfinite(X).all(axis=1)
    X[~clean] = 0.5  # no NaN or inf anywhere ...
    X[3 * TREE_BLOCK_ROWS - 1, 7] = np.nan  # ... but in the last row of the third block
    X[4 * TREE_BLOCK_ROWS + 2, [1, 7]] = np.nan  # and in the fifth
    scores = ensemble.decision_function(X)
    np.testing.assert_allclose(scores, model.decision_function(X), atol=1e-9)
    alone = np.array([ensemble.decision_function(X[i : i + 1])[0] for i in range(len(X))])
    np.testing.assert_array_equal(scores, alone)


@pytest.mark.parametrize(
    ("max_leaf_nodes", "word"),
    [(31, np.uint32), (32, np.uint32), (48, np.uint64), (64, np.uint64), (None, None)],
)
def test_leaf_masks_score_exactly_like_the_walk(max_leaf_nodes, word):
    """Trees of up to 32 / 64 leaves are scored by leaf masks in 32- / 64-bit words,
    bigger ones by the walk; either way every score is the walk's, bit for bit, also
    for values exactly at a split threshold (they go left), infinities, a block with a
    NaN (walked) and blocks where whole columns are below every split (skipped)."""
    from bpclf.kernels import MASK_BLOCK_ROWS, tree_scores

    X, y = _data(5, 3000)
    leaf = 2 if max_leaf_nodes is None else 5
    model = HistGradientBoostingClassifier(
        max_iter=12, random_state=0, max_leaf_nodes=max_leaf_nodes, min_samples_leaf=leaf
    ).fit(X, y)
    ens = TreeEnsemble.from_sklearn(model)
    masks = ens.mask_arrays
    if word is None:
        assert masks is None
    else:
        assert masks[3].dtype == word and ens.mask_arrays is masks
    if max_leaf_nodes in (32, 64):  # every bit of the word is a leaf
        assert int(np.diff(np.append(ens.roots, ens.n_nodes)).max()) == 2 * max_leaf_nodes - 1
    rng = np.random.default_rng(6)
    Xt = rng.normal(scale=2.0, size=(3 * MASK_BLOCK_ROWS + 5, N_FEATURES))
    split = np.flatnonzero(~ens.is_leaf)
    pick = split[rng.integers(0, len(split), size=2000)]
    Xt[rng.integers(0, len(Xt), size=2000), ens.feature[pick]] = ens.threshold[pick]
    Xt[rng.random(Xt.shape) < 0.02] = np.inf
    Xt[rng.random(Xt.shape) < 0.02] = -np.inf
    Xt[2 * MASK_BLOCK_ROWS + 3, 2] = np.nan  # the third block is walked, the others not
    # In the second block no row is above any split on features 0 and 1 (the lowest
    # threshold, -inf): the scorer skips those splits, and the scores must not change.
    second = slice(MASK_BLOCK_ROWS, 2 * MASK_BLOCK_ROWS)
    Xt[second, 0] = ens.threshold[split[ens.feature[split] == 0]].min(initial=0.0)
    Xt[second, 1] = -np.inf
    nodes, depths = ens.walk_arrays
    walk = (nodes, depths, ens.missing_left, ens.value, ens.roots, float(ens.baseline))
    walked = tree_scores(Xt, *walk)
    np.testing.assert_array_equal(ens.decision_function(Xt), walked)
    np.testing.assert_allclose(walked, model.decision_function(Xt), atol=1e-9)


def test_leaf_masks_copy_only_the_columns_splits_read():
    """A column no split reads is neither copied nor checked for NaN: a block with a NaN
    there scores as if it held any other value, and exactly like the walk."""
    from bpclf.kernels import MASK_BLOCK_ROWS, tree_scores

    X, y = _data(7, 2000)
    X[:, 3] = 1.0  # constant: never split on
    model = HistGradientBoostingClassifier(max_iter=8, random_state=0, max_leaf_nodes=16)
    ens = TreeEnsemble.from_sklearn(model.fit(X, y))
    used = ens.mask_arrays[6]
    assert 3 not in used and used.tolist() == sorted(set(ens.feature[~ens.is_leaf].tolist()))
    Xt = np.random.default_rng(8).normal(size=(2 * MASK_BLOCK_ROWS, N_FEATURES))
    with_nan = Xt.copy()
    with_nan[5, 3] = np.nan
    with_nan[MASK_BLOCK_ROWS + 9, used[0]] = np.nan  # the second block: walked
    nodes, depths = ens.walk_arrays
    walk = (nodes, depths, ens.missing_left, ens.value, ens.roots, float(ens.baseline))
    scores = ens.decision_function(with_nan)
    np.testing.assert_array_equal(scores, tree_scores(with_nan, *walk))
    np.testing.assert_array_equal(
        scores[:MASK_BLOCK_ROWS], ens.decision_function(Xt)[:MASK_BLOCK_ROWS]
    )


def test_walk_arrays_are_built_once(ensemble: TreeEnsemble):
    nodes, depths = ensemble.walk_arrays
    assert ensemble.walk_arrays[0] is nodes
    assert not nodes.flags.writeable and not depths.flags.writeable
    np.testing.assert_array_equal(nodes[:, 0], ensemble.feature)
    np.testing.assert_array_equal(nodes[:, 1], ensemble.left)
    np.testing.assert_array_equal(nodes[:, 2], ensemble.right)
    np.testing.assert_array_equal(nodes[:, 3].view(np.float64), ensemble.threshold)
    assert depths.max() == ensemble.max_depth


def test_wrong_column_count(ensemble: TreeEnsemble):
    with pytest.raises(ModelError, match=r"has 5 columns but the model expects 8"):
        ensemble.predict_proba(np.zeros((3, 5)))


def test_feature_importances(ensemble: TreeEnsemble):
    imp = ensemble.feature_importances()
    assert imp.shape == (N_FEATURES,)
    assert imp.sum() == pytest.approx(1.0)
    assert np.all(imp >= 0)


def test_from_sklearn_refuses_multiclass_and_categorical():
    X, y = _data(4, 300)
    multi = HistGradientBoostingClassifier(max_iter=3).fit(X, y + (X[:, 4] > 1))
    with pytest.raises(ValueError, match="binary"):
        TreeEnsemble.from_sklearn(multi)
    Xc = X.copy()
    Xc[:, 5] = np.random.default_rng(0).integers(0, 4, size=len(Xc))
    cat = HistGradientBoostingClassifier(max_iter=3, categorical_features=[5]).fit(Xc, y)
    with pytest.raises(ValueError, match="categorical"):
        TreeEnsemble.from_sklearn(cat)


# ---------------------------------------------------------------- writing


def test_save_is_byte_deterministic(tmp_path: Path, ensemble: TreeEnsemble):
    a, b, c = tmp_path / "a.bpclf", tmp_path / "b.bpclf", tmp_path / "c.bpclf"
    save_model(a, ensemble, META)
    save_model(b, ensemble, dict(reversed(list(META.items()))))  # key order irrelevant
    loaded, meta = load_model(a)
    save_model(c, loaded, meta)  # load -> save reproduces the file
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    with zipfile.ZipFile(a) as zf:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())


def test_atomic_write_leaves_no_temp_files(tmp_path: Path, ensemble: TreeEnsemble):
    path = tmp_path / "model.bpclf"
    save_model(path, ensemble, META)
    save_model(path, ensemble, {"second": True})  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bpclf"]
    assert load_model(path)[1] == {"second": True}


def test_failed_write_keeps_previous_file(
    tmp_path: Path, ensemble: TreeEnsemble, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "model.bpclf"
    save_model(path, ensemble, META)
    before = path.read_bytes()
    real = serialize._npy_bytes
    calls = []

    def flaky(arr: np.ndarray) -> bytes:
        calls.append(1)
        if len(calls) == 4:  # a few members already written to the temp file
            raise RuntimeError("disk on fire")
        return real(arr)

    monkeypatch.setattr(serialize, "_npy_bytes", flaky)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_model(path, ensemble, {"other": 1})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.bpclf"]


def test_unwritable_target_is_model_error(tmp_path: Path, ensemble: TreeEnsemble):
    with pytest.raises(ModelError, match="cannot write model file"):
        save_model(tmp_path / "missing-dir" / "m.bpclf", ensemble, META)


def test_save_refuses_invalid_ensemble(tmp_path: Path, ensemble: TreeEnsemble):
    bad = dataclasses.replace(ensemble, max_depth=ensemble.max_depth - 1)
    with pytest.raises(ModelError, match="max_depth"):
        save_model(tmp_path / "m.bpclf", bad, META)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- hostile files


class _Evil:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_file_is_refused_without_running_code(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    path.write_bytes(pickle.dumps(_Evil(marker)))
    _refused(path, "pickle")
    assert not marker.exists()


def test_object_array_is_refused_without_running_code(tmp_path: Path, model_file: Path):
    marker = tmp_path / "pwned"
    members = _members(model_file)
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(marker)
    members["value"] = evil
    path = tmp_path / "evil.npz"
    np.savez(path, allow_pickle=True, **members)
    _refused(path, "contains pickled objects; refusing to load")
    assert not marker.exists()


def test_missing_file(tmp_path: Path):
    _refused(tmp_path / "nope.bpclf", "model file not found")


def test_directory(tmp_path: Path):
    _refused(tmp_path, "directory")


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.bpclf"
    path.write_bytes(b"")
    _refused(path, "empty file")


def test_random_bytes(tmp_path: Path):
    path = tmp_path / "random.bpclf"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    _refused(path, r"not a zip/npz container")


def test_truncated_file(model_file: Path):
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) // 2])
    _refused(model_file, "corrupt or truncated")


def _flip_byte_in_member(path: Path, member: str, offset: int) -> None:
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(member)
    # Local header: 30 fixed bytes + name + extra, then the (compressed) member data.
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_compressed_data(model_file: Path):
    _flip_byte_in_member(model_file, "value.npy", 20)
    _refused(model_file, "corrupt model file")


def test_bad_crc(tmp_path: Path, model_file: Path):
    path = tmp_path / "stored.npz"
    np.savez(path, allow_pickle=False, **_members(model_file))  # uncompressed members
    _flip_byte_in_member(path, "value.npy", 200)  # inside the float data, not the header
    _refused(path, "bad checksum in member 'value.npy'")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path):
    path = tmp_path / "fifo.bpclf"
    os.mkfifo(path)
    _refused(path, "not a regular file")


def test_loaded_arrays_are_read_only(model_file: Path):
    ens, _ = load_model(model_file)
    with pytest.raises(ValueError):
        ens.left[0] = 0


def test_child_outside_its_tree(model_file: Path, ensemble: TreeEnsemble):
    left = ensemble.left.copy()
    node = int(np.flatnonzero(~ensemble.is_leaf)[0])  # root of tree 0
    left[node] = int(ensemble.roots[1])  # first node of tree 1: in the file, wrong tree
    _refused(_tampered(model_file, left=left), r"tree 0: node 0 has child index \d+ out of range")
    left[node] = 10**9
    _refused(_tampered(model_file, left=left), "out of range")


def test_cycle_back_to_root(model_file: Path, ensemble: TreeEnsemble):
    right = ensemble.right.copy()
    internal = np.flatnonzero(~ensemble.is_leaf & (np.arange(ensemble.n_nodes) > 0))
    node = int(internal[internal < ensemble.roots[1]][0])
    right[node] = 0  # back to the root of tree 0
    _refused(_tampered(model_file, right=right), f"node {node} has child index 0 out of range")


def test_shared_subtree(model_file: Path, ensemble: TreeEnsemble):
    right = ensemble.right.copy()
    right[0] = ensemble.left[0]  # both children of the root are the same node
    _refused(_tampered(model_file, right=right), "parents")


def test_feature_index_out_of_range(model_file: Path, ensemble: TreeEnsemble):
    feature = ensemble.feature.copy()
    feature[0] = N_FEATURES
    _refused(_tampered(model_file, feature=feature), r"feature index 8 out of range 0\.\.7")


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.uint32, np.int16])
def test_wrong_dtype(model_file: Path, ensemble: TreeEnsemble, dtype: type):
    left = ensemble.left.astype(dtype)
    _refused(_tampered(model_file, left=left), "array 'left' has dtype")


def test_wrong_length(model_file: Path, ensemble: TreeEnsemble):
    _refused(_tampered(model_file, value=ensemble.value[:-1]), "array 'value' has")


def test_nan_threshold_and_leaf_value(model_file: Path, ensemble: TreeEnsemble):
    threshold = ensemble.threshold.copy()
    threshold[0] = np.nan
    _refused(_tampered(model_file, threshold=threshold), "NaN threshold")
    value = ensemble.value.copy()
    value[np.flatnonzero(ensemble.is_leaf)[0]] = np.inf
    _refused(_tampered(model_file, value=value), "non-finite value")


def _format(ensemble: TreeEnsemble, **overrides) -> np.ndarray:
    fmt = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "n_features": ensemble.n_features,
        "baseline": ensemble.baseline,
        "max_depth": ensemble.max_depth,
        **overrides,
    }
    return np.frombuffer(json.dumps(fmt).encode(), dtype=np.uint8)


def test_understated_max_depth(model_file: Path, ensemble: TreeEnsemble):
    fmt = _format(ensemble, max_depth=ensemble.max_depth - 1)
    _refused(_tampered(model_file, format_json=fmt), "max_depth is")


def test_future_format_version(model_file: Path, ensemble: TreeEnsemble):
    fmt = _format(ensemble, format_version=FORMAT_VERSION + 1)
    _refused(
        _tampered(model_file, format_json=fmt),
        r"model format version 2 is newer than this bpclf supports \(1\); upgrade bpclf",
    )


def test_wrong_format_name(model_file: Path, ensemble: TreeEnsemble):
    _refused(_tampered(model_file, format_json=_format(ensemble, format="other")), "format is")


def test_plain_npz_is_not_a_model(tmp_path: Path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.arange(3))
    _refused(path, "not a bpclf model file")


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"{not json", "metadata is not valid"),
        (b"[1, 2, 3]", "metadata is not a JSON object"),
        (b"\xff\xfe", "metadata is not valid"),
        (b"[" * 100_000, "metadata is not valid"),  # deep nesting: RecursionError
    ],
)
def test_bad_metadata(model_file: Path, payload: bytes, match: str):
    meta = np.frombuffer(payload, dtype=np.uint8)
    _refused(_tampered(model_file, meta_json=meta), match)


def test_zip_bomb_guard(model_file: Path, monkeypatch: pytest.MonkeyPatch):
    members = _members(model_file)
    members["padding"] = np.zeros(4 * 1024 * 1024, dtype=np.uint8)  # compresses to ~4 KB
    path = model_file.with_name("bomb.bpclf")
    _write_raw(path, members)
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(serialize, "MAX_UNCOMPRESSED_BYTES", 1024 * 1024)
    _refused(path, "uncompressed, over the")


def test_npy_header_claiming_huge_shape(model_file: Path):
    """A tiny member whose header claims 8 TB must not make numpy allocate it."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    data = model_file.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = src.read(info)
            if info.filename == "value.npy":
                payload = header.getvalue() + b"\0" * 64
            dst.writestr(info.filename, payload)
    model_file.write_bytes(out.getvalue())
    _refused(model_file, "claims")


def test_random_corruptions_only_raise_model_error(model_file: Path, ensemble: TreeEnsemble):
    """Byte flips in the file and value changes in the arrays: a ModelError or a model
    whose predictions are finite, never another exception."""
    rng = np.random.default_rng(0)
    good = model_file.read_bytes()
    X = _test_matrix(n_rows=20)
    path = model_file.with_name("fuzz.bpclf")
    for _ in range(150):
        data = bytearray(good)
        for pos in rng.integers(0, len(data), size=3):
            data[pos] = int(rng.integers(256))
        path.write_bytes(bytes(data))
        try:
            ens, _ = load_model(path)
        except ModelError:
            continue
        assert np.all(np.isfinite(ens.decision_function(X)))
    for _ in range(150):
        arrays = {name: getattr(ensemble, name).copy() for name in serialize.ARRAY_DTYPES}
        arr = arrays[str(rng.choice(["left", "right", "feature", "roots", "is_leaf"]))]
        i = int(rng.integers(arr.shape[0]))
        arr[i] = ~arr[i] if arr.dtype == bool else rng.integers(-3, ensemble.n_nodes + 3)
        candidate = dataclasses.replace(ensemble, **arrays)
        try:
            candidate.validate()
        except ModelError:
            continue
        assert np.all(np.isfinite(candidate.decision_function(X)))


# ---------------------------------------------------------------- extra ensembles


def test_extras_round_trip(tmp_path: Path, ensemble: TreeEnsemble):
    path = tmp_path / "bundle.bpclf"
    save_model(path, ensemble, {"k": 1}, extras={"second_pass": ensemble})
    main, meta, extras, _ = serialize.load_model_bundle(path)
    assert meta == {"k": 1} and list(extras) == ["second_pass"]
    X = _test_matrix(n_rows=200)
    np.testing.assert_array_equal(extras["second_pass"].predict_proba(X), main.predict_proba(X))
    assert load_model(path)[1] == {"k": 1}  # plain loader still works


def test_hostile_extra_ensemble_is_refused(tmp_path: Path, ensemble: TreeEnsemble):
    path = tmp_path / "bundle.bpclf"
    save_model(path, ensemble, {}, extras={"second_pass": ensemble})
    left = _members(path)["second_pass__left"].copy()
    left[0] = 10**6
    _refused(_tampered(path, second_pass__left=left), "out of range")
    members = _members(path)
    del members["second_pass__value"]
    _write_raw(tmp_path / "lacking.bpclf", members)
    _refused(tmp_path / "lacking.bpclf", "lacks array")


def test_extra_names_are_checked(tmp_path: Path, ensemble: TreeEnsemble):
    with pytest.raises(ValueError, match="invalid extra"):
        save_model(tmp_path / "x.bpclf", ensemble, {}, extras={"Bad__name": ensemble})


# ---------------------------------------------------------------- vectors


def test_vectors_round_trip_and_tampering(tmp_path: Path, ensemble: TreeEnsemble):
    path = tmp_path / "vec.bpclf"
    weights = np.linspace(-1.0, 1.0, 64)
    save_model(path, ensemble, {}, vectors={"lexical_weights": weights})
    _, _, _, vectors = serialize.load_model_bundle(path)
    np.testing.assert_array_equal(vectors["lexical_weights"], weights)
    assert not vectors["lexical_weights"].flags.writeable
    bad = weights.copy()
    bad[3] = np.nan
    _refused(_tampered(path, vec__lexical_weights=bad), "non-finite")
    _refused(_tampered(path, vec__lexical_weights=weights[:10]), "header says 64")
    _refused(_tampered(path, vec__lexical_weights=weights.astype(np.float32)), "float64")
    _refused(_tampered(path, vec__lexical_weights=weights.astype(">f8")), "float64")
    quantised = (weights * 1000).astype(np.int16)
    save_model(path, ensemble, {}, vectors={"lexical_weights": quantised})
    _, _, _, vectors = serialize.load_model_bundle(path)
    np.testing.assert_array_equal(vectors["lexical_weights"], quantised)
    assert vectors["lexical_weights"].dtype == np.int16
    members = _members(path)
    del members["vec__lexical_weights"]
    _write_raw(tmp_path / "lacking.bpclf", members)
    _refused(tmp_path / "lacking.bpclf", "lacks array")
    with pytest.raises(ValueError, match="invalid vector name"):
        save_model(tmp_path / "x.bpclf", ensemble, {}, vectors={"Bad": weights})
