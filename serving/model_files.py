"""Checks of a saved classifier's files before LightGBM reads them.

LightGBM aborts the whole process (``terminate called``, exit 134) on some
damaged model texts instead of raising, so a truncated or corrupted
``booster.txt`` must be refused before it reaches LightGBM. The checks read
the files as plain text: ``model.json`` must be the JSON object
:meth:`training.estimator.ChurnClassifier.save` writes; ``booster.txt`` must
have LightGBM's header, every tree at the byte offset its ``tree_sizes`` line
gives, each tree's arrays of the lengths its ``num_leaves`` implies and of
numbers in range, the ``end of trees`` line after the last one, the closed
parameters block and the final ``pandas_categorical`` line. A file
that fails is a :class:`ModelFilesError` (exit 3) naming the file and the
first thing wrong, in one line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from features.errors import ChurnError
from training.estimator import BOOSTER_FILE, META_FILE

MAX_MODEL_BYTES = 512 * 2**20  # far above any model of this project; a bigger file is not one of ours
_TREE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")


class ModelFilesError(ChurnError):
    """A model directory does not hold one loadable classifier (missing, truncated or unreadable files)."""

    exit_code = 3
    http_status = 503


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise ModelFilesError(f"{what}: {path.name} is missing")
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelFilesError(f"{what}: {path.name} is {path.stat().st_size:,} bytes, over the {MAX_MODEL_BYTES:,} a model may have")
    try:
        return path.read_bytes().decode("ascii")
    except UnicodeDecodeError as e:
        raise ModelFilesError(f"{what}: {path.name} is damaged (a byte that is not text at offset {e.start})") from None
    except OSError as e:
        raise ModelFilesError(f"{what}: {path.name} cannot be read ({e.strerror})") from None


def _numbers(values: list, kind: type = float, infinite: bool = False) -> bool:
    """Whether every value is a number of ``kind``: finite, or also infinite when ``infinite`` (never NaN)."""
    try:
        numbers = [float(v) for v in values]
        return all(
            (math.isfinite(x) or (infinite and not math.isnan(x))) and (kind is float or float(v) == int(v))
            for x, v in zip(numbers, values, strict=True)
        )
    except (TypeError, ValueError, OverflowError):
        return False


def check_meta(directory: Path, what: str) -> dict:
    """The parsed ``model.json`` of ``directory``; ModelFilesError unless it is the object ChurnClassifier.save writes."""
    text = _read(Path(directory) / META_FILE, what)
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFilesError(f"{what}: {META_FILE} is not valid JSON (line {e.lineno}: {e.msg}); the file may be cut short") from None
    problems = []
    if not isinstance(meta, dict):
        raise ModelFilesError(f"{what}: {META_FILE} holds a {type(meta).__name__}, not the model's object")
    if not isinstance(meta.get("params"), dict):
        problems.append("params is not an object")
    features = meta.get("features")
    if not (isinstance(features, list) and features and all(isinstance(f, str) for f in features)):
        problems.append("features is not a list of names")
    if not isinstance(meta.get("categories"), dict):
        problems.append("categories is not an object")
    calibration = meta.get("calibration")
    if not _calibration_ok(calibration):
        problems.append("calibration is neither three finite beta parameters nor two lists of finite numbers of one length")
    if problems:
        raise ModelFilesError(f"{what}: {META_FILE}: {'; '.join(problems)}")
    return meta


def _calibration_ok(calibration: object) -> bool:
    """The beta map's three parameters (``{"beta": [a, b, c]}``), or an older model's isotonic breakpoints (``x``, ``y``)."""
    if not isinstance(calibration, dict):
        return False
    if "beta" in calibration:
        beta = calibration["beta"]
        return isinstance(beta, list) and len(beta) == 3 and _numbers(beta)
    x, y = calibration.get("x"), calibration.get("y")
    return isinstance(x, list) and isinstance(y, list) and len(x) == len(y) and _numbers(x) and _numbers(y)


def _header(lines: list[str], what: str) -> dict[str, str]:
    if not lines or lines[0] != "tree":
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} does not start as a LightGBM model")
    header = {}
    for line in lines[1:]:
        if not line:
            break
        key, sep, value = line.partition("=")
        if sep:
            header[key] = value
    for key in ("version", "num_class", "max_feature_idx", "feature_names", "tree_sizes"):
        if key not in header:
            raise ModelFilesError(f"{what}: {BOOSTER_FILE} lacks its {key} line; the file may be cut short")
    return header


def _check_tree(block: str, index: int, n_features: int, what: str) -> None:
    """One ``Tree=i`` block: its arrays have the lengths ``num_leaves`` implies and hold numbers in range."""
    fields = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
    where = f"{what}: {BOOSTER_FILE} tree {index}"
    leaves = fields.get("num_leaves", "")
    if not leaves.isdigit() or int(leaves) < 1:
        raise ModelFilesError(f"{where}: no valid num_leaves")
    n = int(leaves)
    values = fields.get("leaf_value", "").split()
    if len(values) != n or not _numbers(values):
        raise ModelFilesError(f"{where}: leaf_value does not hold {n} finite numbers")
    if n == 1:
        return
    for name in _TREE_ARRAYS:
        items = fields.get(name, "").split()
        # LightGBM writes an infinite threshold for some splits (e.g. all of a feature's known values on one side).
        if len(items) != n - 1 or not _numbers(items, float if name == "threshold" else int, infinite=name == "threshold"):
            raise ModelFilesError(f"{where}: {name} does not hold {n - 1} numbers")
    features = [int(v) for v in fields["split_feature"].split()]
    children = [int(v) for v in fields["left_child"].split() + fields["right_child"].split()]
    if any(not 0 <= f < n_features for f in features) or any(not -n <= c < n - 1 for c in children):
        raise ModelFilesError(f"{where}: a split or child index is out of range")


def check_booster(directory: Path, what: str, n_features: int | None = None) -> None:
    """ModelFilesError unless ``booster.txt`` of ``directory`` is a whole LightGBM model text (module docstring)."""
    text = _read(Path(directory) / BOOSTER_FILE, what)
    header = _header(text.split("\n", 40), what)
    try:
        sizes = [int(s) for s in header["tree_sizes"].split()]
        max_feature = int(header["max_feature_idx"])
    except ValueError:
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} has a damaged header (tree_sizes, max_feature_idx)") from None
    names = header["feature_names"].split()
    if len(names) != max_feature + 1 or (n_features is not None and len(names) != n_features):
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} names {len(names)} features, {META_FILE} {n_features}")
    at = text.find("\nTree=0\n") + 1 if sizes else text.find("\nend of trees")
    if at <= 0:
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} holds no trees; the file may be cut short")
    for i, size in enumerate(sizes):
        block = text[at : at + size]
        if len(block) < size or not block.startswith(f"Tree={i}\n"):
            raise ModelFilesError(f"{what}: {BOOSTER_FILE} ends or is damaged in tree {i} of {len(sizes)}; the file may be cut short")
        _check_tree(block, i, len(names), what)
        at += size
    tail = text[at:].lstrip("\n")
    if not tail.startswith("end of trees"):
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} lacks its end of trees after {len(sizes)} trees; the file may be cut short")
    _check_tail(tail, what)


def _check_tail(tail: str, what: str) -> None:
    """What follows the trees: the parameters block, closed, and the last line of pandas categories in JSON."""
    lines = tail.rstrip("\n").split("\n")
    if "parameters:" in lines and "end of parameters" not in lines:
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} lacks its end of parameters; the file may be cut short")
    last = lines[-1]
    if not last.startswith("pandas_categorical:"):
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} lacks its last line (pandas_categorical); the file may be cut short")
    try:
        json.loads(last.removeprefix("pandas_categorical:"))
    except json.JSONDecodeError:
        raise ModelFilesError(f"{what}: {BOOSTER_FILE} has a damaged last line (pandas_categorical); the file may be cut short") from None


def check_model_files(directory: Path, what: str) -> None:
    """Both files of a saved classifier in ``directory``, checked as text before LightGBM reads them."""
    meta = check_meta(directory, what)
    # The booster reads the model's inputs: its features plus the inputs it derives from them (BG/NBD's);
    # a model saved before derived inputs has no "inputs" and reads its features only.
    inputs = meta.get("inputs")
    if inputs is not None and not (isinstance(inputs, list) and all(isinstance(i, str) for i in inputs)):
        raise ModelFilesError(f"{what}: {META_FILE}: inputs is not a list of names")
    check_booster(directory, what, len(inputs) if inputs else len(meta["features"]))
