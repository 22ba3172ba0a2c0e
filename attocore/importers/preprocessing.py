"""The preprocessing a user's own model carries in its file (mean, std, resize, labels), checked
the same way for attocore.torch.export, attocore.onnx.convert and their commands."""
from __future__ import annotations

import math
import numbers
import os


def check_mean_std(value, what: str) -> tuple:
    """Three finite numbers (one per RGB channel, on the [0, 1] scale); std's must be > 0."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 3:
        raise ValueError(f"{what} must be three numbers, one per RGB channel, got {value!r:.60}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{what} must be three finite numbers, got {value!r:.60}")
        if what == "std" and v <= 0:
            raise ValueError(f"std must be three numbers > 0, got {value!r:.60}")
        out.append(float(v))
    return tuple(out)


def check_resize(value, input_hw) -> int:
    """The shorter side an image is resized to before the centre crop, or 0: straight to H x W."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"resize must be an int >= 0 (0: resize straight to the input size), got {value!r:.40}")
    if value and value < max(input_hw):
        raise ValueError(f"resize {value} is smaller than the {input_hw[0]}x{input_hw[1]} input it is cropped to")
    return int(value)


def read_labels(path) -> tuple:
    """One class label per non-empty line of a UTF-8 text file."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"labels '{os.fsdecode(path)}' is a directory, not a text file with one label per line")
    try:
        with open(path, encoding="utf-8") as f:
            labels = tuple(line.strip() for line in f if line.strip())
    except UnicodeDecodeError as e:
        raise ValueError(f"labels '{os.fsdecode(path)}' is not a UTF-8 text file with one label per line") from e
    if not labels:
        raise ValueError(f"labels '{os.fsdecode(path)}' holds no labels (one per line)")
    return labels


def apply(metadata, name=None, labels=None, mean=None, std=None, resize=None) -> None:
    """Sets the given fields of a graph's Metadata (None: keep what it has), checked."""
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r:.40}")
        metadata.name = name
    if labels is not None:
        metadata.labels = tuple(str(l) for l in labels)
    if mean is not None:
        metadata.mean = check_mean_std(mean, "mean")
    if std is not None:
        metadata.std = check_mean_std(std, "std")
    if resize is not None:
        metadata.resize = check_resize(resize, tuple(metadata.input_shape[1:]))
