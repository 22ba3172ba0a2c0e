"""attocore.run(): image in, top-k out."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .model import Model, load
from .preprocess import preprocess


@dataclass
class Prediction:
    index: int
    label: str
    probability: float


@dataclass
class Result:
    model: str
    top_k: list          # [Prediction], most probable first
    logits: np.ndarray   # (N, classes); top_k describes image 0
    trained: bool        # False for the zoo's seeded stand-in weights

    def __str__(self) -> str:
        head = f"{self.model}" + ("" if self.trained else " (untrained: seeded random weights)")
        rows = [f"  {i + 1}. {p.label:<24} index {p.index:<4} p={p.probability:.4f}"
                for i, p in enumerate(self.top_k)]
        return "\n".join([head] + rows)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z.astype(np.float64))
    return e / e.sum(axis=-1, keepdims=True)


def to_tensor(model: Model, image) -> np.ndarray:
    """A float NCHW tensor passes through (checked by Model.run); anything else is an image."""
    if isinstance(image, np.ndarray) and image.dtype != np.uint8:
        if image.ndim == 3:
            image = image[None]
        if image.dtype != np.float32:
            raise InputError(f"a preprocessed tensor must be float32 (an image array uint8 HxWx3), got {image.dtype}")
        return image
    return preprocess(image, model.metadata)


def run(model, image, top_k: int = 5, backend: str = "native", threads: int = 0, tuned=None) -> Result:
    """Classify one image (path, PIL image, HxWx3 uint8 array, or float32 1x3x224x224)."""
    m = model if isinstance(model, Model) else load(model, backend=backend, threads=threads, tuned=tuned)
    logits = m.run(to_tensor(m, image))
    probs = softmax(logits[0])
    k = max(1, min(int(top_k), probs.shape[0]))
    order = np.argsort(-probs, kind="stable")[:k]
    labels = m.labels
    preds = [Prediction(int(i), labels[i] if i < len(labels) else str(i), float(probs[i])) for i in order]
    return Result(m.name, preds, logits, m.trained)
