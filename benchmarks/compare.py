"""Side-by-side latency: attocore vs PyTorch eager vs ONNX Runtime vs OpenVINO (and TVM when
the attocore TVM backend and apache-tvm are installed), in one process, on the same weights;
with --int8 also attocore's int8 (attocore.quantize), ONNX Runtime's QDQ int8 (per channel,
U8S8 and S8S8) and OpenVINO's int8 (NNCF), all calibrated on the same 16 random tensors,
with each int8 engine's logits SQNR against fp32 and the file sizes. Where the CPU has
AVX512-BF16 (Zen 4, Sapphire Rapids and later) also attocore's precision="bf16"
(attocore-bf16) and, with openvino in --engines, OpenVINO's default mode (openvino-default:
bf16 on such CPUs, its INFERENCE_PRECISION_HINT printed) beside its f32 mode; elsewhere the
script says why they were left out.

    python benchmarks/compare.py                      # A-D, 1 and 2 threads, 60 runs each
    python benchmarks/compare.py --nets attonet-d --threads 1 --runs 100
    python benchmarks/compare.py --nets mobilenet-v2      # via ONNX import (attocore/testing/torch_nets.py)
    python benchmarks/compare.py --nets mobilenet-v3-small mobilenet-v3-large efficientnet-b0
    python benchmarks/compare.py --nets shufflenet-v2 squeezenet-1.1 resnet-18
    python benchmarks/compare.py --nets yolov8n dbnet attonet-d-fpn   # detectors: 320x320, several outputs
    python benchmarks/compare.py --nets attonet-d --threads 2 --gap-ms 33   # frame by frame
    python benchmarks/compare.py --int8 --engines onnxruntime openvino     # the int8 peers (pip install openvino nncf)

Rounds are interleaved (engine order rotates every round) so drift and noise on a shared
machine hit every engine alike; compare the ratios of one run, never absolute times across
runs. Prints per net and thread count: median and p10/p90 in ms, the ratio of each
engine's median to attocore's, the paired ratio (the median over rounds of the engine's
round median over attocore's in the same round: noise bursts that last seconds then
cancel out instead of landing on one engine), achieved GMAC/s and % of one core's
measured FMA peak (times the thread count).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np


# name: (builder given attocore.testing's torch_nets and detector_nets, (C, H, W) input)
OTHER_NETS = {"mobilenet-v2": (lambda n, d: n.MobileNetV2(), (3, 224, 224)),
              "small-resnet": (lambda n, d: n.SmallResNet(), (3, 224, 224)),
              "mobilenet-v3-small": (lambda n, d: n.MobileNetV3("small"), (3, 224, 224)),
              "mobilenet-v3-large": (lambda n, d: n.MobileNetV3("large"), (3, 224, 224)),
              "efficientnet-b0": (lambda n, d: n.EfficientNetB0(), (3, 224, 224)),
              "shufflenet-v2": (lambda n, d: n.ShuffleNetV2(), (3, 224, 224)),
              "squeezenet-1.1": (lambda n, d: n.SqueezeNet11(), (3, 224, 224)),
              "resnet-18": (lambda n, d: n.ResNet18(), (3, 224, 224)),
              "yolov8n": (lambda n, d: d.YOLOv8n(), (3, 320, 320)),  # 3 head maps
              "yolov8n-256x320": (lambda n, d: d.YOLOv8n(), (3, 256, 320)),
              "yolov8n-decoded": (lambda n, d: d.YOLOv8n(decode=True), (3, 320, 320)),  # ultralytics export: [1, 84, 2100]
              "dbnet": (lambda n, d: d.DBNet(), (3, 320, 320)),  # 1x1x320x320 probability map
              "attonet-d-fpn": (lambda n, d: n.AttoNetFPN("attonet-d"), (3, 256, 256))}  # 3 maps
ATTONET_INPUT = (3, 224, 224)
# Idle time before the next engine's runs, by the engine that ran last (see time_engines).
SETTLE_SECONDS = {"onnxruntime": 0.25, "ort-int8-u8s8": 0.25, "ort-int8-s8s8": 0.25, "tvm-untuned": 1.0,
                  "tvm-tuned": 1.0}
CALIBRATION = 16  # random tensors every int8 engine is calibrated on


def input_shape(name: str) -> tuple:
    return OTHER_NETS[name][1] if name in OTHER_NETS else ATTONET_INPUT


def flat(out) -> np.ndarray:
    """One array of a net's outputs: a detector's several maps raveled and concatenated."""
    if isinstance(out, (list, tuple)):
        return np.concatenate([np.asarray(o).ravel() for o in out])
    return np.asarray(out)


def calibration_tensors(shape=ATTONET_INPUT):
    return [np.random.default_rng(100 + i).standard_normal((1,) + tuple(shape)).astype(np.float32)
            for i in range(CALIBRATION)]


def ort_session(path: str, threads: int):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    if len(sess.get_outputs()) > 1:
        return lambda x, s=sess, n=name: s.run(None, {n: x})
    return lambda x, s=sess, n=name: s.run(None, {n: x})[0]


def ort_int8(onnx_path: str, workdir: str, activations: str, shape=ATTONET_INPUT) -> str:
    """ONNX Runtime's static QDQ quantization, per channel, activations QUInt8 or QInt8."""
    from attocore.testing.ort_quant import quantize_qdq
    return quantize_qdq(onnx_path, os.path.join(workdir, f"int8-{activations}.onnx"), calibration_tensors(shape),
                        activations, workdir)


def openvino_engine(onnx_path: str, threads: int, int8: bool, shape=ATTONET_INPUT, precision: str | None = "f32"):
    """OpenVINO on the CPU; precision: its INFERENCE_PRECISION_HINT ("f32": exact fp32), or
    None for its default (bf16 on CPUs with AVX512-BF16 or AMX: the mode its users get)."""
    import openvino as ov
    core = ov.Core()
    model = core.read_model(onnx_path)
    if int8:
        import nncf
        model = nncf.quantize(model, nncf.Dataset(calibration_tensors(shape)))
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(model, "CPU", config)
    if precision is None:
        print(f"  openvino-default: INFERENCE_PRECISION_HINT reads {compiled.get_property('INFERENCE_PRECISION_HINT')}",
              file=sys.stderr)
    request = compiled.create_infer_request()
    if len(compiled.outputs) > 1:
        return lambda x, r=request: [v.copy() for v in r.infer([x]).values()]
    return lambda x, r=request: next(iter(r.infer([x]).values())).copy()


def build_engines(name: str, threads: int, workdir: str, want: set, int8: bool = False, sizes: dict = None):
    """{engine name: callable(x) -> logits} on one random-weight net; `sizes` gets each
    engine's file size in bytes where it has one."""
    import torch

    import attocore
    from attocore.torch import attonet, export

    torch.manual_seed(0)
    atto_path = os.path.join(workdir, f"{name}.atto")
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    shape = input_shape(name)
    if name in OTHER_NETS:  # PyTorch definitions shared with the tests, imported through ONNX
        from attocore.onnx import convert
        from attocore.testing import detector_nets, torch_nets
        net = torch_nets.randomize(OTHER_NETS[name][0](torch_nets, detector_nets), seed=1)
        with torch.no_grad():
            outs = net(torch.zeros((1,) + shape))
        names = [f"out{i}" for i in range(len(outs))] if isinstance(outs, tuple) else ["logits"]
        torch_nets.export_onnx(net, onnx_path, size=shape[1:], output_names=names)
        convert(onnx_path, atto_path)
    else:
        net = attonet(name).eval()
        g = torch.Generator().manual_seed(1)
        for m in net.modules():  # non-trivial batch norm so folding matters
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        export(net, atto_path)
        with warnings.catch_warnings():  # the TorchScript exporter, chosen on purpose, warns that it is legacy
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(net, torch.zeros(1, 3, 224, 224), onnx_path, input_names=["x"], output_names=["y"],
                              opset_version=17, dynamo=False)
    engines = {}
    model = attocore.load(atto_path, threads=threads)
    engines["attocore"] = model.run
    from attocore.backends import native
    bf16 = native.precision_support("bf16")[0]  # main() says why not
    if bf16:
        engines["attocore-bf16"] = attocore.load(atto_path, threads=threads, precision="bf16").run
    sizes = {} if sizes is None else sizes
    sizes["attocore"] = os.path.getsize(atto_path)
    if int8:
        q_path = os.path.join(workdir, f"{name}-int8.atto")
        if not os.path.exists(q_path):
            attocore.quantize(atto_path, calibration_tensors(shape), out=q_path, quiet=True)
        engines["attocore-int8"] = attocore.load(q_path, threads=threads).run
        sizes["attocore-int8"] = os.path.getsize(q_path)
    if "pytorch" in want:
        def torch_run(x, net=net):
            torch.set_num_threads(threads)
            with torch.no_grad():
                out = net(torch.from_numpy(x))
            return [o.numpy() for o in out] if isinstance(out, tuple) else out.numpy()
        engines["pytorch"] = torch_run
    if "onnxruntime" in want:
        try:
            engines["onnxruntime"] = ort_session(onnx_path, threads)
            sizes["onnxruntime"] = os.path.getsize(onnx_path)
            if int8:
                for kind in ("u8s8", "s8s8"):
                    path = ort_int8(onnx_path, workdir, kind, shape)
                    engines[f"ort-int8-{kind}"] = ort_session(path, threads)
                    sizes[f"ort-int8-{kind}"] = os.path.getsize(path)
        except ImportError:
            print("  (onnxruntime not installed: skipped)", file=sys.stderr)
    if "openvino" in want:
        try:
            engines["openvino-f32"] = openvino_engine(onnx_path, threads, False, shape)
            if bf16:  # its default: bf16 here, the peer of attocore-bf16
                engines["openvino-default"] = openvino_engine(onnx_path, threads, False, shape, precision=None)
            if int8:
                engines["openvino-int8"] = openvino_engine(onnx_path, threads, True, shape)
        except ImportError as e:
            print(f"  (openvino / nncf not installed: skipped: {e})", file=sys.stderr)
    if "tvm" in want:
        # Untuned, and tuned with the records shipped in the package (or ./tuning) when
        # there are some for this net: AttoNet-D on this machine kind.
        for label, tuned in (("tvm-untuned", False), ("tvm-tuned", True)):
            try:
                m = attocore.load(atto_path, backend="tvm", threads=threads, tuned=tuned)
                m.run(np.zeros((1,) + m.input_shape, np.float32))  # compile outside the timed runs
                engines[label] = m.run
            except FileNotFoundError:
                pass  # no tuning records for this net
            except Exception as e:  # the TVM backend is optional
                print(f"  ({label} skipped: {e})", file=sys.stderr)
    return engines, model


def is_int8(engine: str) -> bool:
    return "int8" in engine


def is_bf16(engine: str) -> bool:
    """Engines computing in bf16 (attocore's precision="bf16", OpenVINO's default on the CPUs
    where they run): compared with fp32 within the bf16 bound, not 1e-3."""
    return engine in ("attocore-bf16", "openvino-default")


# README, "Precision": attocore bf16 measured within 0.62% of the largest logit on AttoNets.
BF16_TOLERANCE = 2e-2


def sqnr_db(ref, other) -> float:
    noise = float(np.sum((np.asarray(ref, np.float64) - np.asarray(other, np.float64)) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(float(np.sum(np.asarray(ref, np.float64) ** 2)) / noise)


def int8_sqnr(engines: dict, shape=ATTONET_INPUT) -> dict:
    """Each int8 engine's logits SQNR (dB) against attocore's fp32, over 8 fresh inputs (all
    of a detector's outputs together)."""
    xs = [np.random.default_rng(500 + i).standard_normal((1,) + tuple(shape)).astype(np.float32) for i in range(8)]
    ref = np.concatenate([flat(engines["attocore"](x)) for x in xs])
    return {n: sqnr_db(ref, np.concatenate([flat(f(x)) for x in xs])) for n, f in engines.items() if is_int8(n)}


def time_engines(engines: dict, x: np.ndarray, runs: int, warmup: int, rounds: int, gap: float = 0.0) -> dict:
    names = list(engines)
    ref = flat(engines["attocore"](x))
    for n in names:
        for _ in range(warmup):
            out = engines[n](x)
        err = float(np.abs(flat(out) - ref).max())
        peak = max(1.0, float(np.abs(ref).max()))
        if is_bf16(n):
            print(f"  {n}: largest output difference from attocore fp32 {err:.2e} ({err / peak:.2%} of the largest)",
                  file=sys.stderr)
        tolerance = BF16_TOLERANCE if is_bf16(n) else 1e-3
        if not is_int8(n) and err > tolerance * peak:
            print(f"  warning: {n} disagrees with attocore (max abs diff {err:.2e})", file=sys.stderr)
    times = {n: [] for n in names}
    per_round = max(1, -(-runs // rounds))  # rounded up: at least the runs asked for
    prev = names[-1]  # the warm-up above ran every engine, the last one last
    for r in range(rounds):
        for n in names:
            times[n].append([])
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            f = engines[n]
            # Let the previous engine's spinning worker threads go idle first, so no engine
            # pays for another's: measured here after a 2-thread run, ONNX Runtime's worker
            # spins 40-60 ms (in a 50 ms gap it was still taking a CPU from attocore's worker,
            # which then stalled steps by milliseconds), PyTorch's under 10 ms, attocore's
            # 0.2-5 ms, TVM's pool hundreds of ms (attocore ran 4x slower for 0.3 s after it).
            time.sleep(SETTLE_SECONDS.get(prev, 0.05))
            prev = n
            f(x)
            for _ in range(per_round):
                if gap:  # frame-by-frame use: idle time before each run
                    time.sleep(gap)
                t0 = time.perf_counter()
                f(x)
                times[n][-1].append(time.perf_counter() - t0)
    return times  # engine -> one list of run times per round


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", nargs="+", default=["attonet-a", "attonet-b", "attonet-c", "attonet-d"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--runs", type=int, default=60, help="timed runs per engine (>= 50 recommended)")
    p.add_argument("--rounds", type=int, default=20, help="interleaved rounds the runs are split into")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gap-ms", type=float, default=0.0,
                   help="idle milliseconds before every timed run (a camera's frame interval: 33); "
                        "default 0, back to back")
    p.add_argument("--engines", nargs="+", default=["pytorch", "onnxruntime", "tvm"],
                   help="peers besides attocore: pytorch, onnxruntime, openvino, tvm")
    p.add_argument("--int8", action="store_true",
                   help="also the int8 engines (attocore, and ONNX Runtime / OpenVINO when in --engines)")
    args = p.parse_args(argv)

    from attocore.backends import native
    peak = native.fma_peak_gmacs(0.3)
    print(f"kernels: {native.default_isa()}   one core's measured FMA peak: {peak:.1f} G multiply-adds/s")
    bf16, bf16_why_not = native.precision_support("bf16")
    print("bf16: attocore-bf16 and openvino-default (with openvino in --engines) included: " + bf16_why_not if bf16
          else f"bf16: attocore-bf16 and openvino-default left out: {bf16_why_not}")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.nets:
            macs = None
            for threads in args.threads:
                sizes = {}
                engines, model = build_engines(name, threads, workdir, set(args.engines), args.int8, sizes)
                macs = model.macs
                x = np.random.default_rng(0).standard_normal((1,) + input_shape(name)).astype(np.float32)
                times = time_engines(engines, x, args.runs, args.warmup, args.rounds, args.gap_ms / 1e3)
                base = float(np.median(np.concatenate(times["attocore"])))
                base_rounds = [np.median(r) for r in times["attocore"]]
                for eng, per_round in times.items():
                    ts = np.concatenate(per_round)
                    med = float(np.median(ts))
                    paired = float(np.median([np.median(r) / b for r, b in zip(per_round, base_rounds)]))
                    rows.append((name, threads, eng, med * 1e3, np.percentile(ts, 10) * 1e3,
                                 np.percentile(ts, 90) * 1e3, med / base, paired, macs / med / 1e9,
                                 100 * macs / med / 1e9 / (peak * threads), len(ts)))
                print_table([r for r in rows if r[0] == name and r[1] == threads], header=not rows[:-len(times)])
                if "attocore-bf16" in times and "openvino-default" in times:  # half precision against half precision
                    ours, theirs = times["attocore-bf16"], times["openvino-default"]
                    ratio = np.median(np.concatenate(theirs)) / np.median(np.concatenate(ours))
                    paired = np.median([np.median(t) / np.median(o) for t, o in zip(theirs, ours)])
                    print(f"  bf16 against bf16: openvino-default / attocore-bf16 = {ratio:.2f} (paired {paired:.2f})")
                if args.int8 and threads == args.threads[0]:
                    for eng, db in int8_sqnr(engines, input_shape(name)).items():
                        print(f"  {name} {eng}: logits SQNR {db:.1f} dB against attocore fp32")
                    print("  files: " + ", ".join(f"{eng} {b / 1e6:.2f} MB" for eng, b in sizes.items()))
    print("\nratio = engine median / attocore median (above 1: attocore is faster); paired = median over"
          "\nrounds of (engine round median / attocore round median)")
    return 0


def print_table(rows, header: bool):
    if header:
        print(f"\n{'net':<10} {'thr':>3} {'engine':<16} {'median ms':>10} {'p10':>8} {'p90':>8} "
              f"{'ratio':>6} {'paired':>6} {'GMAC/s':>7} {'%peak':>6} {'runs':>5}")
    for name, thr, eng, med, p10, p90, ratio, paired, gmacs, pct, n in rows:
        print(f"{name:<10} {thr:>3} {eng:<16} {med:>10.3f} {p10:>8.3f} {p90:>8.3f} {ratio:>6.2f} {paired:>6.2f} "
              f"{gmacs:>7.1f} {pct:>6.1f} {n:>5}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
