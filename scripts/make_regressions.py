"""Writes tests/data/regressions/: one small file per bug found by review or fuzzing, and
expected.json with what every loader must do with it (tests/test_hardening.py runs each file
through attocore.load, attocore.format, attocore.capi, `attocore run` and attocore-run, in
subprocesses).

Each file is tests/data/tiny.atto changed in one way, with the checksum recomputed so the
change reaches the checks behind it. Files the fuzzers found are kept as found (copied in by
hand, with an entry added to EXTRA below).

    python scripts/make_regressions.py        # needs attocore installed
"""
import json
import os
import struct

import numpy as np

from attocore import format as fmt
from attocore.graph import Tensor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(DATA, "regressions")


def base():
    return fmt.load(os.path.join(DATA, "tiny.atto"))


def refix(buf) -> bytes:
    buf = bytearray(buf)
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, 0)
    struct.pack_into("<I", buf, fmt.CRC_OFFSET, fmt.checksum(buf))
    return bytes(buf)


def string_at(data: bytes, text: str) -> int:
    raw = text.encode()
    return data.index(struct.pack("<I", len(raw)) + raw, fmt.HEADER_SIZE) + 4


def op(g, name):
    return next(o for o in g.ops if o.name == name)


def with_constant(g, name, index, value):
    t = g.tensors[name]
    data = np.array(t.data, np.float32)
    data.reshape(-1)[index] = value
    g.tensors[name] = Tensor(name, t.shape, data)
    return g


def edited(fn):
    g = base()
    fn(g)
    return fmt.encode(g)


def patched(fn, edit=None):
    g = base()
    if edit:
        edit(g)
    buf = bytearray(fmt.encode(g))
    fn(buf)
    return refix(buf)


def rename(old: str, new: str):
    """A patch writing `new` over the bytes of string `old` (same length)."""
    def patch(buf):
        at = string_at(bytes(buf), old)
        buf[at:at + len(old)] = new
    return patch


class DupAttrs(dict):
    """encode() writes these attributes with `key` a second time."""

    def __init__(self, attrs, key):
        super().__init__(attrs)
        self.key = key

    def __len__(self):
        return super().__len__() + 1

    def items(self):
        yield from super().items()
        yield self.key, self[self.key]


def huge_scratch():
    """A 1 KB file whose first convolution pads a 1x1 image by 2^20 rows above and below, with
    a row stride of 2^20: a 2-pixel output and a tiny arena, but the stem kernel's padded copy
    of the input takes ~0.9 GB (issue #20 item 6). It loads, and must not run under 1 MiB."""
    g = base()
    g.ops = g.ops[:1]
    stem = g.ops[0]
    stem.attrs = {"kernel": (3, 3), "stride": (1 << 20, 1), "pad": (1 << 20, 1, 1 << 20, 1),
                  "dilation": (1, 1), "groups": (1,)}
    g.metadata.input_shape = (3, 1, 1)
    g.tensors["input"] = Tensor("input", (1, 3, 1, 1))
    g.tensors["stem.out"] = Tensor("stem.out", (1, 5, 2, 1))
    g.outputs = ["stem.out"]
    g.metadata.labels = ()
    keep = {"input", "stem.out", "stem.w", "stem.b"}
    g.tensors = {k: v for k, v in g.tensors.items() if k in keep}
    return fmt.encode(g)


def int8_base():
    """tiny.atto quantized (every op int8 but the first convolution), calibrated on 4 seeded
    random tensors."""
    from attocore.quantize.api import calibrate
    from attocore.quantize.transform import quantize_graph
    g = base()
    xs = [np.random.default_rng(i).standard_normal((1,) + tuple(g.metadata.input_shape)).astype(np.float32)
          for i in range(4)]
    ranges, chosen, _ = calibrate(g, xs, quiet=True)
    return quantize_graph(g, ranges, chosen, note="minmax over 4 seeded random tensors")


def int8_edited(fn):
    g = int8_base()
    fn(g)
    return fmt.encode(g)


def tensor(g, name):
    return g.tensors[name]


def int8_cases(c):
    c["int8-valid"] = (fmt.encode(int8_base()), "ok", "", "#21: an int8 model every loader runs")
    c["int8-scale-nan"] = (int8_edited(lambda g: setattr(tensor(g, "mix.out"), "scales", (float("nan"),))),
                           "FormatError", "not finite and positive", "#21: the validator checks scales")
    c["int8-scale-zero"] = (int8_edited(lambda g: setattr(tensor(g, "group.out"), "scales", (0.0,))),
                            "FormatError", "not finite and positive", "#21")
    c["int8-zero-point-past-int8"] = (int8_edited(lambda g: setattr(tensor(g, "mix.out"), "zero_point", -129)),
                                      "FormatError", "zero point", "#21: zero points in [-128, 127]")
    c["int8-per-channel-zero-point"] = (int8_edited(lambda g: setattr(tensor(g, "mix.w"), "zero_point", 1)),
                                        "FormatError", "zero point", "#21: symmetric per-channel weights")
    c["int8-scale-count"] = (int8_edited(lambda g: setattr(tensor(g, "mix.w"), "scales", tensor(g, "mix.w").scales[:2])),
                             "FormatError", "scales", "#21: one scale, or one per output channel")
    c["int8-float-weight"] = (int8_edited(lambda g: (setattr(tensor(g, "mix.w"), "data",
                                                             tensor(g, "mix.w").data.astype(np.float32)),
                                                     setattr(tensor(g, "mix.w"), "dtype", "float32"),
                                                     setattr(tensor(g, "mix.w"), "scales", ()))),
                              "GraphError", "input 1 is float32", "#21: operand types")
    c["int8-bias-past-2-30"] = (int8_edited(lambda g: setattr(tensor(g, "mix.b"), "data",
                                                              np.full(tensor(g, "mix.b").shape, -2**30 - 1, np.int32))),
                                "FormatError", "int32 bias", "#21: sums stay inside int32")
    c["int8-multiplier-out-of-range"] = (int8_edited(lambda g: setattr(tensor(g, "mix.out"), "scales", (1e-35,))),
                                         "FormatError", "requantization multiplier", "#21: normal multipliers")
    c["int8-in-version-1"] = (refix(_version(fmt.encode(int8_base()), 1)), "FormatError", "dtype",
                              "#21: a version 1 file holds float32 only")


def _version(data: bytes, version: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into("<I", buf, 8, version)
    return bytes(buf)


def cases():
    """name -> (bytes, expected error class or 'ok', message fragment, issue item)"""
    c = {}
    int8_cases(c)
    c["op-with-no-inputs"] = (edited(lambda g: setattr(op(g, "pool"), "inputs", [])), "GraphError",
                              "takes one input", "#20.1: read op.inputs[0] before the arity (segfault)")
    c["fc-with-no-inputs"] = (edited(lambda g: setattr(op(g, "fc"), "inputs", [])), "GraphError",
                              "takes input, weight", "#20.1")
    c["add-with-one-input"] = (edited(lambda g: setattr(op(g, "add"), "inputs", ["mix.out"])), "GraphError",
                               "takes two inputs", "#20.1")
    c["nan-weight-before-relu"] = (edited(lambda g: with_constant(g, "stem.w", 7, np.nan)), "FormatError",
                                   "NaN or infinity", "#20.4: came out as a finite all-zero channel")
    c["nan-bias"] = (edited(lambda g: with_constant(g, "fc.b", 2, np.nan)), "FormatError", "NaN or infinity",
                     "#20.4: printed p=nan, exit 0")
    c["infinite-weight"] = (edited(lambda g: with_constant(g, "mix.w", 0, -np.inf)), "FormatError",
                            "NaN or infinity", "#20.4")
    c["conv-without-stride"] = (edited(lambda g: op(g, "stem").attrs.pop("stride")), "GraphError",
                                "missing attribute 'stride'", "#20.5: ran with a default in C")
    c["conv-without-pad"] = (edited(lambda g: op(g, "group").attrs.pop("pad")), "GraphError",
                             "missing attribute 'pad'", "#20.5")
    c["pool-without-kernel"] = (edited(lambda g: op(g, "pool").attrs.pop("kernel")), "GraphError",
                                "missing attribute 'kernel'", "#20.5")
    c["groups-on-a-pool"] = (edited(lambda g: op(g, "pool").attrs.update(groups=(1,))), "GraphError",
                             "unknown attribute 'groups'", "#20.5: an attribute the op does not have")
    c["kernel-on-an-add"] = (edited(lambda g: op(g, "add").attrs.update(kernel=(1, 1))), "GraphError",
                             "unknown attribute 'kernel'", "#20.5")
    c["duplicate-attribute"] = (edited(lambda g: setattr(op(g, "stem"), "attrs", DupAttrs(op(g, "stem").attrs,
                                                                                          "stride"))),
                                "GraphError", "appears twice", "#20.5: the last one won in C")
    c["op-name-not-utf8"] = (patched(lambda b: b.__setitem__(string_at(bytes(b), "group"), 0xFF)), "FormatError",
                             "UTF-8", "#20.5: a raw UnicodeDecodeError from the cffi binding")
    c["label-not-utf8"] = (patched(lambda b: b.__setitem__(string_at(bytes(b), "t3") + 1, 0xC0)), "FormatError",
                           "UTF-8", "#20.5")
    c["model-name-surrogate"] = (patched(rename("tiny", b"\xed\xa0\x80y")), "FormatError", "UTF-8", "#20.5")
    c["nul-in-a-label"] = (edited(lambda g: setattr(g.metadata, "labels", g.metadata.labels[:6] + ("t\0",))),
                           "FormatError", "NUL", "C strings would cut it short")
    c["op-reserved-byte"] = (patched(lambda b: b.__setitem__(string_at(bytes(b), "mix") - 5, 1)), "FormatError",
                             "reserved", "#20 deliverable 2: reserved fields zero")
    c["header-reserved"] = (patched(lambda b: struct.pack_into("<I", b, 60, 7)), "FormatError", "reserved",
                            "#20 deliverable 2")
    c["labels-fewer-than-classes"] = (edited(lambda g: setattr(g.metadata, "labels", g.metadata.labels[:5])),
                                      "GraphError", "labels", "#20 deliverable 2: labels count")
    c["duplicate-metadata-key"] = (patched(rename("k2", b"k1"), lambda g: setattr(g.metadata, "extra",
                                                                                  {"k1": "a", "k2": "b"})),
                                   "FormatError", "appears twice", "a map kept one of them")
    c["padded-input-too-large"] = (edited(lambda g: op(g, "stem").attrs.update(pad=(1 << 20,) * 4,
                                                                               stride=(1 << 20,) * 2)),
                                   "ResourceLimitError", "padded input", "#20.6: the stem's padded copy")
    c["huge-scratch-first-conv"] = (huge_scratch(), "ok", "", "#20.6: 1 GB under a 1 MiB limit")
    c["graph-output-is-the-input"] = (edited(lambda g: setattr(g, "outputs", ["input"])), "GraphError",
                                      "never computed", "fuzz/structured_fuzz.py: heap overflow in the planner")
    c["weight-slot-activation"] = (edited(lambda g: op(g, "mix").inputs.__setitem__(1, "group.out")),
                                   "UnsupportedOpError", "must be a constant", "the Python reader accepted it")
    return c


# Files the fuzzers found, kept as found: name -> (error class, message fragment, what it did).
FOUND = {
    "structured-seed270-output-is-input.atto": ("GraphError", "never computed",
                                                "fuzz/structured_fuzz.py: graph output = graph input, a heap "
                                                "overflow in Session::plan_for on the stem path (double free)"),
    "structured-seed100095-window-past-input.atto": ("GraphError", "output would be empty",
                                                     "fuzz/structured_fuzz.py: a convolution window longer than "
                                                     "its padded input gave one output row in C++ (division "
                                                     "truncated toward zero), none in Python"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, (data, kind, fragment, why) in cases().items():
        with open(os.path.join(OUT, f"{name}.atto"), "wb") as f:
            f.write(data)
        entry = {"error": kind, "message": fragment, "why": why}
        if name == "int8-valid":
            entry["numba_error"] = "UnsupportedOpError"
        if name == "huge-scratch-first-conv":
            entry["run_limit_mb"] = 1
            entry["run_error"] = "ResourceLimitError"
        expected[f"{name}.atto"] = entry
    for name, (kind, fragment, why) in FOUND.items():
        assert os.path.exists(os.path.join(OUT, name)), name
        expected[name] = {"error": kind, "message": fragment, "why": why}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(expected)} files to {OUT}")


if __name__ == "__main__":
    main()
