#!/usr/bin/env bash
# An emulated aarch64 board for the TVM tuning farm: an aarch64 Debian root with Python and
# apache-tvm, whose `rpc_server` runs under qemu-user and registers with a tracker on
# 127.0.0.1. Tuning for `--target aarch64` then cross-builds every candidate on this host
# (aarch64-linux-gnu-g++ links it to a .so: the root has no compiler) and measures it on the
# "board". Timings under qemu mean nothing; this proves the farm path, not speed.
#
#   scripts/emulated_board.sh setup ROOT                 # once: ~0.7 GB, a few minutes
#   scripts/emulated_board.sh server ROOT TRACKER_PORT KEY   # the board's rpc_server (foreground)
#   scripts/emulated_board.sh demo ROOT [TRIALS [WORK]]  # tracker + board + a tiny aarch64 session
#
# Needs (Debian): debootstrap qemu-user g++-aarch64-linux-gnu. Never `dpkg --add-architecture
# arm64` on the host: installing python3:arm64 that way removes the host's Python.
set -euo pipefail
cmd=${1:?usage: $0 setup|server|demo ROOT ...}
root=$(realpath -m "${2:?give the root directory}")
here=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
TVM_PINS=(apache-tvm==0.27.0.post1 apache-tvm-ffi==0.1.14.post0 ml_dtypes typing_extensions psutil cloudpickle tornado)

board_python() { "$root/board-python" "$@"; }

write_wrapper() {
  # qemu-user cannot exec another aarch64 program by itself (no binfmt_misc here, and none is
  # registered: that would change the host for everyone): the board's Python reports this
  # wrapper as sys.executable, so the workers TVM's rpc_server starts come up under qemu too.
  cat > "$root/board-python" <<'WRAPPER'
#!/bin/sh
# The emulated board's Python: aarch64 python3 under qemu-user, with the wheels in opt/tvm.
root=$(dirname "$(readlink -f "$0")")
exec env PYTHONPATH="$root/opt/tvm" PYTHONNOUSERSITE=1 TVM_NUM_THREADS="${TVM_NUM_THREADS:-1}" \
  ATTOCORE_BOARD_PYTHON="$root/board-python" qemu-aarch64 -L "$root" "$root/usr/bin/python3" "$@"
WRAPPER
  chmod +x "$root/board-python"
  cat > "$root/opt/tvm/sitecustomize.py" <<'SITE'
# Children of the board's Python (TVM's popen workers) must start through the qemu wrapper.
import os
import sys

if os.environ.get("ATTOCORE_BOARD_PYTHON"):
    sys.executable = os.environ["ATTOCORE_BOARD_PYTHON"]
SITE
}

case "$cmd" in
setup)
  command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  if [ ! -x "$root/usr/bin/python3" ]; then
    # --foreign only fetches and unpacks the base; the .debs it fetched are unpacked by hand
    # (the second stage would need to run aarch64 maintainer scripts).
    debootstrap --foreign --arch=arm64 --variant=minbase --include=python3 bookworm "$root" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
    for deb in "$root"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$root"; done
  fi
  # apache-tvm and its dependencies as aarch64 wheels, installed into ROOT/opt/tvm.
  if [ ! -d "$root/opt/tvm/tvm" ]; then
    $PY -m pip install -q --target "$root/opt/tvm" --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
      --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all: "${TVM_PINS[@]}"
  fi
  write_wrapper
  board_python -c "import platform, sys, tvm; print('board python', platform.machine(), sys.executable, 'tvm', tvm.__version__)"
  ;;
server)
  port=${3:?tracker port}; key=${4:?key}
  exec "$root/board-python" -m tvm.exec.rpc_server --host 127.0.0.1 \
    --port "${BOARD_PORT:-9290}" --port-end "$(( ${BOARD_PORT:-9290} + 50 ))" \
    --tracker "127.0.0.1:$port" --key "$key"
  ;;
demo)
  exec $PY "$here/scripts/emulated_board_demo.py" "$root" "${3:-4}" ${4:+"$4"}
  ;;
*)
  echo "usage: $0 setup|server|demo ROOT ..." >&2; exit 2 ;;
esac
