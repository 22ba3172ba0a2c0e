"""The zoo against ../shared/attonet.md: multiply-adds per net, parameter counts against
PyTorch's own count of the same architecture, and the summary command."""
import subprocess
import sys

import pytest

import attocore
from attocore import zoo
from conftest import NETS

# Total multiply-adds (millions) from the table in attonet.md.
SPEC_MMACS = {"attonet-a": 578.4, "attonet-b": 402.5, "attonet-c": 222.8, "attonet-d": 100.1}


@pytest.mark.parametrize("name", NETS)
def test_macs_match_spec(name):
    s = attocore.summary(name)
    assert abs(s.macs / 1e6 - SPEC_MMACS[name]) < 0.06
    assert len([r for r in s.rows if r.op == "conv2d"]) == 1 + 16 * 4 + 4  # stem, 16 modules, 4 projections


@pytest.mark.parametrize("name", NETS)
def test_params_match_pytorch_count(name):
    from attocore.torch import attonet
    net = attonet(name)
    # Folded convolution: weight + a bias per output channel (the batch norm's place).
    expected = sum(m.conv.weight.numel() + m.conv.out_channels for _, m in net.conv_bns())
    expected += sum(p.numel() for p in net.fc.parameters())
    assert attocore.summary(name).params == expected


def test_grouped_layer_is_channel_multiplier():
    for net in zoo.NETS.values():
        for layer in zoo.conv_layers(net):
            if layer.name.endswith(".group"):
                assert layer.groups == layer.cin and layer.cout % layer.cin == 0 and layer.kernel == 3


def test_summary_cli_prints_table(tmp_path):
    out = subprocess.run([sys.executable, "-m", "attocore", "summary", "attonet-c"], capture_output=True,
                         text=True, check=True, cwd=tmp_path).stdout
    assert "m16.decompress" in out and "parameters: 1,057,130" in out
