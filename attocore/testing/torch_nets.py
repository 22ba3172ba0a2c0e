"""Small CNNs defined here (no downloads) for the ONNX import tests and the benchmark:
MobileNet-V2 (width 1.0, 224) as in Sandler et al. 2018, MobileNet-V3 small and large (Howard
et al. 2019) and EfficientNet-B0 (Tan and Le 2019) with torchvision's layer tables, torchvision's
ShuffleNet-V2 x1.0 (Ma et al. 2018), SqueezeNet 1.1 (Iandola et al. 2016) and ResNet-18 (He et
al. 2016), a small ResNet, blocks whose 1x1 conv adds its own input, and an FPN (Lin et al.
2017) on an AttoNet backbone. The detectors (YOLOv8n, DBNet) are in detector_nets."""
import warnings

import torch
from torch import nn


def _conv_bn(cin, cout, k, stride, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [_conv_bn(cin, hidden, 1, 1)]
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden), _conv_bn(hidden, cout, 1, 1, act=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers, cin = [_conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, 1280, 1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.classifier(torch.flatten(x, 1))


def make_divisible(v, divisor=8):
    """torchvision's channel rounding for MobileNet-V3 and EfficientNet."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def _conv_bn_act(cin, cout, k, stride, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """Global pool, 1x1 down, activation, 1x1 up, gate, scale: the channels reweighted."""
    def __init__(self, channels, squeezed, act, gate):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(channels, squeezed, 1), nn.Conv2d(squeezed, channels, 1)
        self.act, self.gate = act(), gate()

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class MobileNetV3Block(nn.Module):
    def __init__(self, cin, k, expanded, cout, se, act, stride):
        super().__init__()
        act = nn.Hardswish if act == "HS" else nn.ReLU
        layers = [] if expanded == cin else [_conv_bn_act(cin, expanded, 1, 1, act=act)]
        layers.append(_conv_bn_act(expanded, expanded, k, stride, groups=expanded, act=act))
        if se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4), nn.ReLU, nn.Hardsigmoid))
        layers.append(_conv_bn_act(expanded, cout, 1, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV3(nn.Module):
    # (input channels, kernel, expanded channels, output channels, squeeze-excite, activation, stride)
    SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
             (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
             (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
             (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1)]
    LARGE = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
             (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
             (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
             (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
             (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1)]

    def __init__(self, size="small", num_classes=1000):
        super().__init__()
        table, hidden = (self.SMALL, 1024) if size == "small" else (self.LARGE, 1280)
        layers = [_conv_bn_act(3, 16, 3, 2, act=nn.Hardswish)] + [MobileNetV3Block(*row) for row in table]
        last = 6 * table[-1][3]
        layers.append(_conv_bn_act(table[-1][3], last, 1, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(last, hidden), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


class MBConv(nn.Module):
    def __init__(self, cin, cout, k, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [_conv_bn_act(cin, hidden, 1, 1, act=nn.SiLU)]
        layers += [_conv_bn_act(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
                   SqueezeExcitation(hidden, max(1, cin // 4), nn.SiLU, nn.Sigmoid), _conv_bn_act(hidden, cout, 1, 1)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


class EfficientNetB0(nn.Module):
    # (expand ratio, kernel, stride, input channels, output channels, layers)
    STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [_conv_bn_act(3, 32, 3, 2, act=nn.SiLU)]
        for expand, k, stride, cin, cout, n in self.STAGES:
            for i in range(n):
                layers.append(MBConv(cin if i == 0 else cout, cout, k, stride if i == 0 else 1, expand))
        layers.append(_conv_bn_act(320, 1280, 1, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(y + (self.down(x) if self.down is not None else x))


class SmallResNet(nn.Module):
    """ResNet-10-like: 7x7 stem, max pool, four stages of one basic block, avg pool, FC."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        self.stages = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
                                    BasicBlock(64, 64, 2))
        self.pool = nn.AvgPool2d(2, 2)  # exercises AveragePool before the global pool
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class ResNet18(nn.Module):
    """torchvision's resnet18: 7x7/2 stem, 3x3/2 max pool, BasicBlocks [2, 2, 2, 2] of 64, 128,
    256 and 512 channels (1x1/2 conv + BN shortcut where the shape changes), avg pool, FC."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for i, c in enumerate((64, 128, 256, 512)):
            blocks += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
            cin = c
        self.stages = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.stages(self.stem(x)), 1)
        return self.fc(torch.flatten(x, 1))


def channel_shuffle(x, groups):
    """torchvision's: view as (N, groups, C / groups, H, W), swap axes 1 and 2, view back."""
    n, c, h, w = x.size()
    x = x.view(n, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(n, -1, h, w)


class ShuffleUnit(nn.Module):
    """ShuffleNet-V2's unit (torchvision's InvertedResidual): stride 1 splits the channels in
    two halves and transforms one; stride 2 transforms the input twice (a depthwise 3x3/2
    branch and a 1x1-dw3x3/2-1x1 branch); the halves are concatenated and shuffled."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                                         nn.BatchNorm2d(cin), nn.Conv2d(cin, half, 1, bias=False),
                                         nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """torchvision's shufflenet_v2_x1_0: 3x3/2 conv to 24, 3x3/2 max pool, stages of [4, 8, 4]
    units to 116, 232 and 464 channels (the first of each stride 2), 1x1 conv to 1024, global
    mean, FC."""
    STAGES, CHANNELS = (4, 8, 4), (24, 116, 232, 464, 1024)

    def __init__(self, num_classes=1000):
        super().__init__()
        c = self.CHANNELS
        self.conv1 = nn.Sequential(nn.Conv2d(3, c[0], 3, 2, 1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        units, cin = [], c[0]
        for repeats, cout in zip(self.STAGES, c[1:4]):
            units += [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1) for _ in range(repeats - 1)]
            cin = cout
        self.stages = nn.Sequential(*units)
        self.conv5 = nn.Sequential(nn.Conv2d(cin, c[4], 1, bias=False), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True))
        self.fc = nn.Linear(c[4], num_classes)

    def forward(self, x):
        x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
        return self.fc(x.mean([2, 3]))


class Fire(nn.Module):
    """SqueezeNet's module: 1x1 squeeze + ReLU, then 1x1 and 3x3 expands (each + ReLU) concatenated."""

    def __init__(self, cin, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([torch.relu(self.expand1x1(x)), torch.relu(self.expand3x3(x))], 1)


class SqueezeNet11(nn.Module):
    """torchvision's squeezenet1_1: 3x3/2 conv to 64 (no padding), Fire modules between three
    3x3/2 max pools with ceil_mode=True, then dropout, 1x1 conv to the classes, ReLU, global
    average pool. No batch norm."""

    def __init__(self, num_classes=1000):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, num_classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class AttoNetFPN(nn.Module):
    """A feature pyramid (Lin et al. 2017) on an AttoNet backbone cut at strides 8, 16 and 32
    (attocore.torch.attonet(name, features=True)): 1x1 laterals to `channels`, top-down
    nearest 2x upsampling added to the next lateral, a 3x3 smoothing conv on each level.
    Returns the three fused maps (P3, P4, P5), stride 8 first. Input sides must be multiples
    of 32."""

    def __init__(self, name="attonet-d", channels=64):
        super().__init__()
        from attocore.torch import attonet
        self.backbone = attonet(name, features=True)
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in self.backbone.feature_channels)
        self.smooth = nn.ModuleList(nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
                                    for _ in self.backbone.feature_channels)

    def forward(self, x):
        laterals = [conv(f) for conv, f in zip(self.lateral, self.backbone(x))]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + nn.functional.interpolate(laterals[i], scale_factor=2.0, mode="nearest")
        return tuple(s(p) for s, p in zip(self.smooth, laterals))


class SelfResidual(nn.Module):
    """Residual blocks whose 1x1 conv reads its own shortcut: relu(conv1x1(x) + x). The add
    fuses into the conv, which then reads one tensor as both its input and its residual (an
    in-place output over that tensor would corrupt the columns not yet read)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, 2, 1), nn.ReLU())
        self.mix = nn.ModuleList([nn.Conv2d(24, 24, 1) for _ in range(3)])
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.stem(x)
        for conv in self.mix:
            x = torch.relu(conv(x) + x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def randomize(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
    return net.eval()


# The newest opset torch's TorchScript exporter supports; newer ones go through ONNX's own
# version converter (the exporter would write them while warning it does not support them).
TORCHSCRIPT_MAX_OPSET = 20


def export_onnx(net, path, size=224, opset=17, output_names=("logits",)):
    """TorchScript export of one 3-channel image, `size` an int (square) or (height, width);
    output_names names the outputs in order (one per output for a net returning several)."""
    h, w = (size, size) if isinstance(size, int) else size
    with warnings.catch_warnings():  # the TorchScript exporter, chosen on purpose, warns that it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, torch.zeros(1, 3, h, w), str(path), input_names=["image"],
                          output_names=list(output_names), opset_version=min(opset, TORCHSCRIPT_MAX_OPSET),
                          dynamo=False)
    if opset > TORCHSCRIPT_MAX_OPSET:
        import onnx
        from onnx import version_converter
        onnx.save(version_converter.convert_version(onnx.load(str(path)), opset), str(path))
