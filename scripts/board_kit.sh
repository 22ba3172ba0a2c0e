#!/bin/sh
# Board kit: measure attocore on an ARM board and print the table benchmarks/arm_model.py
# estimates, row for row (| net | board | threads | ms |), so the two can be compared.
#
# On the workstation (x86, attocore installed, cross compiler as in the README):
#   scripts/board_kit.sh prepare KIT_DIR [-mcpu=cortex-a72]
#     cross-builds attocore-run for aarch64 (with that -mcpu if given: the model's loops are
#     compiled for the core's -mcpu), writes the nets (AttoNet-A..D, MobileNet-V2) as .atto
#     files and copies this script into KIT_DIR (the build goes to $BUILD_DIR, default
#     /tmp/attocore-board-kit-build).
# On the board (no Python needed):
#   scp -r KIT_DIR pi@board:   then   ssh pi@board 'cd KIT_DIR && sh board_kit.sh run'
#   sh board_kit.sh run [--runs N] [--threads "1 4"] [--board NAME] [MODEL.atto ...]
#     default: every .atto here, 50 timed runs, 1 and 4 threads, the board from its device tree.
# ATTOCORE_RUN (default ./attocore-run) and EMULATOR (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu",
# for trying the kit on the workstation; its times mean nothing) override the runner.
set -eu

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

hardware() {
  model=$(cat /proc/device-tree/model 2>/dev/null | tr -d '\0')
  echo "${model:-$(uname -m)}"
}

board_name() {
  model=$(hardware)
  case "$model" in
    *"Raspberry Pi 5"*) echo pi5 ;;
    *"Raspberry Pi 4"*) echo pi4 ;;
    *"Raspberry Pi 3 Model B Plus"*) echo pi3b+ ;;
    *) echo "$model" | tr ' ' '-' ;;
  esac
}

prepare() {
  [ $# -ge 1 ] || usage
  kit=$1
  mcpu=${2:-}
  root=$(cd "$(dirname "$0")/.." && pwd)
  build=${BUILD_DIR:-${TMPDIR:-/tmp}/attocore-board-kit-build}  # not in the kit: it is copied whole
  mkdir -p "$kit"
  flags=""
  [ -n "$mcpu" ] && flags="$mcpu"
  cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DATTOCORE_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="$flags" >/dev/null
  cmake --build "$build" -j 2 --target attocore-run >/dev/null
  cp "$build/attocore-run" "$0" "$kit/"
  python "$root/benchmarks/perfmodel/make_nets.py" "$kit"
  echo "kit ready in $kit: copy it to the board and run 'sh board_kit.sh run' there"
}

run() {
  runs=50
  threads="1 4"
  board=$(board_name)
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) runs=$2; shift 2 ;;
      --threads) threads=$2; shift 2 ;;
      --board) board=$2; shift 2 ;;
      -h|--help) usage ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || set -- *.atto
  [ -e "$1" ] || { echo "error: no .atto files (make them with 'board_kit.sh prepare')" >&2; exit 1; }
  runner=${ATTOCORE_RUN:-./attocore-run}
  image=${TMPDIR:-/tmp}/board_kit_input.ppm
  # A flat grey 16x16 image: attocore-run resizes it to each net's input (the times do not
  # depend on the pixels).
  { printf 'P6\n16 16\n255\n'; head -c 768 /dev/zero | tr '\0' '\200'; } > "$image"
  freq=$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq 2>/dev/null || echo "?")
  echo "## Measured on $board ($(hardware); cpu0 at ${freq} kHz; $runs runs, median)"
  echo
  echo "| net | board | threads | ms |"
  echo "|---|---|---|---|"
  for model in "$@"; do
    net=$(basename "$model" .atto)
    for t in $threads; do
      # shellcheck disable=SC2086  # EMULATOR is a command line
      out=$(${EMULATOR:-} "$runner" "$model" "$image" --threads "$t" --bench "$runs" --top 1)
      ms=$(echo "$out" | sed -n 's/^bench: .* median \([0-9.]*\) ms.*/\1/p')
      [ -n "$ms" ] || { echo "error: no timing from $runner on $model: $out" >&2; exit 1; }
      printf '| %s | %s | %s | %.2f |\n' "$net" "$board" "$t" "$ms"
    done
  done
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  prepare) prepare "$@" ;;
  run) run "$@" ;;
  *) usage ;;
esac
