"""PyTorch side: trainable AttoNets, export to the weight format, validation.

    from attocore.torch import attonet, export, validate
    net = attonet("attonet-d")          # nn.Module: conv + batch norm + ReLU
    export(net, "d.atto")               # folds batch norm, writes weight format v1
    validate(net, "d.atto", inputs)     # max abs / rel error against PyTorch
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import format as fmt
from .. import zoo


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
    def __init__(self, net: zoo.NetSpec, num_classes: int = zoo.DEFAULT_CLASSES):
        super().__init__()
        self.spec = net
        self.num_classes = num_classes
        layers = {l.name: l for l in zoo.conv_layers(net)}
        self.stem = ConvBN(layers["stem"])
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.blocks = nn.ModuleList(AttoModule(layers, f"m{i}") for i in range(1, len(net.modules) + 1))
        self.fc = nn.Linear(net.modules[-1].cout, num_classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))

    def conv_bns(self):
        """(graph layer name, ConvBN) pairs in the naming zoo.conv_layers uses."""
        yield "stem", self.stem
        for i, block in enumerate(self.blocks, 1):
            for part in ("compress", "group", "mix", "decompress", "project"):
                m = getattr(block, part)
                if m is not None:
                    yield f"m{i}.{part}", m


def attonet(name: str, num_classes: int = zoo.DEFAULT_CLASSES) -> AttoNet:
    """A trainable AttoNet ('attonet-a' .. 'attonet-d') with PyTorch's default init."""
    return AttoNet(zoo.spec(name), num_classes)


def fold_batch_norm(m: ConvBN):
    """(weight, bias) of the convolution with eval-mode batch norm folded in, in float64."""
    w = m.conv.weight.detach().double()
    bn = m.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.double() + bn.eps)
    bias = bn.bias.detach().double() - bn.running_mean.double() * scale
    w = w * scale.reshape(-1, 1, 1, 1)
    return w.float().numpy(), bias.float().numpy()


def to_graph(module: AttoNet, labels=None, extra=None):
    params = {name: fold_batch_norm(m) for name, m in module.conv_bns()}
    params["fc"] = (module.fc.weight.detach().float().numpy(), module.fc.bias.detach().float().numpy())
    info = {"trained": "true", "source": "attocore.torch.export"}
    info.update(extra or {})
    return zoo.build_graph(module.spec, params, module.num_classes, labels, info)


def export(module: AttoNet, path, labels=None, extra=None) -> None:
    """Fold batch norm and write the weight file (format v1)."""
    if not isinstance(module, AttoNet):
        raise TypeError("export() takes an attocore.torch.AttoNet (build one with attonet(name))")
    fmt.save(to_graph(module, labels, extra), path)


def load_state_dict(name: str, state_dict_path, num_classes: int = zoo.DEFAULT_CLASSES) -> AttoNet:
    """An AttoNet with the weights of a state dict saved by torch.save(net.state_dict())."""
    net = attonet(name, num_classes)
    state = torch.load(state_dict_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.eval()


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
        ref = module(torch.from_numpy(x)).numpy()
    got = m.run(x)
    err = float(np.abs(got - ref).max())
    peak = float(np.abs(ref).max())
    return Validation(err, err / peak if peak else float("inf"), peak)
