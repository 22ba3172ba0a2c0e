"""The attocore command line: run, summary, export, convert, tune, export-tvm, bench."""
from __future__ import annotations

import argparse
import sys
import time
from importlib import resources

import numpy as np

from .errors import AttocoreError


def sample_image_path() -> str:
    return str(resources.files("attocore") / "data" / "sample.jpg")


def _tuned_flag(args):
    return True if getattr(args, "tuned", False) else False if getattr(args, "untuned", False) else None


def cmd_run(args) -> None:
    from .api import run
    image = args.image or sample_image_path()
    if (args.tuned or args.untuned) and args.backend != "tvm":
        raise SystemExit("error: --tuned/--untuned apply to --backend tvm")
    result = run(args.model, image, top_k=args.top_k, backend=args.backend, threads=args.threads,
                 tuned=_tuned_flag(args))
    print(f"image: {image}")
    print(result)


def cmd_summary(args) -> None:
    from . import summary
    s = summary(args.model)
    print(s)
    print(f"parameters: {s.params:,}   multiply-adds: {s.macs:,}")


def cmd_export(args) -> None:
    from .importers.torch import export, load_state_dict
    net = load_state_dict(args.name, args.state_dict, args.num_classes)
    labels = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
        if len(labels) != args.num_classes:
            raise SystemExit(f"error: {len(labels)} labels for {args.num_classes} classes")
    export(net, args.output, labels=labels)
    print(f"wrote {args.output}")


def cmd_convert(args) -> int:
    from .importers.onnx import check, convert
    problems = check(args.model)
    if args.check:
        for p in problems:
            print(p)
        print(f"{len(problems)} problem(s) in {args.model}" if problems else f"{args.model}: convertible")
        return 1 if problems else 0
    if not args.output:
        raise SystemExit("error: give OUT.atto (or --check)")
    g = convert(args.model, args.output, name=args.name)
    print(f"wrote {args.output}: {len(g.ops)} ops, input {g.metadata.input_shape}")
    return 0


def cmd_tune(args) -> None:
    from .backends.tvm.records import model_slug
    from .backends.tvm.tune import tune
    from .model import read_graph
    graph = read_graph(args.model)
    rpc = None
    if args.rpc_host or args.rpc_key:
        if not (args.rpc_host and args.rpc_key):
            raise SystemExit("error: an RPC session needs --rpc-host and --rpc-key (and --rpc-port)")
        rpc = {"host": args.rpc_host, "port": args.rpc_port, "key": args.rpc_key}
    report = tune(graph, args.name or model_slug(graph), target_name=args.target, trials=args.trials,
                  root=args.work_dir, threads=args.threads, rpc=rpc, log=lambda m: print(m, flush=True))
    print(f"records: {report.records_dir} ({report.trials_run} trials this session, "
          f"{report.seconds / 60:.1f} min; {report.skipped_tasks}/{report.tasks} tasks were already done)")


def cmd_export_tvm(args) -> None:
    from .backends.tvm.export import export
    from .model import read_graph
    export(read_graph(args.model), args.output, target_name=args.target, tuned=_tuned_flag(args),
           records_root=args.records, whole_network=not args.kernels_only,
           log=lambda m: print(m, flush=True))
    print(f"build the runner with them: cmake -DATTOCORE_TVM_KERNELS={args.output} ... ; "
          f"attocore-run MODEL IMAGE --tvm-layers all")


def cmd_bench(args) -> None:
    from .model import load
    m = load(args.model, threads=args.threads)
    x = np.random.default_rng(0).standard_normal((args.batch,) + m.input_shape).astype(np.float32)
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
    if args.profile:
        runs = [m.profile(x)[1] for _ in range(max(5, args.runs // 5))]
        wl = max(len("layer"), max(len(r[0]) for r in runs[0]))
        wk = max(len("kernel"), max(len(r[1]) for r in runs[0]))
        print(f"{'layer':<{wl}} {'kernel':<{wk}} {'MMACs':>8} {'ms':>8} {'GMAC/s':>8} {'%':>6}")
        total = sum(float(np.median([r[i][3] for r in runs])) for i in range(len(runs[0])))
        for i, (name, kernel, macs_l, _) in enumerate(runs[0]):
            t = float(np.median([r[i][3] for r in runs]))
            rate = f"{macs_l * args.batch / t / 1e9:8.2f}" if macs_l and t > 0 else f"{'':>8}"
            print(f"{name:<{wl}} {kernel:<{wk}} {macs_l / 1e6:8.2f} {t * 1e3:8.3f} {rate} {100 * t / total:6.1f}")
        print(f"{'sum of layers':<{wl}} {'':<{wk}} {'':>8} {total * 1e3:8.3f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="attocore", description="AttoNet inference on CPUs")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="classify an image")
    r.add_argument("model", help="weight file or zoo name (attonet-a .. attonet-d)")
    r.add_argument("image", nargs="?", help="JPEG/PNG (default: the bundled sample image)")
    r.add_argument("--top-k", type=int, default=5)
    r.add_argument("--backend", choices=["native", "numba", "tvm"], default="native")
    r.add_argument("--threads", type=int, default=0, help="0 = all cores")
    r.add_argument("--tuned", action="store_true", help="tvm: require tuning records (default: use them if found)")
    r.add_argument("--untuned", action="store_true", help="tvm: ignore tuning records")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("summary", help="per-layer parameters and multiply-adds")
    s.add_argument("model")
    s.set_defaults(fn=cmd_summary)

    e = sub.add_parser("export", help="write a weight file from a saved PyTorch state dict")
    e.add_argument("name", help="zoo architecture of the state dict (attonet-a .. attonet-d)")
    e.add_argument("state_dict", help="file saved by torch.save(net.state_dict())")
    e.add_argument("output", help="weight file to write (.atto)")
    e.add_argument("--num-classes", type=int, default=51)
    e.add_argument("--labels", help="text file with one class label per line")
    e.set_defaults(fn=cmd_export)

    c = sub.add_parser("convert", help="convert an ONNX model to the attocore weight format")
    c.add_argument("model", help="MODEL.onnx")
    c.add_argument("output", nargs="?", help="OUT.atto")
    c.add_argument("--check", action="store_true", help="list every problem that blocks conversion, then stop")
    c.add_argument("--name", help="model name stored in the file")
    c.set_defaults(fn=cmd_convert)

    targets = ["host", "aarch64", "rpi4", "armv7"]
    t = sub.add_parser("tune", help="tune the TVM backend for a model with MetaSchedule (resumable)")
    t.add_argument("model", help="weight file or zoo name")
    t.add_argument("--target", choices=targets, default="host")
    t.add_argument("--trials", type=int, default=2048,
                   help="total measured trials, split evenly over the tasks (at least 4 each)")
    t.add_argument("--work-dir", default="tuning",
                   help="records go to WORK_DIR/<target>/<model>/ (default ./tuning); rerun to resume")
    t.add_argument("--name", help="model name for the records directory (default: the model's)")
    t.add_argument("--threads", type=int, default=0, help="cores the tuned code may use (0 = all)")
    t.add_argument("--rpc-host", help="RPC tracker host: measure on a remote board")
    t.add_argument("--rpc-port", type=int, default=9190)
    t.add_argument("--rpc-key", help="the board's key at the tracker")
    t.set_defaults(fn=cmd_tune)

    x = sub.add_parser("export-tvm", help="cross-compile with TVM for a board, with per-layer kernel objects")
    x.add_argument("model", help="weight file or zoo name")
    x.add_argument("--target", choices=targets, default="aarch64")
    x.add_argument("-o", "--output", required=True, help="directory to write")
    x.add_argument("--tuned", action="store_true", help="require tuning records (default: use them if found)")
    x.add_argument("--untuned", action="store_true", help="ignore tuning records")
    x.add_argument("--records", help="tuning root to look in first (default ./tuning, then the shipped records)")
    x.add_argument("--kernels-only", action="store_true", help="skip the whole-network library")
    x.set_defaults(fn=cmd_export_tvm)

    b = sub.add_parser("bench", help="time the native executor")
    b.add_argument("model")
    b.add_argument("--runs", type=int, default=50)
    b.add_argument("--warmup", type=int, default=5)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--profile", action="store_true", help="time per layer")
    b.set_defaults(fn=cmd_bench)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rc = args.fn(args)
        if isinstance(rc, int):
            return rc
    except (AttocoreError, OSError, KeyError, ValueError) as e:  # OSError: a missing file, a FIFO
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
