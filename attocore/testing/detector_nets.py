"""Detectors people export, defined here with random weights (no downloads), beside the
classifiers of torch_nets: a YOLOv8n-shaped object detector (ultralytics' YOLOv8n layer table,
depth 0.33, width 0.25) and a DB text detector (Liao et al. 2020, DBNet as in PaddleOCR's
mobile det model: MobileNet-V3-large backbone, DBFPN, DB head). Both return feature maps
(NCHW); box decoding is left to post-processing."""
import torch
from torch import nn

from .torch_nets import MobileNetV3


class Conv(nn.Module):
    """ultralytics' Conv: conv (padding k // 2, no bias), batch norm (eps 1e-3), SiLU."""

    def __init__(self, cin, cout, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut):
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """1x1 conv to 2c, split into two halves, n bottlenecks chained on the second half, all
    of it (both halves and every bottleneck's output) concatenated, 1x1 conv."""

    def __init__(self, cin, cout, n=1, shortcut=False):
        super().__init__()
        self.c = cout // 2
        self.cv1 = Conv(cin, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, cout, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    """1x1 conv to half, three chained 5x5 max pools (stride 1, pad 2), the four concatenated, 1x1 conv."""

    def __init__(self, cin, cout, k=5):
        super().__init__()
        c = cin // 2
        self.cv1, self.cv2 = Conv(cin, c, 1), Conv(4 * c, cout, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """Per level: cv2 (two 3x3 Convs, 1x1 conv to 4 * reg_max box distribution channels) and
    cv3 (two 3x3 Convs, 1x1 conv to the class logits), concatenated on channels."""

    def __init__(self, nc, ch, reg_max=16):
        super().__init__()
        c2, c3 = max(16, ch[0] // 4, 4 * reg_max), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
                                 for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in ch)

    def forward(self, xs):
        return tuple(torch.cat((box(x), cls(x)), 1) for x, box, cls in zip(xs, self.cv2, self.cv3))


class DFL(nn.Module):
    """ultralytics' distribution focal loss decoding: each box side's reg_max bins softmaxed
    and collapsed to their expected bin by a fixed 1x1 convolution (weights 0 .. reg_max - 1)."""

    def __init__(self, reg_max=16):
        super().__init__()
        self.reg_max = reg_max
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(reg_max, dtype=torch.float32).view(1, reg_max, 1, 1)

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.reg_max, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(feats, strides, offset=0.5):
    """ultralytics' anchor points (the cell centres of every level, x then y) and each one's
    stride, as (2, anchors) and (1, anchors)."""
    points, stride_of = [], []
    for f, stride in zip(feats, strides):
        h, w = f.shape[2:]
        sy, sx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + offset,
                                torch.arange(w, dtype=torch.float32) + offset, indexing="ij")
        points.append(torch.stack((sx, sy), -1).view(-1, 2))
        stride_of.append(torch.full((h * w, 1), float(stride)))
    return torch.cat(points).transpose(0, 1), torch.cat(stride_of).transpose(0, 1)


class YOLOv8n(nn.Module):
    """ultralytics' YOLOv8n (yolov8.yaml at scale n): Conv/C2f backbone to stride 32, SPPF, a
    PAN neck (nearest 2x upsampling + concat top-down, 3x3/2 Conv + concat bottom-up, C2f
    after each concat) and the Detect head on strides 8, 16 and 32.

    forward returns the three raw per-level head maps, (1, 4 * 16 + nc, H / 8, W / 8), then
    H / 16 and H / 32 (144 channels for the 80 COCO classes), as edge deployments commonly
    export it: decoding (the DFL softmax over the 16 bins of each box side, anchor points and
    strides, sigmoid of the class logits, NMS) is left to post-processing.

    With decode=True it ends as ultralytics' own export does (Detect's inference path): the
    maps flattened and joined along the anchors, the DFL, the boxes as centre and size in
    pixels, the class scores through a sigmoid: one (1, 4 + nc, anchors) tensor."""

    def __init__(self, nc=80, decode=False):
        super().__init__()
        self.nc, self.decode = nc, decode
        if decode:
            self.dfl = DFL(16)
        self.b0, self.b1, self.b2 = Conv(3, 16, 3, 2), Conv(16, 32, 3, 2), C2f(32, 32, 1, True)
        self.b3, self.b4 = Conv(32, 64, 3, 2), C2f(64, 64, 2, True)  # P3/8
        self.b5, self.b6 = Conv(64, 128, 3, 2), C2f(128, 128, 2, True)  # P4/16
        self.b7, self.b8, self.b9 = Conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256)  # P5/32
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.h12 = C2f(256 + 128, 128)
        self.h15 = C2f(128 + 64, 64)
        self.h16, self.h18 = Conv(64, 64, 3, 2), C2f(64 + 128, 128)
        self.h19, self.h21 = Conv(128, 128, 3, 2), C2f(128 + 256, 256)
        self.detect = Detect(nc, (64, 128, 256))

    def forward(self, x):
        p3 = self.b4(self.b3(self.b2(self.b1(self.b0(x)))))
        p4 = self.b6(self.b5(p3))
        p5 = self.b9(self.b8(self.b7(p4)))
        h12 = self.h12(torch.cat([self.up(p5), p4], 1))
        h15 = self.h15(torch.cat([self.up(h12), p3], 1))
        h18 = self.h18(torch.cat([self.h16(h15), h12], 1))
        h21 = self.h21(torch.cat([self.h19(h18), p5], 1))
        maps = self.detect([h15, h18, h21])
        return self._decoded(maps) if self.decode else maps

    def _decoded(self, maps):
        """ultralytics' Detect._inference with dist2bbox(xywh=True)."""
        n = maps[0].shape[0]
        x = torch.cat([m.view(n, 4 * 16 + self.nc, -1) for m in maps], 2)
        anchors, strides = make_anchors(maps, (8, 16, 32))
        box, cls = x.split((4 * 16, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = anchors.unsqueeze(0) - lt, anchors.unsqueeze(0) + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * strides
        return torch.cat((dbox, cls.sigmoid()), 1)


class DBNet(nn.Module):
    """DB text detector (Liao et al. 2020) as in PaddleOCR's mobile det model: MobileNet-V3-
    large backbone (torchvision's table) giving the outputs of its last block at strides 4, 8,
    16 and the final 1x1 conv at 32; DBFPN: 1x1 laterals (no bias) to `inner` channels, top-
    down nearest 2x upsampling + add, a 3x3 conv to inner / 4 on each level, upsampled to
    stride 4 (nearest x8, x4, x2) and concatenated; the DB head's probability branch: 3x3
    conv-BN-ReLU to inner / 4, ConvTranspose 2x2/2-BN-ReLU, ConvTranspose 2x2/2, sigmoid.
    Returns the (N, 1, H, W) shrink probability map; the threshold branch (training only) and
    the box extraction are left out. Input sides must be multiples of 32."""
    TAPS = (3, 6, 12, 16)  # features[i] outputs at strides 4, 8, 16, 32

    def __init__(self, inner=96):
        super().__init__()
        self.backbone = MobileNetV3("large").features
        chans = [self.backbone[i].block[-1][0].out_channels for i in self.TAPS[:3]] + [self.backbone[-1][0].out_channels]
        self.lateral = nn.ModuleList(nn.Conv2d(c, inner, 1, bias=False) for c in chans)
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, 1, 1, bias=False) for _ in chans)
        q = inner // 4
        self.head = nn.Sequential(nn.Conv2d(inner, q, 3, 1, 1, bias=False), nn.BatchNorm2d(q), nn.ReLU(inplace=True),
                                  nn.ConvTranspose2d(q, q, 2, 2), nn.BatchNorm2d(q), nn.ReLU(inplace=True),
                                  nn.ConvTranspose2d(q, 1, 2, 2), nn.Sigmoid())

    def forward(self, x):
        feats = []
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            if i in self.TAPS:
                feats.append(x)
        lat = [conv(f) for conv, f in zip(self.lateral, feats)]
        for i in range(3, 0, -1):
            lat[i - 1] = lat[i - 1] + nn.functional.interpolate(lat[i], scale_factor=2.0, mode="nearest")
        p = [conv(l) for conv, l in zip(self.smooth, lat)]
        p = [p[0]] + [nn.functional.interpolate(q, scale_factor=2.0 ** i, mode="nearest") for i, q in enumerate(p[1:], 1)]
        return self.head(torch.cat(p[::-1], 1))
