"""The peak memory of this process, for tests and benchmarks that bound what a run allocates."""


def peak_rss_bytes():
    """The high-water resident set of this process's own address space (Linux VmHWM).

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: the kernel carries that value across execve from the
    address space the child was spawned from, and Python's subprocess spawns with vfork, so a
    child started by a 1.5 GB pytest process reports 1.5 GB before it allocates anything."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")
