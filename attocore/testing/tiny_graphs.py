"""The smallest graphs worth tuning: what the RPC farm's test and the emulated board's demo
tune, where every measurement costs (seconds each under qemu)."""
import numpy as np

from ..graph import Graph, Metadata, Op, Tensor


def three_task_graph(name: str, seed: int) -> Graph:
    """A 3x3 stride-2 convolution with ReLU, the global pool and the classifier on a 16x16
    input: three TVM tasks, so a tuning session costs three measurement rounds."""
    rng = np.random.default_rng(seed)
    t = {"input": Tensor("input", (1, 3, 16, 16)), "conv.out": Tensor("conv.out", (1, 8, 8, 8)),
         "gap.out": Tensor("gap.out", (1, 8)), "logits": Tensor("logits", (1, 5))}
    for tensor, shape in (("conv.weight", (8, 3, 3, 3)), ("conv.bias", (8,)), ("fc.weight", (5, 8)), ("fc.bias", (5,))):
        t[tensor] = Tensor(tensor, shape, (0.3 * rng.standard_normal(shape)).astype(np.float32))
    ops = [Op("conv2d", "conv", ["input", "conv.weight", "conv.bias"], ["conv.out"],
              {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1, 1, 1), "dilation": (1, 1), "groups": (1,)}, "relu"),
           Op("global_avgpool", "gap", ["conv.out"], ["gap.out"]),
           Op("fully_connected", "fc", ["gap.out", "fc.weight", "fc.bias"], ["logits"])]
    md = Metadata(name=name, input_shape=(3, 16, 16), labels=tuple(f"c{i}" for i in range(5)), resize=0)
    return Graph(md, t, ops, ["input"], ["logits"])
