"""PyTorch side: trainable AttoNets, export to the weight format, validation.

    from attocore.torch import attonet, export, validate
    net = attonet("attonet-d")          # nn.Module: conv + batch norm + ReLU
    export(net, "d.atto")               # folds batch norm, writes weight format v1
    validate(net, "d.atto", inputs)     # max abs / rel error against PyTorch
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import format as fmt
from .. import zoo
from ..errors import FormatError
from . import preprocessing


class ConvBN(nn.Module):
    """Convolution without bias, batch norm, optional ReLU: what people train."""

    def __init__(self, layer: zoo.ConvLayer):
        super().__init__()
        self.conv = nn.Conv2d(layer.cin, layer.cout, layer.kernel, layer.stride, layer.pad,
                              groups=layer.groups, bias=False)
        self.bn = nn.BatchNorm2d(layer.cout)
        self.activation = layer.activation

    def forward(self, x):
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.activation == "relu" else x


class AttoModule(nn.Module):
    def __init__(self, layers: dict, prefix: str):
        super().__init__()
        self.compress = ConvBN(layers[f"{prefix}.compress"])
        self.group = ConvBN(layers[f"{prefix}.group"])
        self.mix = ConvBN(layers[f"{prefix}.mix"])
        self.decompress = ConvBN(layers[f"{prefix}.decompress"])
        proj = layers.get(f"{prefix}.project")
        self.project = ConvBN(proj) if proj else None

    def forward(self, x):
        y = self.decompress(self.mix(self.group(self.compress(x))))
        return torch.relu(y + (self.project(x) if self.project is not None else x))


class AttoNet(nn.Module):
    """The classifier, or with features=True the backbone: forward then returns the outputs of
    the last module at strides 8, 16 and 32 (as the AttoNet-based Mask R-CNN of the paper uses
    them) instead of logits. The backbone has the classifier's modules and names without fc:
    load_state_dict takes a classifier's state dict (its fc weights are dropped), so a trained
    AttoNet can be cut."""

    def __init__(self, net: zoo.NetSpec, num_classes: int = zoo.DEFAULT_CLASSES, features: bool = False):
        super().__init__()
        self.spec = net
        self.num_classes = num_classes
        self.features = features
        layers = {l.name: l for l in zoo.conv_layers(net)}
        self.stem = ConvBN(layers["stem"])
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.blocks = nn.ModuleList(AttoModule(layers, f"m{i}") for i in range(1, len(net.modules) + 1))
        # Index of the last block at each stride (the stem and pool give stride 4).
        stride, last = 4, {}
        for i, m in enumerate(net.modules):
            stride *= m.stride
            last[stride] = i
        self.feature_blocks = tuple(last[s] for s in FEATURE_STRIDES)
        self.feature_channels = tuple(net.modules[i].cout for i in self.feature_blocks)
        if features:
            self.fc = None
            self.register_load_state_dict_pre_hook(_drop_fc)
        else:
            self.fc = nn.Linear(net.modules[-1].cout, num_classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        maps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.feature_blocks:
                maps.append(x)
        if self.features:
            return tuple(maps)
        return self.fc(x.mean(dim=(2, 3)))

    def conv_bns(self):
        """(graph layer name, ConvBN) pairs in the naming zoo.conv_layers uses."""
        yield "stem", self.stem
        for i, block in enumerate(self.blocks, 1):
            for part in ("compress", "group", "mix", "decompress", "project"):
                m = getattr(block, part)
                if m is not None:
                    yield f"m{i}.{part}", m


FEATURE_STRIDES = (8, 16, 32)  # of the maps the backbone (features=True) returns


def _drop_fc(module, state_dict, prefix, *args):
    """A classifier's state dict loads into the backbone: its fc weights are not used."""
    for key in [k for k in state_dict if k.startswith(prefix + "fc.")]:
        del state_dict[key]


def attonet(name: str, num_classes: int = zoo.DEFAULT_CLASSES, features: bool = False) -> AttoNet:
    """A trainable AttoNet ('attonet-a' .. 'attonet-d') with PyTorch's default init; with
    features=True the backbone whose forward returns the (stride 8, 16, 32) feature maps,
    which loads a classifier's state dict."""
    return AttoNet(zoo.spec(name), num_classes, features)


def fold_batch_norm(m: ConvBN):
    """(weight, bias) of the convolution with eval-mode batch norm folded in, in float64."""
    w = m.conv.weight.detach().double()
    bn = m.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = bn.bias.detach().double() - bn.running_mean.double() * scale
    w = w * scale.reshape(-1, 1, 1, 1)
    return w.float().numpy(), bias.float().numpy()


def to_graph(module: AttoNet, labels=None, extra=None, outputs=None):
    """The graph of an AttoNet, batch norm folded. outputs: graph tensor names to make the
    graph's outputs instead of the logits (e.g. "m3.out"; the ops only they need are kept). A
    module whose forward returns feature maps (`module.features` true) gets its maps at
    strides 8, 16 and 32 (the last module output at each) unless outputs says otherwise."""
    params = {name: fold_batch_norm(m) for name, m in module.conv_bns()}
    classes = getattr(module, "num_classes", zoo.DEFAULT_CLASSES)
    fc = getattr(module, "fc", None)
    if isinstance(fc, nn.Linear):
        params["fc"] = (fc.weight.detach().float().numpy(), fc.bias.detach().float().numpy())
        classes = fc.out_features
    else:  # a feature extractor without a classifier: a placeholder, pruned with the head below
        width = module.spec.modules[-1].cout
        params["fc"] = (np.zeros((1, width), np.float32), np.zeros(1, np.float32))
        classes = 1
    info = {"trained": "true", "source": "attocore.torch.export"}
    info.update(extra or {})
    graph = zoo.build_graph(module.spec, params, classes, labels if outputs is None and fc is not None else None, info)
    if outputs is None and getattr(module, "features", False):
        blocks = getattr(module, "feature_blocks", None)  # the blocks whose outputs forward returns
        outputs = [f"m{i + 1}.out" for i in blocks] if blocks is not None else stride_outputs(graph, FEATURE_STRIDES)
    if outputs is None and not isinstance(fc, nn.Linear):
        raise TypeError("this AttoNet has no classifier (fc): give outputs=[tensor names] to export its feature maps")
    return graph if outputs is None else with_outputs(graph, outputs)


def stride_outputs(graph, strides=FEATURE_STRIDES) -> list:
    """The last module output ("m<i>.out") at each of these strides (input size / map size)."""
    h = graph.metadata.input_shape[1]
    found = {}
    for op in graph.ops:
        out = graph.tensors[op.outputs[0]]
        if op.type == "add" and len(out.shape) == 4 and out.shape[2] * (h // out.shape[2]) == h:
            found[h // out.shape[2]] = out.name
    missing = [s for s in strides if s not in found]
    if missing:
        raise ValueError(f"no module output at stride {missing} (strides present: {sorted(found)})")
    return [found[s] for s in strides]


def with_outputs(graph, outputs):
    """The graph with these tensors as its outputs, in order, and only the ops they need."""
    outputs = list(outputs)
    unknown = [n for n in outputs if n not in graph.tensors or graph.tensors[n].is_constant or n in graph.inputs]
    if unknown or not outputs or len(set(outputs)) != len(outputs):
        raise ValueError(f"outputs must be distinct computed tensors of the graph, got {outputs} "
                         f"(unknown or not computed: {unknown})")
    needed, ops = set(outputs), []
    for op in reversed(graph.ops):
        if op.outputs[0] in needed:
            ops.append(op)
            needed.update(op.inputs)
    ops.reverse()
    used = {n for op in ops for n in op.inputs + op.outputs} | set(graph.inputs)
    tensors = {k: v for k, v in graph.tensors.items() if k in used}
    md = graph.metadata
    first = tensors[outputs[0]]
    labels = md.labels if md.labels and len(md.labels) == int(np.prod(first.shape[1:])) else ()
    meta = type(md)(md.name, md.input_shape, md.mean, md.std, md.resize, labels, dict(md.extra))
    return type(graph)(meta, tensors, ops, list(graph.inputs), outputs)


def export(module: AttoNet, path, labels=None, extra=None, *, name=None, mean=None, std=None, resize=None,
           outputs=None) -> None:
    """Fold batch norm and write the weight file (format v1), atomically: nothing is left at
    `path` if anything fails. outputs: as to_graph (a backbone, attonet(name, features=True),
    exports its stride-8/16/32 maps, one graph output each, in the order its forward returns
    them).

    The file carries the preprocessing attocore.run applies, as for attocore.onnx.convert:
    labels (one per class), mean and std (per RGB channel, on the [0, 1] scale; default
    ImageNet's), resize (the shorter side before the centre crop, default 256; 0 resizes
    straight to 224x224), name (default the architecture's)."""
    if not isinstance(module, AttoNet):
        raise TypeError("export() takes an attocore.torch.AttoNet (build one with attonet(name))")
    fmt.check_output_path(path)
    graph = to_graph(module, labels, extra, outputs)
    preprocessing.apply(graph.metadata, name=name, mean=mean, std=std, resize=resize)
    fmt.save(graph, path)


def load_state_dict(name: str, state_dict_path, num_classes=None) -> AttoNet:
    """An AttoNet with the weights of a state dict saved by torch.save(net.state_dict()).
    num_classes=None reads the class count from the state dict; a different one given, a
    file that is no state dict, or one of another architecture raise FormatError saying so."""
    path = os.fsdecode(os.fspath(state_dict_path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"state dict '{path}' is a directory, not a file saved by torch.save")
    state = _read_state_dict(path)
    classes = _class_count(state)
    if num_classes is None:
        num_classes = classes if classes is not None else zoo.DEFAULT_CLASSES
    elif classes is not None and classes != num_classes:
        raise FormatError(f"state dict '{path}' has {classes} classes, not {num_classes}: pass --num-classes "
                          f"{classes} (num_classes={classes}), or leave it out to use the state dict's")
    net = attonet(name, num_classes)
    if not _matches(net, state):
        fits = [n for n in zoo.NETS if n != zoo.spec(name).name and _matches(attonet(n, num_classes), state)]
        hint = f"it is one of {fits[0]}: give that name" if fits else "its keys and shapes match no zoo architecture"
        raise FormatError(f"state dict '{path}' is not one of {zoo.spec(name).name} ({hint})")
    net.load_state_dict(state)
    return net.eval()


def _read_state_dict(path: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refuses a pickled object that is not plain tensors and containers.
        if "weights only" in str(e).lower() or "weights_only" in str(e):
            raise FormatError(f"'{path}' holds a pickled object, not a state dict (a whole model?): save "
                              f"torch.save(net.state_dict(), PATH) and export that") from None
        raise FormatError(f"'{path}' is not a state dict saved by torch.save (it does not unpickle)") from None
    except OSError:
        raise
    except Exception as e:  # the unpickler fails on garbage with whatever error the bytes lead it to
        raise FormatError(f"'{path}' is not a state dict saved by torch.save ({type(e).__name__})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FormatError(f"'{path}' holds a {type(state).__name__}, not a state dict (a dict of tensors "
                          f"saved by torch.save(net.state_dict(), PATH))")
    return state


def _class_count(state: dict):
    w = state.get("fc.weight")
    return int(w.shape[0]) if isinstance(w, torch.Tensor) and w.ndim == 2 else None


def _matches(net: nn.Module, state: dict) -> bool:
    mine = net.state_dict()
    return mine.keys() == state.keys() and all(mine[k].shape == state[k].shape for k in mine)


@dataclass
class Validation:
    max_abs_error: float
    max_rel_error: float  # max abs error / max |logit| of PyTorch
    max_abs_logit: float

    def within(self, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
        return self.max_abs_error <= rtol * self.max_abs_logit + atol


def validate(module: nn.Module, model, inputs) -> Validation:
    """Run PyTorch (eval mode) and attocore on the same float32 NCHW inputs; compare logits."""
    from ..model import load
    m = load(model)
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    module.eval()
    with torch.no_grad():
        ref = module(torch.from_numpy(x))
    refs = [t.numpy() for t in ref] if isinstance(ref, (tuple, list)) else [ref.numpy()]
    got = m.run(x)
    gots = list(got) if isinstance(got, tuple) else [got]
    if len(gots) != len(refs) or any(a.shape != b.shape for a, b in zip(gots, refs)):
        raise ValueError(f"the model's outputs {[a.shape for a in gots]} do not match the module's "
                         f"{[b.shape for b in refs]}")
    err = max(float(np.abs(a - b).max()) for a, b in zip(gots, refs))  # over every output
    peak = max(float(np.abs(b).max()) for b in refs)
    return Validation(err, err / peak if peak else float("inf"), peak)
