"""Image preprocessing from a model's metadata: resize (antialiased bilinear, as PIL and
torchvision do it), centre crop, scale to [0, 1], normalise by mean/std, HWC -> NCHW.

Resampling is done in float32 numpy (separable triangle filter), so results do not depend
on the PIL build; PIL only decodes files.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import InputError
from .input_file import open_regular_file


def _resample_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) weights of an antialiased bilinear (triangle) filter."""
    scale = in_size / out_size
    support = max(scale, 1.0)  # widen the filter when shrinking, to antialias
    centers = (np.arange(out_size) + 0.5) * scale
    src = np.arange(in_size) + 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(src[None, :] - centers[:, None]) / support)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype(np.float32)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an HxWxC float32 image to height x width."""
    rows = _resample_matrix(image.shape[0], height)
    cols = _resample_matrix(image.shape[1], width)
    return np.einsum("oh,hwc->owc", rows, np.einsum("pw,hwc->hpc", cols, image), optimize=True)


def to_rgb_array(image) -> np.ndarray:
    """Decode a path / PIL image / HxWx3 uint8 array into an HxWx3 uint8 array."""
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image
        try:
            with open_regular_file(image, "image", InputError) as f, Image.open(f) as im:
                return np.asarray(im.convert("RGB"))
        except FileNotFoundError:
            raise FileNotFoundError(f"no such image file '{os.fsdecode(image)}'") from None
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"cannot decode image '{image}': {e}") from e
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        return np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise InputError(f"an HxWx3 image array must be uint8, got {image.dtype} "
                             "(pass a preprocessed float32 NCHW tensor instead)")
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
            raise InputError(f"an image array must be HxWx3, got shape {image.shape}")
        return image
    raise InputError(f"unsupported image type {type(image).__name__}")


def preprocess(image, metadata) -> np.ndarray:
    """Image -> float32 1xCxHxW tensor following the model's metadata."""
    rgb = to_rgb_array(image).astype(np.float32) / 255.0
    c, h, w = metadata.input_shape
    ih, iw = rgb.shape[:2]
    if ih * 2 < h or iw * 2 < w:  # under half the input: what it is upscaled to carries little
        warnings.warn(f"the image is {iw}x{ih}, much smaller than the model's {w}x{h} input: it is upscaled, "
                      f"and the prediction may mean little", stacklevel=3)
    if c != 3:
        raise InputError(f"this model takes {c} input channels; pass a preprocessed tensor")
    if metadata.resize:
        # Shorter side to `resize`, then the centre h x w crop (torchvision's Resize + CenterCrop).
        ih, iw = rgb.shape[:2]
        short = metadata.resize
        if ih <= iw:
            nh, nw = short, max(1, int(short * iw / ih))
        else:
            nh, nw = max(1, int(short * ih / iw)), short
        if nh < h or nw < w:
            raise InputError(f"resize {metadata.resize} is smaller than the {h}x{w} crop")
        rgb = resize(rgb, nh, nw)
        top, left = int(round((nh - h) / 2.0)), int(round((nw - w) / 2.0))
        rgb = rgb[top:top + h, left:left + w]
    else:
        rgb = resize(rgb, h, w)
    mean = np.asarray(metadata.mean, np.float32)
    std = np.asarray(metadata.std, np.float32)
    chw = ((rgb - mean) / std).transpose(2, 0, 1)
    return np.ascontiguousarray(chw[None], dtype=np.float32)
