"""Apache TVM as a second kernel source (docs/DESIGN.md, "TVM as a second kernel source"):

    library   TVM itself, imported on first use
    target    the host and the named ARM boards
    build     the graph as a Relax module, fused, compiled, cached
    records   where tuning records live, and applying them
    tune      MetaSchedule tuning sessions (attocore tune)
    export    cross-compiled networks and per-layer kernels for the native runtime (attocore export-tvm)
    backend   backend="tvm": compile on first run, run in the Relax VM
"""
