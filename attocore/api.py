"""attocore.run(): image in, top-k out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .model import Model, load


@dataclass
class Prediction:
    index: int
    label: str
    probability: float


@dataclass
class Result:
    model: str
    top_k: list          # [Prediction], most probable first
    logits: np.ndarray   # (1, classes): this image's
    trained: bool        # False for the zoo's seeded stand-in weights

    def __str__(self) -> str:
        head = f"{self.model}" + ("" if self.trained else " (untrained: seeded random weights)")
        rows = [f"  {i + 1}. {p.label:<24} index {p.index:<4} p={p.probability:.4f}"
                for i, p in enumerate(self.top_k)]
        return "\n".join([head] + rows)


@dataclass
class OutputsResult:
    """What attocore.run gives for a model that is not a classifier (several outputs, or one
    that is not (1, classes)): each output of this image, by name, in graph output order."""
    model: str
    outputs: dict        # output name -> array (1, ...)
    trained: bool

    def __str__(self) -> str:
        head = f"{self.model}: {len(self.outputs)} output{'s' if len(self.outputs) > 1 else ''}" + \
            ("" if self.trained else " (untrained: seeded random weights)")
        rows = [f"  {i}. {name:<24} shape {tuple(a.shape)} min {float(a.min()):.6f} max {float(a.max()):.6f} "
                f"mean {float(a.mean(dtype=np.float64)):.6f}" for i, (name, a) in enumerate(self.outputs.items())]
        return "\n".join([head] + rows)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z.astype(np.float64))
    return e / e.sum(axis=-1, keepdims=True)


def to_tensor(model: Model, image) -> np.ndarray:
    """A float NCHW (or CHW) tensor passes through (checked by Model.run); anything else is an image."""
    if isinstance(image, np.ndarray) and image.dtype != np.uint8:
        if image.dtype != np.float32:
            raise InputError(f"a preprocessed tensor must be float32 (an image array uint8 HxWx3), got {image.dtype}")
        if image.ndim == 3 and not model.takes_sequences:
            if image.shape != model.input_shape:
                hint = (" (an HxWx3 image array must be uint8, 0..255)" if image.shape[-1] == 3 else "")
                raise InputError(f"a float32 tensor must be (N, {', '.join(map(str, model.input_shape))}) or "
                                 f"{model.input_shape}, got shape {image.shape}{hint}")
            image = image[None]
        if (model.takes_features and image.ndim == 1) or (model.takes_sequences and image.ndim == 2):
            image = image[None]  # one feature vector, or one sequence
        return image
    return model.preprocess(image)


def check_top_k(top_k) -> int:
    if isinstance(top_k, bool) or not hasattr(type(top_k), "__index__"):
        raise TypeError(f"top_k must be an int >= 1, not {type(top_k).__name__}")
    k = top_k.__index__()
    if k < 1:
        raise ValueError(f"top_k must be an int >= 1, got {k if abs(k) < 1e12 else 'less'}")
    return k


def run(model, image, top_k: int = 5, backend: str = "native", threads: int = 0, tuned=None,
        precision: str = "fp32"):
    """Classify an image (path, PIL image, HxWx3 uint8 array, or float32 3x224x224) and return
    its Result; a float32 batch (N, 3, 224, 224) with N > 1 returns a list of N Results, one
    per image, in order. top_k: an int >= 1 (more than the classes gives them all). An image
    much smaller than the model's input warns (it is upscaled). precision: as load()'s.

    A model with several outputs, or one whose output is not (N, classes) (feature maps),
    gives an OutputsResult per image instead: each output's array by name (no top-k)."""
    k = check_top_k(top_k)
    m = model if isinstance(model, Model) else load(model, backend=backend, threads=threads, tuned=tuned,
                                                    precision=precision)
    out = m.run(to_tensor(m, image))
    if isinstance(out, tuple) or out.ndim != 2:
        outs = out if isinstance(out, tuple) else (out,)
        results = [OutputsResult(m.name, {n: a[i:i + 1] for n, a in zip(m.output_names, outs)}, m.trained)
                   for i in range(outs[0].shape[0])]
    else:
        results = [_result(m, out[i:i + 1], k) for i in range(out.shape[0])]
    return results[0] if len(results) == 1 else results


def _result(m: Model, logits: np.ndarray, k: int) -> Result:
    probs = softmax(logits[0])
    order = np.argsort(-probs, kind="stable")[:min(k, probs.shape[0])]
    labels = m.labels
    preds = [Prediction(int(i), labels[i] if i < len(labels) else str(i), float(probs[i])) for i in order]
    return Result(m.name, preds, logits, m.trained)
