"""The farm path with an emulated board (see scripts/emulated_board.sh): a tracker on
127.0.0.1, an aarch64 rpc_server under qemu-user registering with it, and a tuning session
for `--target aarch64` that cross-builds here and measures there. Everything is stopped at
the end. Timings under qemu mean nothing.

    python scripts/emulated_board_demo.py ROOT [TRIALS_PER_TASK] [WORK_DIR]
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path


from attocore import format as fmt
from attocore.testing.tiny_graphs import three_task_graph
from attocore.backends.tvm.rpc import LocalFarm, describe_queue, queue_state


def tiny_graph():
    return three_task_graph("tiny-board", seed=5)


def main(root: str, trials_per_task: int = 4, work=None) -> int:
    root = Path(root).resolve()
    if not (root / "board-python").is_file() or not (root / "opt" / "tvm" / "tvm").is_dir():
        print(f"{root}: no aarch64 Python with TVM; run scripts/emulated_board.sh setup {root}", file=sys.stderr)
        return 1
    work = Path(work or tempfile.mkdtemp(prefix="attocore-board-"))
    work.mkdir(parents=True, exist_ok=True)
    model = work / "tiny-board.atto"
    fmt.save(tiny_graph(), model)
    board = [str(root / "board-python")]  # aarch64 python3 under qemu-user (emulated_board.sh setup)
    start = time.time()
    with LocalFarm(key="emulated-aarch64", servers=1, server_command=board, start_timeout=900,
                   log_dir=work / "farm-logs") as farm:
        print(f"board registered after {time.time() - start:.0f} s: "
              f"{describe_queue(queue_state(farm.host, farm.port, farm.key), farm.key)}", flush=True)
        cmd = [sys.executable, "-m", "attocore", "tune", str(model), "--target", "aarch64", "--from", "none",
               "--trials", str(trials_per_task), "--work-dir", str(work / "tuning"),
               "--rpc-host", farm.host, "--rpc-port", str(farm.port), "--rpc-key", farm.key]
        print(" ".join(cmd), flush=True)
        rc = subprocess.run(cmd, timeout=3600).returncode
    records = work / "tuning" / "aarch64" / "tiny-board" / "database_tuning_record.json"
    n = len(records.read_text().splitlines()) if records.is_file() else 0
    print(f"{'OK' if rc == 0 and n else 'FAILED'}: {n} records measured on the emulated board in "
          f"{time.time() - start:.0f} s ({records})")
    return 0 if rc == 0 and n else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4, sys.argv[3] if len(sys.argv) > 3 else None))
