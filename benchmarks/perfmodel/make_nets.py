"""Writes the nets arm_model.py estimates as .atto files into a directory (the board kit's
models): AttoNet-A..D from the zoo (seeded weights) and MobileNet-V2 exported from
attocore/testing/torch_nets.py through ONNX. Usage: python make_nets.py DIR [NET ...]"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perfmodel import work  # noqa: E402

NETS = ["attonet-a", "attonet-b", "attonet-c", "attonet-d", "mobilenet-v2"]


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    out, nets = argv[0], argv[1:] or NETS
    os.makedirs(out, exist_ok=True)
    from attocore import format as fmt
    from attocore import zoo
    for net in nets:
        dest = os.path.join(out, net + ".atto")
        if zoo.is_zoo_name(net):
            fmt.save(zoo.seeded_graph(net), dest)
        else:
            shutil.copyfile(work.resolve_net(net), dest)
        print(f"wrote {dest}")


if __name__ == "__main__":
    main(sys.argv[1:])
