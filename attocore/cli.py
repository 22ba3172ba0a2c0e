"""The attocore command line: run, summary, export, convert, quantize, tune, tune-plan, export-tvm, bench."""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import warnings
from importlib import resources

import numpy as np

from .backends.native import PRECISIONS
from .errors import MAX_THREADS, check_threads


def sample_image_path() -> str:
    return str(resources.files("attocore") / "data" / "sample.jpg")


def _tuned_flag(args):
    return True if getattr(args, "tuned", False) else False if getattr(args, "untuned", False) else None


class UsageError(Exception):
    """A combination of arguments argparse cannot refuse by itself: exit code 2."""


# The optional extra that provides each optional import (pyproject.toml [project.optional-dependencies]).
EXTRAS = {"numba": "numba", "llvmlite": "numba", "tvm": "tvm", "tvm_ffi": "tvm", "xgboost": "tvm", "torch": "torch",
          "onnx": "onnx", "onnxscript": "onnx", "google": "onnx", "cffi": "capi",
          "onnxslim": "onnx", "matplotlib": "plot"}


def check_model_file(model) -> None:
    """Refuses, naming it, a model path that is a directory or no attocore file (an ONNX model
    points at `attocore convert`). The loaders' own errors stay as they are for the API and
    the C API, which report the same words."""
    from . import format as fmt, zoo
    if zoo.is_zoo_name(model) and not os.path.exists(model):
        return
    if os.path.isdir(model):
        raise IsADirectoryError(f"'{model}' is a directory, not a model file (a .atto file or a zoo name: "
                                f"{', '.join(zoo.NETS)})")
    if not os.path.isfile(model):
        return  # missing, or a FIFO: the loader says which
    with open(model, "rb") as f:
        head = f.read(64)
    if head[:len(fmt.MAGIC)] == fmt.MAGIC or not head:
        return
    if model.lower().endswith(".onnx") or (head[:1] == b"\x08" and (b"onnx" in head.lower() or b"pytorch" in head)):
        raise fmt.FormatError(f"'{model}' is not an attocore model (bad magic): it looks like an ONNX file: run "
                              f"'attocore convert {model} OUT.atto' first")
    if model.lower().endswith((".pt", ".pth")) or head[:2] == b"PK":
        raise fmt.FormatError(f"'{model}' is not an attocore model (bad magic): it looks like a PyTorch file: "
                              f"run 'attocore export ARCH {model} OUT.atto' first")
    raise fmt.FormatError(f"'{model}' is not an attocore model file (bad magic {head[:8]!r}): give a .atto file "
                          f"(attocore export / attocore convert write one) or a zoo name")


def cmd_run(args) -> None:
    from .api import run
    image = args.image or sample_image_path()
    if (args.tuned or args.untuned) and args.backend != "tvm":
        raise UsageError("--tuned/--untuned apply to --backend tvm")
    check_model_file(args.model)
    if args.precision != "fp32" and args.backend != "native":
        raise UsageError(f"--precision {args.precision} applies to the native backend")
    result = run(args.model, image, top_k=args.top_k, backend=args.backend, threads=args.threads,
                 tuned=_tuned_flag(args), precision=args.precision)
    print(f"image: {image}")
    print(result)


def cmd_summary(args) -> None:
    from . import summary
    check_model_file(args.model)
    s = summary(args.model)
    print(s)
    print(f"parameters: {s.params:,}   multiply-adds: {s.macs:,}")


def preprocessing_options(args) -> dict:
    from .importers.preprocessing import read_labels
    return {"name": args.name, "labels": read_labels(args.labels) if args.labels else None,
            "mean": args.mean, "std": args.std, "resize": args.resize}


def cmd_export(args) -> None:
    from .output_file import check_output_path
    check_output_path(args.output)  # before the work, so a bad path costs nothing
    from .importers.torch import export, load_state_dict
    options = preprocessing_options(args)
    net = load_state_dict(args.arch, args.state_dict, args.num_classes)
    if options["labels"] is not None and len(options["labels"]) != net.num_classes:
        raise ValueError(f"{len(options['labels'])} labels in '{args.labels}' for {net.num_classes} classes")
    export(net, args.output, **options)
    print(f"wrote {args.output}: {net.num_classes} classes")


def cmd_quantize(args) -> None:
    from .output_file import check_output_path
    check_output_path(args.output)  # before the work, so a bad path costs nothing
    if args.report:
        check_output_path(args.report, example="report.png")
        import matplotlib  # noqa: F401  (fails now, naming its extra, rather than after calibrating)
    check_model_file(args.model)
    from . import format as fmt, read_graph
    from .quantize import calibrate, report
    from .quantize.api import quantize, sqnr_db
    from .quantize.data import batches, image_files, random_batches
    if os.path.exists(args.output) and os.path.exists(args.model) and os.path.samefile(args.output, args.model):
        raise UsageError(f"-o {args.output} is the model itself: write the int8 model to another file")
    graph = read_graph(args.model)
    shape = graph.metadata.input_shape

    def calibration():
        return image_files(args.calib) if args.calib else random_batches(args.calib_random, shape)

    source = f"{args.calib}" if args.calib else f"{args.calib_random} random tensors"
    print(f"calibrating {graph.metadata.name} on {source} ({args.method})", file=sys.stderr)
    model = quantize(args.model, calibration(), out=args.output, method=args.method,
                     bias_correction=not args.no_bias_correction)
    qgraph = fmt.load(args.output)
    # The per-layer table on the first few calibration inputs (each is a full float and
    # integer-reference evaluation).
    it, _ = batches(calibration(), graph.metadata)
    inputs = [x for _, x in zip(range(args.report_inputs), it)]
    rows = report.layer_sqnr(graph, qgraph, inputs)
    from .model import load
    reference = load(fmt.encode(graph))  # the float graph read before anything was written
    x = np.concatenate(inputs)
    x = x.reshape((len(x),) + tuple(reference.sample_shape))  # an [N, C, L] or [N, F] model's own rank
    from .quantize.api import first_output
    yf, yq = first_output(reference.run(x)), first_output(model.run(x))  # the first output's, if several
    top1 = float(np.mean(yf.argmax(1) == yq.argmax(1)))
    print(report.format_table(rows, sqnr_db(yf, yq)))
    size_f = len(fmt.encode(graph))
    size_q = os.path.getsize(args.output)
    print(f"wrote {args.output}: int8, {size_q:,} bytes ({size_q / size_f:.2f}x the float32 file); logits SQNR "
          f"{sqnr_db(yf, yq):.1f} dB, top-1 agreement {100 * top1:.0f}% on {len(inputs)} calibration inputs")
    if args.report:
        report.plot(rows, args.report, f"{graph.metadata.name} int8 ({args.method}, {source}): SQNR per layer")
        print(f"wrote {args.report}")


def cmd_convert(args) -> int:
    if not args.check and not args.output:
        raise UsageError("give OUT.atto (or --check)")
    from .importers.onnx import check, convert
    if args.output:
        from .output_file import check_output_path
        check_output_path(args.output)
    options = preprocessing_options(args)  # a bad labels file fails before the model is read
    if args.check:
        problems = check(args.model, input_shape=args.input_shape)
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s) in {args.model}" if problems else f"{args.model}: convertible")
        return 1 if problems else 0
    g = convert(args.model, args.output, input_shape=args.input_shape,
                **{k: v for k, v in options.items() if v is not None})
    int8 = g.metadata.extra.get("precision") == "int8"  # an ONNX QDQ model keeps its quantization
    print(f"wrote {args.output}: {len(g.ops)} ops, input {g.metadata.input_shape}" +
          (", int8 (ONNX QDQ scales)" if int8 else ""))
    return 0


def cmd_tune(args) -> None:
    from .backends.tvm.records import model_slug
    from .backends.tvm.tune import tune
    from .model import read_graph
    check_model_file(args.model)
    graph = read_graph(args.model)
    rpc = None
    if args.rpc_host or args.rpc_key:
        if not (args.rpc_host and args.rpc_key):
            raise UsageError("an RPC session needs --rpc-host and --rpc-key (and --rpc-port)")
        rpc = {"host": args.rpc_host, "port": args.rpc_port, "key": args.rpc_key}
    report = tune(graph, args.name or model_slug(graph), target_name=args.target, trials=args.trials,
                  root=args.work_dir, threads=args.threads, rpc=rpc, log=lambda m: print(m, flush=True),
                  start_from=args.start_from, progress_bar=args.progress)
    print(f"records: {report.records_dir} ({report.trials_run} trials this session, "
          f"{report.seconds / 60:.1f} min; {report.skipped_tasks}/{report.tasks} tasks were already done)")


def cmd_tune_plan(args) -> None:
    from .backends.tvm.tune_plan import print_plan, tune_plan
    check_model_file(args.model)
    if args.kernels and not args.runner:
        raise UsageError("--kernels goes with --runner (an attocore-run built with those kernels)")
    plan, path = tune_plan(args.model, target_name=args.target, threads=args.threads, runs=args.runs,
                           work_dir=args.work_dir, output=args.output, records_root=args.records,
                           runner=args.runner, kernels_dir=args.kernels, source=args.source,
                           exec_prefix=args.exec_prefix, min_gain=args.min_gain / 100,
                           log=lambda m: print(m, flush=True))
    print_plan(plan)
    print(f"plan: {path} ({plan.notes['tvm steps']} of {len(plan.steps)} steps on TVM kernels); "
          f"run it: attocore-run MODEL IMAGE --plan {path}")


def cmd_export_tvm(args) -> None:
    from .backends.tvm.export import export
    from .model import read_graph
    check_model_file(args.model)
    export(read_graph(args.model), args.output, target_name=args.target, tuned=_tuned_flag(args),
           records_root=args.records, whole_network=not args.kernels_only,
           log=lambda m: print(m, flush=True))
    print(f"build the runner with them: cmake -DATTOCORE_TVM_KERNELS={args.output} ... ; "
          f"attocore-run MODEL IMAGE --tvm-layers all")


def cmd_bench(args) -> None:
    from .model import load
    check_model_file(args.model)
    if args.plot is not None:
        from .output_file import check_output_path
        if not args.plot.strip():
            raise UsageError("--plot needs a file name, such as profile.png")
        check_output_path(args.plot, example="profile.png")  # before minutes of timing
        import matplotlib.pyplot  # noqa: F401  (a missing extra is said before the work, not after)
    m = load(args.model, threads=args.threads, precision=args.precision)
    sample = m.sample_shape  # an MLP's input is (N, features), a sequence model's (N, C, L)
    x = np.random.default_rng(0).standard_normal((args.batch,) + sample).astype(np.float32)
    for _ in range(args.warmup):
        m.run(x)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        m.run(x)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    macs = m.macs * args.batch
    print(f"{m.name}: batch {args.batch}, {m.threads} threads, {args.runs} runs: "
          f"median {med * 1e3:.3f} ms (p10 {np.percentile(times, 10) * 1e3:.3f}, "
          f"p90 {np.percentile(times, 90) * 1e3:.3f}), {macs / med / 1e9:.2f} GMAC/s, "
          f"arena {m.arena_bytes(args.batch) / 2**20:.2f} MiB")
    if args.profile or args.plot:
        steps = profile_steps(m, x, max(5, args.runs // 5))
        print_profile(steps)
        if args.plot:
            from .backends.native import fma_peak_gmacs
            from .profile_plot import plot_profile
            peak = fma_peak_gmacs(0.2) * m.threads
            plot_profile(steps, peak, f"{m.name}: batch {args.batch}, {m.threads} threads, median "
                                      f"{med * 1e3:.2f} ms, {macs / med / 1e9:.1f} G multiply-adds/s", args.plot)
            print(f"wrote {args.plot}")


def profile_steps(model, x, runs: int) -> list:
    """Each step's median time over `runs` profiled runs (ProfiledStep, in execution order)."""
    from .profile_plot import ProfiledStep
    timed = [model.profile(x)[1] for _ in range(runs)]
    return [ProfiledStep(step.layer, step.kernel, step.macs * x.shape[0],
                         float(np.median([run[i].seconds for run in timed])))
            for i, step in enumerate(timed[0])]


def print_profile(steps: list) -> None:
    wl = max([len("layer")] + [len(s.layer) for s in steps])
    wk = max([len("kernel")] + [len(s.kernel) for s in steps])
    total = sum(s.seconds for s in steps)
    share = total or 1.0  # steps too short for the clock: shares of nothing
    print(f"{'layer':<{wl}} {'kernel':<{wk}} {'MMACs':>8} {'ms':>8} {'GMAC/s':>8} {'%':>6}")
    for s in steps:
        rate = f"{s.macs / s.seconds / 1e9:8.2f}" if s.macs and s.seconds > 0 else f"{'':>8}"
        print(f"{s.layer:<{wl}} {s.kernel:<{wk}} {s.macs / 1e6:8.2f} {s.seconds * 1e3:8.3f} {rate} "
              f"{100 * s.seconds / share:6.1f}")
    print(f"{'sum of layers':<{wl}} {'':<{wk}} {'':>8} {total * 1e3:8.3f}")


def threads_arg(text: str) -> int:
    try:
        return check_threads(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int in [0, {MAX_THREADS}] (0: all cores), got '{text}'") from None


def int_arg(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}, got '{text}'")
        return value
    parse.__name__ = f"int >= {low}"
    return parse


def channel_floats(what: str):
    """One number per input channel (R,G,B for an image model); the count is checked against
    the model's channels once it is read."""
    def parse(text: str) -> tuple:
        from .importers.preprocessing import check_mean_std
        try:
            values = tuple(float(v) for v in text.replace(",", " ").split())
            return check_mean_std(values, what, channels=len(values))
        except ValueError:
            rule = " > 0" if what == "std" else ""
            raise argparse.ArgumentTypeError(f"must be numbers{rule}, one per input channel (R,G,B on the [0, 1] "
                                             f"scale for an image model), got '{text}'") from None
    parse.__name__ = what
    return parse


def input_shape_arg(text: str) -> tuple:
    from .importers.onnx_prepare import parse_input_shape
    try:
        return parse_input_shape(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_preprocessing(p) -> None:
    p.add_argument("--labels", help="text file with one class label per line")
    p.add_argument("--mean", type=channel_floats("mean"),
                   help="per-channel mean, R,G,B on the [0, 1] scale (default ImageNet's; none for other than 3 channels)")
    p.add_argument("--std", type=channel_floats("std"), help="per-channel std (default ImageNet's; none for other than 3 channels)")
    p.add_argument("--resize", type=int_arg(0),
                   help="shorter side before the centre crop (default 256 for 224; 0: straight to the input size)")
    p.add_argument("--name", help="model name stored in the file")


def build_parser() -> argparse.ArgumentParser:
    from .version import package_version
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of a failure (or set ATTOCORE_DEBUG=1)")
    p = argparse.ArgumentParser(prog="attocore", description="AttoNet inference on CPUs", parents=[debug])
    p.add_argument("--version", action="version", version=f"attocore {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="classify an image", parents=[debug])
    r.add_argument("model", help="weight file or zoo name (attonet-a .. attonet-d)")
    r.add_argument("image", nargs="?", help="JPEG/PNG (default: the bundled sample image)")
    r.add_argument("--top-k", "--top", dest="top_k", type=int_arg(1), default=5,
                   help="classes to list (--top as in attocore-run)")
    r.add_argument("--backend", choices=["native", "numba", "tvm"], default="native",
                   help='numba needs pip install "attocore[numba]", tvm "attocore[tvm]"')
    r.add_argument("--threads", type=threads_arg, default=0, help="0 = all cores")
    r.add_argument("--tuned", action="store_true", help="tvm: require tuning records (default: use them if found)")
    r.add_argument("--untuned", action="store_true", help="tvm: ignore tuning records")
    r.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp16: fp16 GEMM kernels, ARMv8.2 cores with FEAT_FP16 only; bf16: bf16 GEMM kernels, "
                        "x86 CPUs with AVX512-BF16 only (README, Precision)")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("summary", help="per-layer parameters and multiply-adds", parents=[debug])
    s.add_argument("model")
    s.set_defaults(fn=cmd_summary)

    e = sub.add_parser("export", help='write a weight file from a saved PyTorch state dict (pip install "attocore[torch]")',
                       parents=[debug])
    e.add_argument("arch", metavar="name", help="zoo architecture of the state dict (attonet-a .. attonet-d)")
    e.add_argument("state_dict", help="file saved by torch.save(net.state_dict())")
    e.add_argument("output", help="weight file to write (.atto)")
    e.add_argument("--num-classes", type=int_arg(1), default=None, help="default: the state dict's")
    add_preprocessing(e)
    e.set_defaults(fn=cmd_export)

    c = sub.add_parser("convert", help='convert an ONNX model to the attocore weight format (pip install "attocore[onnx]")',
                       parents=[debug])
    c.add_argument("model", help="MODEL.onnx")
    c.add_argument("output", nargs="?", help="OUT.atto")
    c.add_argument("--check", action="store_true", help="list every problem that blocks conversion, then stop")
    c.add_argument("--input-shape", type=input_shape_arg, metavar="NxCxHxW",
                   help="fix the graph input's symbolic dimensions, e.g. 1x3x320x320 (a symbolic batch alone becomes 1)")
    add_preprocessing(c)
    c.set_defaults(fn=cmd_convert)

    targets = ["host", "aarch64", "rpi4", "armv7"]
    qz = sub.add_parser("quantize", help="calibrate a float model and write its int8 version (docs/QUANTIZATION.md)",
                        parents=[debug])
    qz.add_argument("model", help="weight file or zoo name")
    source = qz.add_mutually_exclusive_group(required=True)
    source.add_argument("--calib", metavar="DIR", help="a directory of calibration images (JPEG, PNG, ...)")
    source.add_argument("--calib-random", metavar="N", type=int_arg(1),
                        help="N random standard-normal tensors instead (ranges only indicative)")
    qz.add_argument("-o", "--output", required=True, help="the int8 weight file to write")
    qz.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="minmax",
                    help="activation ranges: min/max seen (default), 0.001/99.999 percentiles, or least KL divergence")
    qz.add_argument("--no-bias-correction", action="store_true",
                    help="leave each layer's bias as rounded (default: add back its mean weight-rounding error)")
    qz.add_argument("--report", metavar="PNG", help='plot the per-layer SQNR (pip install "attocore[plot]")')
    qz.add_argument("--report-inputs", type=int_arg(1), default=2,
                    help="calibration inputs the per-layer table is measured on (default 2)")
    qz.set_defaults(fn=cmd_quantize)

    t = sub.add_parser("tune", help='tune the TVM backend for a model with MetaSchedule (resumable; "attocore[tvm]")',
                       parents=[debug])
    t.add_argument("model", help="weight file or zoo name")
    t.add_argument("--target", choices=targets, default="host")
    t.add_argument("--trials", type=int_arg(1), default=2048,
                   help="total measured trials, split evenly over the tasks (at least 4 each)")
    t.add_argument("--work-dir", default="tuning",
                   help="records go to WORK_DIR/<target>/<model>/ (default ./tuning); rerun to resume")
    t.add_argument("--name", help="model name for the records directory (default: the model's)")
    t.add_argument("--threads", type=threads_arg, default=0, help="cores the tuned code may use (0 = all)")
    t.add_argument("--rpc-host", help="RPC tracker host: measure on a remote board")
    t.add_argument("--rpc-port", type=int_arg(1), default=9190)
    t.add_argument("--rpc-key", help="the board's key at the tracker")
    t.add_argument("--from", dest="start_from", default="auto", metavar="LABEL",
                   help="a new session starts from these records (e.g. host-rocketlake), re-keyed for the target; "
                        "'auto' (default): the nearest compatible CPU's, printed; 'none': from scratch")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar with the time left (default: on a terminal)")
    t.set_defaults(fn=cmd_tune)

    q = sub.add_parser("tune-plan", help="choose per step between hand-written and TVM kernels, by measurement "
                       '("attocore[tvm]")', parents=[debug])
    q.add_argument("model", help="weight file or zoo name")
    q.add_argument("--target", choices=targets, default="host")
    q.add_argument("--threads", type=threads_arg, default=1, help="threads the profiles run with")
    q.add_argument("--runs", type=int_arg(1), default=20, help="profiled runs per configuration (medians)")
    q.add_argument("-o", "--output", help="plan file (default WORK_DIR/<model>.<target>.plan)")
    q.add_argument("--work-dir", default="tune-plan", help="kernels, build and inputs go here")
    q.add_argument("--records", help="tuning root to look in first")
    q.add_argument("--runner", help="an attocore-run already built with the kernels (skips export and build)")
    q.add_argument("--kernels", help="with --runner: the export-tvm directory it was built with")
    q.add_argument("--source", help="attocore source tree to build attocore-run from (default: this checkout)")
    q.add_argument("--exec-prefix", default="", help="run the runner through this, e.g. 'qemu-aarch64 -L ROOT'")
    q.add_argument("--min-gain", type=float, default=2.0, help="percent TVM must win by to be chosen")
    q.set_defaults(fn=cmd_tune_plan)

    x = sub.add_parser("export-tvm", help='cross-compile with TVM for a board, with per-layer kernel objects '
                       '("attocore[tvm]")', parents=[debug])
    x.add_argument("model", help="weight file or zoo name")
    x.add_argument("--target", choices=targets, default="aarch64")
    x.add_argument("-o", "--output", required=True, help="directory to write")
    x.add_argument("--tuned", action="store_true", help="require tuning records (default: use them if found)")
    x.add_argument("--untuned", action="store_true", help="ignore tuning records")
    x.add_argument("--records", help="tuning root to look in first (default ./tuning, then the shipped records)")
    x.add_argument("--kernels-only", action="store_true", help="skip the whole-network library")
    x.set_defaults(fn=cmd_export_tvm)

    b = sub.add_parser("bench", help="time the native executor", parents=[debug])
    b.add_argument("model")
    b.add_argument("--runs", type=int_arg(1), default=50)
    b.add_argument("--warmup", type=int_arg(0), default=5)
    b.add_argument("--batch", type=int_arg(1), default=1)
    b.add_argument("--threads", type=threads_arg, default=0, help="0 = all cores")
    b.add_argument("--profile", action="store_true", help="time per layer")
    b.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="fp16: fp16 GEMM kernels, ARMv8.2 cores with FEAT_FP16 only; bf16: bf16 GEMM kernels, "
                        "x86 CPUs with AVX512-BF16 only (README, Precision)")
    b.add_argument("--plot", metavar="OUT.png",
                   help="draw the profile: time and G multiply-adds/s per step under the FMA peak "
                        '(implies --profile; pip install "attocore[plot]")')
    b.set_defaults(fn=cmd_bench)
    return p


def one_line(e: BaseException) -> str:
    """The failure as one line: a missing optional package names its extra; attocore's own
    errors and the OS's say what they say; anything else gets its type. Never longer than a
    screen line or two (an argument's bytes must not end up on the terminal)."""
    if isinstance(e, ImportError):
        root = (e.name or "").split(".")[0]
        extra = EXTRAS.get(root)
        if extra:
            return f"this needs the optional package '{root}', which is missing or fails to import: " \
                   f'pip install "attocore[{extra}]"'
    from .errors import AttocoreError
    text = str(e) if isinstance(e, (AttocoreError, OSError, ValueError, UsageError)) else f"{type(e).__name__}: {e}"
    if isinstance(e, KeyError) and e.args:
        text = f"{type(e).__name__}: {e.args[0]}"
    text = "; ".join(part.strip().rstrip(":") for part in text.splitlines() if part.strip()) or type(e).__name__
    return text if len(text) <= 400 else text[:400] + "... (--debug for all of it)"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False) or os.environ.get("ATTOCORE_DEBUG", "") not in ("", "0")
    # A warning (an image much smaller than the input) is one line too.
    shown, warnings.showwarning = warnings.showwarning, lambda message, *_, **__: print(f"warning: {message}",
                                                                                        file=sys.stderr)
    try:
        rc = args.fn(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every failure ends in one line; --debug / ATTOCORE_DEBUG=1 for the traceback
        if debug:
            traceback.print_exc()
        code = 2 if isinstance(e, UsageError) else 1
        print(f"{parser.prog} {args.command}: error: {one_line(e)}" if code == 2 else f"error: {one_line(e)}",
              file=sys.stderr)
        return code
    finally:
        warnings.showwarning = shown
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
