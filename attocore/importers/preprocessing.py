"""The preprocessing a user's own model carries in its file (mean, std, resize, labels), checked
the same way for attocore.torch.export, attocore.onnx.convert and their commands."""
from __future__ import annotations

import math
import numbers
import os

from ..input_file import open_regular_file


class NormalisationError(ValueError):
    """A mean or std that does not fit the model (its count, or a value): the user's argument,
    never the model file's fault."""


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_mean_std(value, what: str, channels: int = 3) -> tuple:
    """Finite numbers, one per input channel (RGB for an image model, on the [0, 1] scale);
    std's must be > 0."""
    count = "three numbers, one per RGB channel" if channels == 3 else f"{channels} numbers, one per input channel"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != channels:
        raise ValueError(f"{what} must be {count}, got {value!r:.60}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"{what} must be {count}, each finite, got {value!r:.60}")
        if what == "std" and v <= 0:
            raise ValueError(f"std must be {count}, each > 0, got {value!r:.60}")
        out.append(float(v))
    return tuple(out)


def normalisation(mean, std, channels: int) -> tuple:
    """(mean, std) for a model with `channels` input channels: the given ones, checked, else
    ImageNet's for 3 channels (an RGB image model) and none (0, 1) for any other count."""
    mean = (IMAGENET_MEAN if channels == 3 else (0.0,) * channels) if mean is None else mean
    std = (IMAGENET_STD if channels == 3 else (1.0,) * channels) if std is None else std
    try:
        return check_mean_std(mean, "mean", channels), check_mean_std(std, "std", channels)
    except ValueError as e:
        raise NormalisationError(str(e)) from None


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
        with open_regular_file(path, "labels file") as f:
            labels = tuple(line.strip() for line in f.read().decode("utf-8").splitlines() if line.strip())
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
        metadata.mean = check_mean_std(mean, "mean", metadata.input_shape[0])
    if std is not None:
        metadata.std = check_mean_std(std, "std", metadata.input_shape[0])
    if resize is not None:
        metadata.resize = check_resize(resize, tuple(metadata.input_shape[1:]))
