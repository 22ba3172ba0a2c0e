import os

import numpy as np
import pytest

import attocore

NETS = ["attonet-a", "attonet-b", "attonet-c", "attonet-d"]
DATA = os.path.join(os.path.dirname(__file__), "data")


def pytest_configure(config):
    try:
        from attocore import _core  # noqa: F401
    except ImportError as e:
        raise pytest.UsageError(f"attocore's native module is not built ({e}); run 'pip install .[test]' first "
                                f"(imported attocore from {attocore.__file__})")


def randomize_batch_norm(net, seed):
    """Random statistics and affine parameters, so folding is really exercised."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return net.eval()


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """{net: (torch module, weight file path)} with random weights and batch-norm statistics."""
    import torch
    from attocore.torch import attonet, export
    out = {}
    for i, name in enumerate(NETS):
        torch.manual_seed(100 + i)
        net = randomize_batch_norm(attonet(name), 200 + i)
        path = tmp_path_factory.mktemp("models") / f"{name}.atto"
        export(net, path)
        out[name] = (net, str(path))
    return out


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def cpp_build(tmp_path_factory):
    """The C++ tree (core, C API, attocore-run, C++ tests) built natively without Python."""
    from cmake_build import build
    d = tmp_path_factory.mktemp("cpp-build")
    build(d, "-DCMAKE_BUILD_TYPE=Release")
    return d


def ort_run(path, x):
    """ONNX Runtime's output for each image of batch x in turn (one thread, CPU)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(x.shape[0])])
