"""Preprocessing against independent implementations: torch's antialiased bilinear resize
and a plain numpy centre crop / normalisation."""
import numpy as np
import pytest
import torch
from PIL import Image

import attocore
from attocore.graph import Metadata
from attocore.preprocess import preprocess, resize


@pytest.mark.parametrize("src,dst", [((300, 400), (256, 341)), ((57, 91), (224, 224)), ((20, 30), (224, 336)),
                                     ((240, 320), (256, 341))])
def test_resize_matches_torch_antialiased_bilinear(rng, src, dst):
    img = rng.random(src + (3,), dtype=np.float32)
    ours = resize(img, *dst)
    ref = torch.nn.functional.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None], size=dst, mode="bilinear",
                                          align_corners=False, antialias=True)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, ref, atol=5e-5)  # float32 rounding of two filter passes


def reference_preprocess(rgb_uint8, md):
    """Independent numpy pipeline, resizing with torch (checked above)."""
    h0, w0 = rgb_uint8.shape[:2]
    s = md.resize
    nh, nw = (s, int(s * w0 / h0)) if h0 <= w0 else (int(s * h0 / w0), s)
    t = torch.from_numpy(rgb_uint8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    r = torch.nn.functional.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)[0]
    c, h, w = md.input_shape
    top, left = int(round((nh - h) / 2)), int(round((nw - w) / 2))
    crop = r[:, top:top + h, left:left + w].numpy()
    return ((crop - np.array(md.mean, np.float32)[:, None, None]) / np.array(md.std, np.float32)[:, None, None])[None]


@pytest.mark.parametrize("size", [(240, 320), (480, 300), (256, 256), (224, 500)])
def test_preprocess_pipeline(rng, size):
    img = rng.integers(0, 256, size + (3,), dtype=np.uint8)
    md = Metadata()
    got = preprocess(img, md)
    assert got.shape == (1, 3, 224, 224) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_preprocess(img, md), atol=1e-4)


def test_all_image_kinds_agree(tmp_path, rng):
    img = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    path = tmp_path / "img.png"
    Image.fromarray(img).save(path)
    model = attocore.load("attonet-d")
    results = [attocore.run(model, src, top_k=3) for src in (str(path), Image.open(path), img)]
    tensor = preprocess(img, model.metadata)
    results.append(attocore.run(model, tensor, top_k=3))
    for r in results[1:]:
        np.testing.assert_array_equal(r.logits, results[0].logits)
        assert [p.index for p in r.top_k] == [p.index for p in results[0].top_k]
    r = results[0]
    assert len(r.top_k) == 3 and not r.trained
    probs = [p.probability for p in r.top_k]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    assert r.top_k[0].index == int(np.argmax(r.logits[0]))
