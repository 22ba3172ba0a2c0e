"""Weight format v1: round trips, zero-copy reading, zoo models, export from state dicts."""
import numpy as np
import pytest
import torch

import attocore
from attocore import format as fmt
from attocore import zoo
from conftest import NETS


def graphs_equal(a, b):
    ma, mb = a.metadata, b.metadata
    assert np.array_equal(np.float32(ma.mean), np.float32(mb.mean)) and np.array_equal(np.float32(ma.std), mb.std)
    assert (ma.name, ma.input_shape, ma.resize, ma.labels, ma.extra) == (mb.name, mb.input_shape, mb.resize,
                                                                          mb.labels, mb.extra)
    assert list(a.tensors) == list(b.tensors)
    for name, t in a.tensors.items():
        u = b.tensors[name]
        assert tuple(t.shape) == tuple(u.shape) and t.is_constant == u.is_constant
        if t.is_constant:
            assert np.array_equal(t.data, u.data)
    assert [(o.type, o.name, o.inputs, o.outputs, o.attrs, o.activation) for o in a.ops] == \
           [(o.type, o.name, o.inputs, o.outputs, o.attrs, o.activation) for o in b.ops]
    assert (a.inputs, a.outputs) == (b.inputs, b.outputs)


@pytest.mark.parametrize("name", NETS)
def test_round_trip(tmp_path, name):
    g = zoo.seeded_graph(name, seed=3)
    g.metadata.labels = tuple(f"label {i} é" for i in range(51))
    path = tmp_path / "m.atto"
    fmt.save(g, path)
    graphs_equal(g, fmt.load(path))
    data = path.read_bytes()
    assert data[:8] == b"ATTOCORE"
    assert fmt.encode(fmt.decode(data)) == data  # byte-exact re-encoding


def test_constants_are_aligned_zero_copy_views(tmp_path):
    path = tmp_path / "d.atto"
    fmt.save(zoo.seeded_graph("attonet-d"), path)
    g = fmt.load(path)
    for t in g.tensors.values():
        if t.is_constant:
            assert not t.data.flags.writeable and not t.data.flags.owndata
            assert t.data.ctypes.data % fmt.ALIGN == 0


def test_native_loads_file_and_bytes_identically(tmp_path, rng):
    path = tmp_path / "c.atto"
    fmt.save(zoo.seeded_graph("attonet-c"), path)
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    assert np.array_equal(attocore.load(str(path)).run(x), attocore.load(path.read_bytes()).run(x))


def test_zoo_name_is_deterministic_and_untrained(rng):
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    a, b = attocore.load("attonet-d"), attocore.load("AttoNet_D")
    assert np.array_equal(a.run(x), b.run(x))
    assert not a.trained and a.metadata.extra["trained"] == "false"


def test_export_from_state_dict_via_cli(tmp_path, rng):
    from attocore.cli import main
    from attocore.torch import attonet
    from conftest import randomize_batch_norm
    net = randomize_batch_norm(attonet("attonet-d", num_classes=10), 5)
    sd = tmp_path / "d.pt"
    torch.save(net.state_dict(), sd)
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(f"thing{i}" for i in range(10)))
    out = tmp_path / "d.atto"
    assert main(["export", "attonet-d", str(sd), str(out), "--num-classes", "10", "--labels", str(labels)]) == 0
    m = attocore.load(out)
    assert m.labels[3] == "thing3" and m.trained
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.run(x) - ref).max() <= 1e-4 * np.abs(ref).max() + 1e-5
