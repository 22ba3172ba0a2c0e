"""Calibration inputs, whatever form they come in, as float32 NCHW batches for a model."""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..preprocess import preprocess

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".tif", ".tiff")


def image_files(directory: str) -> list:
    if not os.path.isdir(directory):
        raise InputError(f"calibration directory '{directory}' does not exist or is not a directory")
    # Regular files only: opening a FIFO named like an image would wait for a writer forever.
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                   if f.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(directory, f)))
    if not files:
        raise InputError(f"calibration directory '{directory}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def random_batches(count: int, input_shape: tuple, seed: int = 0):
    """`count` standard-normal tensors: what normalised images look like to a first layer,
    for a model without data at hand (ranges are then only indicative)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError(f"the number of random calibration inputs must be an int >= 1, not {count!r}")
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield rng.standard_normal((1,) + tuple(input_shape)).astype(np.float32)


def batches(calibration, metadata):
    """(iterator of float32 NCHW batches, count or None): from a directory of images, a list of
    image paths or arrays (uint8 HxWx3 images, or float32 CHW / NCHW tensors), or an iterable
    of float32 NCHW batches."""
    shape = (1,) + tuple(metadata.input_shape)
    if isinstance(calibration, (str, os.PathLike)):
        calibration = image_files(os.fspath(calibration))

    def one(item):
        if isinstance(item, (str, os.PathLike)):
            return preprocess(os.fspath(item), metadata)
        a = np.asarray(item)
        if a.dtype == np.uint8:
            return preprocess(a, metadata)
        if a.dtype != np.float32:
            raise InputError(f"a calibration tensor must be float32 NCHW (or a uint8 HxWx3 image), got {a.dtype}")
        if a.ndim == 3:
            a = a[None]
        if a.ndim != 4 or a.shape[1:] != shape[1:]:
            raise InputError(f"a calibration tensor must be (N, {', '.join(map(str, shape[1:]))}), got {a.shape}")
        if not np.isfinite(a).all():
            raise InputError("a calibration tensor contains NaN or infinity")
        return a

    count = len(calibration) if hasattr(calibration, "__len__") else None
    if count == 0:
        raise InputError("no calibration inputs given")
    return (one(item) for item in calibration), count
