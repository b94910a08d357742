"""Safe model files: tree arrays in an ``.npz`` container, evaluated by bpclf's own code.

A model artifact is a single file that users download and pass around, so loading a
file from an untrusted source must never execute code or crash the interpreter. That
rules out pickle and joblib (unpickling runs arbitrary code), and skops refuses
sklearn's ``TreePredictor`` because crafted node arrays would make its Cython code read
out of bounds. Instead we store only plain numeric arrays plus two small JSON blobs, load
them with ``allow_pickle=False``, check every invariant the evaluator relies on
(:meth:`TreeEnsemble.validate`), and predict with bpclf's own compiled tree walker
(:func:`bpclf.kernels.tree_scores`), which relies on exactly those invariants. Prediction
never rebuilds sklearn objects, so the file format does not depend on sklearn internals
and keeps working across sklearn upgrades.

Container layout (a zip file, readable by ``np.load``): one ``<name>.npy`` member per
array of :class:`TreeEnsemble`, plus ``meta_json`` (free-form metadata of the caller) and
``format_json`` (format name/version and the scalar fields), both UTF-8 JSON stored as
``uint8`` arrays.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from bpclf.errors import ModelError

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

FORMAT_NAME = "bpclf-model"
FORMAT_VERSION = 1

#: Refuse models with more nodes than this: keeps int32 indices safe and memory bounded.
MAX_NODES = 50_000_000
#: Refuse trees deeper than this: the evaluator does ``max_depth`` passes per batch, so an
#: absurd depth in a crafted file would turn prediction into a denial of service. Real
#: HistGradientBoosting trees are ~5-30 levels deep (default ``max_leaf_nodes=31``).
MAX_TREE_DEPTH = 4096
#: Refuse absurd feature counts (``feature_importances`` allocates ``n_features`` floats).
MAX_FEATURES = 10_000_000
#: Zip-bomb guard: total uncompressed size the members of a model file may claim.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3

#: Array members of the container and their exact dtypes (native byte order).
ARRAY_DTYPES: dict[str, np.dtype] = {
    "feature": np.dtype(np.int32),
    "threshold": np.dtype(np.float64),
    "missing_left": np.dtype(np.bool_),
    "left": np.dtype(np.int32),
    "right": np.dtype(np.int32),
    "is_leaf": np.dtype(np.bool_),
    "value": np.dtype(np.float64),
    "roots": np.dtype(np.int32),
}
_NODE_ARRAYS = ("feature", "threshold", "missing_left", "left", "right", "is_leaf", "value")
_JSON_MEMBERS = ("format_json", "meta_json")
#: Names of extra ensembles (stored as "{name}__{array}" members) and of vectors
#: (stored as "vec__{name}").
_EXTRA_NAME = re.compile(r"[a-z](?:[a-z0-9]|_(?!_)){0,31}")
MAX_EXTRAS = 8
_VECTOR_PREFIX = "vec__"
#: Refuse vectors longer than this (the lexical weights have 2 ** hash_bits <= 2 ** 24).
MAX_VECTOR_LENGTH = 1 << 24
#: Dtypes a vector member may have (the lexical weights: float64, or int16 quantised).
VECTOR_DTYPES = (np.dtype(np.float64), np.dtype(np.int16))

# Fixed zip entry attributes so that the same content always gives the same bytes
# (np.savez_compressed stamps every entry with the current time).
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_COMPRESSLEVEL = 6


def _current_umask() -> int:
    """The process umask (read once at import: ``os.umask`` can only be read by setting)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@dataclass(frozen=True, eq=False)  # eq=False: element-wise array == is not a bool
class TreeEnsemble:
    """Flat arrays of all trees; nodes of tree t occupy [offsets[t], offsets[t+1]).

    ``offsets`` is ``roots`` followed by the total node count: trees are stored one after
    another and each tree's root is its first node (sklearn's preorder layout). Child
    indices are GLOBAL so the evaluator can walk every tree of the ensemble at once.
    """

    feature: np.ndarray  # int32 (n_nodes_total,) feature index per node (0 for leaves)
    threshold: np.ndarray  # float64: go left when x <= threshold
    missing_left: np.ndarray  # bool: NaN goes left
    left: np.ndarray  # int32 GLOBAL node index of left child (leaves: self)
    right: np.ndarray  # int32 GLOBAL index of right child (leaves: self)
    is_leaf: np.ndarray  # bool
    value: np.ndarray  # float64 leaf value (raw score contribution)
    roots: np.ndarray  # int32 global index of each tree's root
    baseline: float  # raw baseline prediction (log-odds)
    n_features: int
    max_depth: int  # max root-to-leaf path length (number of splits)

    @property
    def n_trees(self) -> int:
        return int(self.roots.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])

    @classmethod
    def from_sklearn(cls, model: HistGradientBoostingClassifier) -> TreeEnsemble:
        """Copy the trees of a fitted binary, numerical-only HistGradientBoostingClassifier.

        Reads the private ``_predictors`` / ``_baseline_prediction`` attributes once, at
        export time; everything after that is independent of sklearn. Raises ValueError
        for models this format cannot represent exactly (multiclass, categorical splits).
        """
        predictors = getattr(model, "_predictors", None)
        baseline_arr = getattr(model, "_baseline_prediction", None)
        if predictors is None or baseline_arr is None:
            raise ValueError("model is not a fitted HistGradientBoostingClassifier")
        classes = getattr(model, "classes_", None)
        if classes is None or len(classes) != 2 or model.n_trees_per_iteration_ != 1:
            raise ValueError("only binary classifiers can be exported (got multiclass)")
        is_cat = getattr(model, "is_categorical_", None)
        if (is_cat is not None and np.any(is_cat)) or getattr(model, "_preprocessor", None):
            raise ValueError("models with categorical features cannot be exported")
        baseline_arr = np.asarray(baseline_arr, dtype=np.float64)
        if baseline_arr.shape != (1, 1):
            raise ValueError(f"unexpected baseline shape {baseline_arr.shape}, expected (1, 1)")

        parts: dict[str, list[np.ndarray]] = {name: [] for name in _NODE_ARRAYS}
        roots: list[int] = []
        offset = 0
        for iteration, trees in enumerate(predictors):
            if len(trees) != 1:
                raise ValueError(f"iteration {iteration} has {len(trees)} trees, expected 1")
            nodes = trees[0].nodes
            if np.any(nodes["is_categorical"]):
                raise ValueError("models with categorical splits cannot be exported")
            n = int(nodes.shape[0])
            leaf = nodes["is_leaf"].astype(bool)
            own = np.arange(offset, offset + n, dtype=np.int64)
            # sklearn's left/right are local; leaves carry 0 there, we make them self-loops.
            left = np.where(leaf, own, nodes["left"].astype(np.int64) + offset)
            right = np.where(leaf, own, nodes["right"].astype(np.int64) + offset)
            parts["feature"].append(np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32))
            parts["threshold"].append(
                np.where(leaf, 0.0, nodes["num_threshold"]).astype(np.float64)
            )
            parts["missing_left"].append((nodes["missing_go_to_left"] != 0) & ~leaf)
            parts["left"].append(left.astype(np.int32))
            parts["right"].append(right.astype(np.int32))
            parts["is_leaf"].append(leaf)
            parts["value"].append(nodes["value"].astype(np.float64))
            roots.append(offset)
            offset += n
            if offset > MAX_NODES:
                raise ValueError(f"model has more than {MAX_NODES} nodes")
        if not roots:
            raise ValueError("model has no trees")

        arrays = {
            name: np.concatenate(chunks).astype(ARRAY_DTYPES[name], copy=False)
            for name, chunks in parts.items()
        }
        arrays["roots"] = np.asarray(roots, dtype=np.int32)
        max_depth = _max_depth(arrays["roots"], arrays["is_leaf"], arrays["left"], arrays["right"])
        ensemble = cls(
            **arrays,
            baseline=float(baseline_arr[0, 0]),
            n_features=int(model.n_features_in_),
            max_depth=max_depth if max_depth is not None else MAX_TREE_DEPTH + 1,
        )
        ensemble.validate()
        _freeze(ensemble)
        return ensemble

    # ------------------------------------------------------------------ prediction

    @cached_property
    def walk_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The node records and tree depths :func:`bpclf.kernels.tree_scores` walks.

        One row of four int64 per node: feature, left child, right child and the bits of
        the threshold (read back as float64), so that a step of the walk touches one
        32-byte record. Built once per ensemble from its validated (and, once frozen,
        read-only) arrays, on first use, instead of for every batch.
        """
        from bpclf.kernels import tree_depths

        nodes = np.empty((self.n_nodes, 4), dtype=np.int64)
        nodes[:, 0] = self.feature
        nodes[:, 1] = self.left
        nodes[:, 2] = self.right
        nodes[:, 3] = np.ascontiguousarray(self.threshold).view(np.int64)
        roots = self.roots.astype(np.int64)
        depths = tree_depths(roots, self.left, self.right, self.is_leaf, self.n_nodes)
        nodes.flags.writeable = False
        depths.flags.writeable = False
        return nodes, depths

    @cached_property
    def mask_arrays(self) -> tuple[np.ndarray, ...] | None:
        """The splits and leaves :func:`bpclf.kernels.masked_tree_scores` reads, or None
        when a tree has more than 64 leaves (such ensembles are walked).

        Splits sorted by feature (then threshold, then node): feature, threshold, tree,
        and the mask clearing the bits of the leaves of the split's left subtree (32-bit
        words when every tree has at most 32 leaves, as with the default
        ``max_leaf_nodes = 31``: half the memory traffic, twice the lanes); the leaf
        values of each tree in left-to-right order, from ``leaf_start[tree]``; the
        features some split reads (the only columns the scorer copies); the mask word
        with every bit set.
        """
        from bpclf.kernels import leaf_ranges

        lo, hi, n_leaves = leaf_ranges(
            self.roots.astype(np.int64), self.left.astype(np.int64),
            self.right.astype(np.int64), self.is_leaf,
        )  # fmt: skip
        if n_leaves.max() > 64:
            return None
        word = np.uint32 if n_leaves.max() <= 32 else np.uint64
        offsets = np.append(self.roots.astype(np.int64), self.n_nodes)
        tree_of = np.repeat(np.arange(self.n_trees), np.diff(offsets))
        split = np.flatnonzero(~self.is_leaf)
        order = np.lexsort((split, self.threshold[split], self.feature[split]))
        split = split[order]
        left = self.left[split]
        width = (hi[left] - lo[left]).astype(np.uint64)  # < the tree's leaves: < 64
        cleared = ((np.uint64(1) << width) - np.uint64(1)) << lo[left].astype(np.uint64)
        every = word(np.iinfo(word).max)
        mask = (~cleared).astype(word)  # a 32-bit tree's bits are all in the low word
        leaf_start = np.append(0, np.cumsum(n_leaves)[:-1]).astype(np.int64)
        leaves = np.flatnonzero(self.is_leaf)
        leaf_value = np.empty(int(n_leaves.sum()), dtype=np.float64)
        leaf_value[leaf_start[tree_of[leaves]] + lo[leaves]] = self.value[leaves]
        arrays = (
            self.feature[split].astype(np.int64),
            np.ascontiguousarray(self.threshold[split]),
            tree_of[split].astype(np.int64),
            mask,
            leaf_value,
            leaf_start,
            np.unique(self.feature[split]).astype(np.int64),
        )
        for arr in arrays:
            arr.flags.writeable = False
        return (*arrays, every)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds of class 1), shape (n_rows,).

        Compiled code finds each row's leaf in every tree, by leaf masks
        (:func:`bpclf.kernels.masked_tree_scores`, trees of up to 64 leaves: 2-3x faster)
        or by walking from the root (:func:`bpclf.kernels.tree_scores`); leaf values are
        added tree by tree in order, as sklearn does, so the scores match sklearn's bit
        for bit either way. Only safe on a validated ensemble: validation guarantees
        every index is in bounds, every tree is a proper tree and every walk ends in a
        leaf.
        """
        from bpclf.kernels import masked_tree_scores, tree_scores

        X = np.ascontiguousarray(self._check_X(X))
        nodes, depths = self.walk_arrays
        walk = (nodes, depths, self.missing_left, self.value, self.roots, float(self.baseline))
        masks = self.mask_arrays
        if masks is None:
            return tree_scores(X, *walk)
        *splits, every = masks
        return masked_tree_scores(X, *splits, *walk, every)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) per row, shape (n_rows,): the logistic sigmoid of the raw score."""
        raw = self.decision_function(X)
        with np.errstate(over="ignore"):  # exp overflow -> inf -> probability 0.0, correct
            return 1.0 / (1.0 + np.exp(-raw))

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ModelError(f"feature matrix must be 2-D, got {X.ndim}-D")
        if X.shape[1] != self.n_features:
            raise ModelError(
                f"feature matrix has {X.shape[1]} columns but the model expects {self.n_features}"
            )
        return X

    def feature_importances(self) -> np.ndarray:
        """Split counts per feature, normalised to sum 1, shape (n_features,).

        Gain is not stored in the file, so the number of splits on a feature is the
        importance. All zeros if no tree has a split.
        """
        counts = np.bincount(self.feature[~self.is_leaf], minlength=self.n_features).astype(
            np.float64
        )
        total = counts.sum()
        return counts / total if total > 0 else counts

    # ------------------------------------------------------------------ validation

    def validate(self, *, source: str | None = None) -> None:
        """Check every invariant the evaluator relies on; raise ModelError if one fails.

        After this passes, prediction cannot index out of bounds or loop: all indices
        are in range, every internal node's children lie in the same tree after the
        node itself (so walks strictly advance and stop within the tree), every node but
        a root has exactly one parent (each tree is a real tree) and ``max_depth`` is the
        true depth (a smaller one would stop the walk before reaching leaves).
        """

        def fail(message: str) -> NoReturn:
            raise ModelError(message, source=source)

        for name, dtype in ARRAY_DTYPES.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray):
                fail(f"array {name!r} is not a numpy array")
            if arr.dtype != dtype:
                fail(f"array {name!r} has dtype {arr.dtype.str}, expected {dtype.str}")
            if arr.ndim != 1:
                fail(f"array {name!r} must be 1-D, got shape {arr.shape}")
        n = self.n_nodes
        for name in _NODE_ARRAYS:
            if getattr(self, name).shape[0] != n:
                fail(f"array {name!r} has {getattr(self, name).shape[0]} entries, expected {n}")
        if n > MAX_NODES:
            fail(f"model has {n} nodes, more than the limit of {MAX_NODES}")

        if not _is_int(self.n_features) or not 1 <= self.n_features <= MAX_FEATURES:
            fail(f"n_features must be an integer in 1..{MAX_FEATURES}, got {self.n_features!r}")
        if not _is_int(self.max_depth) or not 0 <= self.max_depth <= MAX_TREE_DEPTH:
            fail(f"max_depth must be an integer in 0..{MAX_TREE_DEPTH}, got {self.max_depth!r}")
        if not _is_finite_real(self.baseline):
            fail(f"baseline must be a finite number, got {self.baseline!r}")

        roots = self.roots.astype(np.int64)
        if roots.shape[0] == 0:
            fail("model has no trees")
        if roots[0] != 0:
            fail(f"first tree must start at node 0, starts at {roots[0]}")
        if np.any(np.diff(roots) <= 0):
            t = int(np.argmax(np.diff(roots) <= 0)) + 1
            fail(f"tree {t}: root index {roots[t]} not after previous root {roots[t - 1]}")
        if roots[-1] >= n:
            fail(f"tree {roots.shape[0] - 1}: root index {roots[-1]} out of range 0..{n - 1}")

        offsets = np.append(roots, n)
        tree_of = np.repeat(np.arange(roots.shape[0]), np.diff(offsets))
        own = np.arange(n, dtype=np.int64)
        leaf = self.is_leaf
        internal = ~leaf
        left = self.left.astype(np.int64)
        right = self.right.astype(np.int64)

        bad = leaf & ((left != own) | (right != own))
        if np.any(bad):
            i = int(np.argmax(bad))
            fail(f"tree {tree_of[i]}: leaf node {i} must point to itself as both children")
        end = offsets[tree_of + 1]  # one past the last node of each node's tree
        for child in (left, right):
            bad = internal & ((child <= own) | (child >= end))
            if np.any(bad):
                i = int(np.argmax(bad))
                fail(
                    f"tree {tree_of[i]}: node {i} has child index {child[i]} out of range "
                    f"{i + 1}..{end[i] - 1}"
                )
        bad = (self.feature < 0) | (self.feature >= self.n_features)
        if np.any(bad):
            i = int(np.argmax(bad))
            fail(
                f"tree {tree_of[i]}: node {i} has feature index {self.feature[i]} out of "
                f"range 0..{self.n_features - 1}"
            )
        bad = internal & np.isnan(self.threshold)
        if np.any(bad):
            i = int(np.argmax(bad))
            fail(f"tree {tree_of[i]}: split node {i} has a NaN threshold")
        bad = leaf & ~np.isfinite(self.value)
        if np.any(bad):
            i = int(np.argmax(bad))
            fail(f"tree {tree_of[i]}: leaf node {i} has non-finite value {self.value[i]}")

        # Every root has no parent and every other node exactly one: no shared subtrees,
        # no unreachable nodes. Together with "children after parent" this makes each
        # tree a proper tree, which also bounds the depth computation below to O(n).
        parents = np.bincount(np.concatenate([left[internal], right[internal]]), minlength=n)
        expected = np.ones(n, dtype=np.int64)
        expected[roots] = 0
        bad = parents != expected
        if np.any(bad):
            i = int(np.argmax(bad))
            fail(f"tree {tree_of[i]}: node {i} has {parents[i]} parents, expected {expected[i]}")

        depth = _max_depth(self.roots, leaf, self.left, self.right)
        if depth is None:
            fail(f"a tree is deeper than the limit of {MAX_TREE_DEPTH} splits")
        if depth != self.max_depth:
            fail(f"max_depth is {self.max_depth} but the trees are {depth} splits deep")


def _freeze(ensemble: TreeEnsemble) -> None:
    """Make the arrays of a validated ensemble we own read-only, so it stays valid."""
    for name in ARRAY_DTYPES:
        getattr(ensemble, name).flags.writeable = False


def _max_depth(
    roots: np.ndarray, is_leaf: np.ndarray, left: np.ndarray, right: np.ndarray
) -> int | None:
    """Longest root-to-leaf path (in splits) over all trees; None if over MAX_TREE_DEPTH.

    Breadth-first from all roots at once. Callers must have checked indices are in range;
    on proper trees each node is visited once.
    """
    frontier = roots.astype(np.int64)
    depth = 0
    while True:
        frontier = frontier[~is_leaf[frontier]]
        if frontier.size == 0:
            return depth
        depth += 1
        if depth > MAX_TREE_DEPTH:
            return None
        frontier = np.concatenate([left[frontier], right[frontier]]).astype(np.int64)


def _is_int(x: Any) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def _is_finite_real(x: Any) -> bool:
    if not isinstance(x, int | float | np.integer | np.floating) or isinstance(x, bool | np.bool_):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an int too large for a float (e.g. 10**400 from JSON)
        return False


# ---------------------------------------------------------------------- writing


def save_model(
    path: str | os.PathLike,
    ensemble: TreeEnsemble,
    meta: dict,
    extras: dict[str, TreeEnsemble] | None = None,
    vectors: dict[str, np.ndarray] | None = None,
) -> None:
    """Write ``ensemble`` and JSON-serialisable ``meta`` to ``path``, atomically.

    The ensemble is validated first so we never write a file that load_model would
    refuse. The file is written to a temporary file in the same directory, fsynced and
    renamed over the target, so readers see either the old or the new complete file.
    The output is byte-deterministic (fixed zip timestamps, sorted members, sorted JSON
    keys), so identical models give identical files and checksums.

    ``extras`` are further named ensembles (for example a second pass) stored beside the
    main one, each validated and described in the format header like the main one.
    ``vectors`` are named 1-D float64 or int16 arrays (for example the lexical n-gram
    weights), stored as ``vec__<name>`` members with their length in the header.
    """
    path = Path(path)
    ensemble.validate(source=str(path))
    extras = dict(extras or {})
    for key, extra in extras.items():
        if not _EXTRA_NAME.fullmatch(key):
            raise ValueError(f"invalid extra ensemble name {key!r}")
        extra.validate(source=str(path))
    vectors = dict(vectors or {})
    for key, vec in vectors.items():
        _check_vector(key, vec, len(vec) if isinstance(vec, np.ndarray) else -1, _raise_value)
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
    fmt = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "n_features": int(ensemble.n_features),
        "baseline": float(ensemble.baseline),
        "max_depth": int(ensemble.max_depth),
    }
    members = {name: getattr(ensemble, name) for name in ARRAY_DTYPES}
    if extras:
        fmt["extras"] = {key: _header(extra) for key, extra in sorted(extras.items())}
        for key, extra in extras.items():
            members.update({f"{key}__{name}": getattr(extra, name) for name in ARRAY_DTYPES})
    if vectors:
        fmt["vectors"] = {key: len(vec) for key, vec in sorted(vectors.items())}
        members.update({f"{_VECTOR_PREFIX}{key}": vec for key, vec in vectors.items()})
    members["format_json"] = _json_array(fmt)
    members["meta_json"] = _json_array(meta)
    _write_container(path, members)


def _raise_value(message: str) -> ValueError:
    return ValueError(message)


def _check_vector(key: Any, vec: Any, length: Any, fail: Any) -> None:
    """A named vector member must be a 1-D array of :data:`VECTOR_DTYPES` (finite, if
    floats) of the declared length."""
    if not isinstance(key, str) or not _EXTRA_NAME.fullmatch(key):
        raise fail(f"invalid vector name {_clip(key)}")
    if not _is_int(length) or not 0 <= length <= MAX_VECTOR_LENGTH:
        raise fail(f"vector {key!r}: length must be an integer in 0..{MAX_VECTOR_LENGTH}")
    if not isinstance(vec, np.ndarray) or vec.dtype not in VECTOR_DTYPES or vec.ndim != 1:
        raise fail(f"vector {key!r} must be a 1-D float64 or int16 array")
    if vec.shape[0] != length:
        raise fail(f"vector {key!r} has {vec.shape[0]} entries, the header says {length}")
    if vec.dtype.kind == "f" and not np.isfinite(vec).all():
        raise fail(f"vector {key!r} has non-finite values")


def _header(ensemble: TreeEnsemble) -> dict[str, Any]:
    return {
        "n_features": int(ensemble.n_features),
        "baseline": float(ensemble.baseline),
        "max_depth": int(ensemble.max_depth),
    }


def _json_array(obj: Any) -> np.ndarray:
    data = json.dumps(obj, sort_keys=True).encode("utf-8")
    return np.frombuffer(data, dtype=np.uint8).copy()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _write_container(path: Path, members: dict[str, np.ndarray]) -> None:
    """Atomically write ``members`` as a deterministic npz (zip of ``<name>.npy``)."""
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ModelError(f"cannot write model file: {exc.strerror}", source=str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(
                fh, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_ZIP_COMPRESSLEVEL
            ) as zf:
                for name in sorted(members):
                    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE_TIME)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.create_system = 3  # same bytes on every OS
                    info.external_attr = 0o644 << 16
                    zf.writestr(info, _npy_bytes(members[name]))
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the model the permissions a normal file gets.
        os.chmod(tmp_name, stat.S_IMODE(0o666 & ~_UMASK))
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            raise ModelError(
                f"cannot write model file: {exc.strerror or exc}", source=str(path)
            ) from exc
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); best effort, not available everywhere."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------- reading


def _clip(value: Any) -> str:
    """repr() of a value read from an untrusted file, cut short for one-line messages."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(exc: BaseException) -> str:
    """A short one-line description of a low-level error (numpy may quote whole headers)."""
    text = " ".join(str(exc).split())
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_model(path: str | os.PathLike) -> tuple[TreeEnsemble, dict]:
    """Load and fully validate a model file; return ``(ensemble, meta)``.

    See :func:`load_model_bundle` for files that also hold extra ensembles and vectors.
    """
    ensemble, meta, _, _ = load_model_bundle(path)
    return ensemble, meta


def load_model_bundle(
    path: str | os.PathLike,
) -> tuple[TreeEnsemble, dict, dict[str, TreeEnsemble], dict[str, np.ndarray]]:
    """Load and fully validate a model file; return ``(ensemble, meta, extras, vectors)``.

    Safe on untrusted input: nothing is unpickled, sizes are checked before anything is
    decompressed or allocated, and every structural invariant is validated before the
    ensemble is returned. Any problem with the file raises ModelError, never anything
    else.
    """
    src = str(path)

    def fail(message: str, exc: BaseException | None = None) -> ModelError:
        err = ModelError(message, source=src)
        err.__cause__ = exc
        return err

    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise fail("is a directory, not a model file")
        # Only regular files: opening a FIFO blocks, /dev/zero never ends.
        if not stat.S_ISREG(mode):
            raise fail("not a regular file")
        with open(path, "rb") as fh:
            data = fh.read(MAX_UNCOMPRESSED_BYTES + 1)
        if len(data) > MAX_UNCOMPRESSED_BYTES:
            raise fail(f"model file is over the {MAX_UNCOMPRESSED_BYTES} byte limit")
    except FileNotFoundError as exc:
        raise fail("model file not found", exc) from exc
    except OSError as exc:
        raise fail(f"cannot read model file: {exc.strerror or exc}", exc) from exc

    try:
        members = _read_members(data, fail)
        ensemble, meta, extras, vectors = _decode(members, fail)
        for item in (ensemble, *extras.values()):
            item.validate(source=src)
            _freeze(item)
        for vec in vectors.values():
            vec.flags.writeable = False
    except ModelError:
        raise
    except Exception as exc:  # a hostile file must only ever produce a ModelError
        raise fail(f"corrupt model file ({_describe(exc)})", exc) from exc
    return ensemble, meta, extras, vectors


def _read_members(data: bytes, fail: Any) -> dict[str, np.ndarray]:
    """Check the container and return its ``.npy`` members as arrays (no pickles)."""
    if not data:
        raise fail("empty file, not a bpclf model")
    if data[:1] == b"\x80":
        raise fail("file is a pickle (e.g. joblib), not a bpclf model; refusing to load")
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise fail("not a bpclf model file (not a zip/npz container)")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
        raise fail("not a bpclf model file (corrupt or truncated zip container)", exc) from exc
    with zf:
        infos = zf.infolist()
        # Zip-bomb guard: decide from the declared sizes, before decompressing anything.
        # zipfile never yields more than a member's declared file_size.
        claimed = sum(info.file_size for info in infos)
        if claimed > MAX_UNCOMPRESSED_BYTES:
            raise fail(
                f"members claim {claimed} bytes uncompressed, over the "
                f"{MAX_UNCOMPRESSED_BYTES} limit; refusing to load"
            )
        npy_infos = {info.filename[:-4]: info for info in infos if info.filename.endswith(".npy")}
        # Read npy headers ourselves first: refuse object dtypes (pickles) and shapes that
        # claim more data than the member holds (numpy would allocate the array first).
        for name, info in npy_infos.items():
            with zf.open(info) as fh:
                shape, dtype = _read_npy_header(fh)
            if dtype.hasobject:
                raise fail("contains pickled objects; refusing to load")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > info.file_size:
                raise fail(f"array {name!r} claims {nbytes} bytes but its member is smaller")
        bad = zf.testzip()  # CRC of every member
        if bad is not None:
            raise fail(f"corrupt model file (bad checksum in member {bad!r})")

    if "format_json" not in npy_infos:
        raise fail("not a bpclf model file (no format_json member)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            for name in npy_infos:
                if (
                    name in _JSON_MEMBERS
                    or name in ARRAY_DTYPES
                    or _is_extra_member(name)
                    or name.startswith(_VECTOR_PREFIX)
                ):
                    arrays[name] = npz[name]
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise fail("contains pickled objects; refusing to load", exc) from exc
        raise
    return arrays


def _read_npy_header(fh: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported npy version {version}")
    return tuple(int(d) for d in shape), dtype


def _decode_json(arr: np.ndarray, what: str, fail: Any) -> Any:
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise fail(f"{what} must be a 1-D uint8 array, got {arr.dtype.str} {arr.shape}")
    try:
        return json.loads(arr.tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise fail(f"{what} is not valid UTF-8 JSON", exc) from exc


def _is_extra_member(name: str) -> bool:
    key, sep, array = name.partition("__")
    return bool(sep) and bool(_EXTRA_NAME.fullmatch(key)) and array in ARRAY_DTYPES


def _ensemble(arrays: dict[str, np.ndarray], header: Any, prefix: str, fail: Any) -> TreeEnsemble:
    """Assemble one (unvalidated) ensemble from its arrays and its format header."""
    if not isinstance(header, dict):
        raise fail(f"format header of {prefix or 'main'} ensemble is not an object")
    for key in ("n_features", "baseline", "max_depth"):
        if key not in header:
            raise fail(f"format_json lacks {key!r}")
    missing = [prefix + name for name in ARRAY_DTYPES if prefix + name not in arrays]
    if missing:
        raise fail(f"model file lacks array {missing[0]!r}")
    return TreeEnsemble(
        **{name: arrays[prefix + name] for name in ARRAY_DTYPES},
        baseline=header["baseline"],
        n_features=header["n_features"],
        max_depth=header["max_depth"],
    )


def _decode(
    arrays: dict[str, np.ndarray], fail: Any
) -> tuple[TreeEnsemble, dict, dict[str, TreeEnsemble], dict[str, np.ndarray]]:
    """Check format name/version and metadata, then assemble the (unvalidated) ensemble."""
    fmt = _decode_json(arrays["format_json"], "format_json", fail)
    if not isinstance(fmt, dict) or fmt.get("format") != FORMAT_NAME:
        name = fmt.get("format") if isinstance(fmt, dict) else None
        raise fail(f"not a bpclf model file (format is {_clip(name)}, expected {FORMAT_NAME!r})")
    version = fmt.get("format_version")
    if not _is_int(version) or version < 1:
        raise fail(f"invalid model format version {_clip(version)}")
    if version > FORMAT_VERSION:
        raise fail(
            f"model format version {version} is newer than this bpclf supports "
            f"({FORMAT_VERSION}); upgrade bpclf"
        )
    if "meta_json" not in arrays:
        raise fail("model file lacks array 'meta_json'")
    ensemble = _ensemble(arrays, fmt, "", fail)
    meta = _decode_json(arrays["meta_json"], "metadata", fail)
    if not isinstance(meta, dict):
        raise fail(f"metadata is not a JSON object (got {type(meta).__name__})")
    headers = fmt.get("extras", {})
    if not isinstance(headers, dict) or len(headers) > MAX_EXTRAS:
        raise fail(f"format_json 'extras' must be an object of at most {MAX_EXTRAS} ensembles")
    extras = {}
    for key, header in headers.items():
        if not isinstance(key, str) or not _EXTRA_NAME.fullmatch(key):
            raise fail(f"invalid extra ensemble name {_clip(key)}")
        extras[key] = _ensemble(arrays, header, f"{key}__", fail)
    lengths = fmt.get("vectors", {})
    if not isinstance(lengths, dict) or len(lengths) > MAX_EXTRAS:
        raise fail(f"format_json 'vectors' must be an object of at most {MAX_EXTRAS} lengths")
    vectors = {}
    for key, length in lengths.items():
        member = f"{_VECTOR_PREFIX}{key}"
        if member not in arrays:
            raise fail(f"model file lacks array {_clip(member)}")
        _check_vector(key, arrays[member], length, fail)
        vectors[key] = arrays[member]
    return ensemble, meta, extras, vectors
