"""Apache TVM as a second kernel source (docs/DESIGN.md, "TVM as a second kernel source"):

    library   TVM itself, imported on first use
    target    the host and the named ARM boards
    build     the graph as a Relax module, fused, compiled, cached
    records   where tuning records live, which serve a CPU without its own, applying them
    rpc       an RPC tracker's queue, and a local farm of rpc_servers (tests, emulated boards)
    progress  what a tuning session shows: progress bar, a line per task, the time-saved table
    tune      MetaSchedule tuning sessions (attocore tune)
    plan      kernel plan files: which steps run on linked TVM kernels (no TVM needed)
    tune_plan choosing them by measurement (attocore tune-plan)
    export    cross-compiled networks and per-layer kernels for the native runtime (attocore export-tvm)
    backend   backend="tvm": compile on first run, run in the Relax VM
"""
