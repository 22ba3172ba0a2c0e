#!/usr/bin/env bash
# Builds the libFuzzer target (clang, ASan + UBSan) and runs both fuzzers for SECONDS each.
#   fuzz/run.sh [SECONDS=60] [WORK_DIR=build-fuzz]
# Needs clang-14 and libclang-rt-14-dev (apt-get) and atheris (pip). Crashes are written to
# WORK_DIR/crashes/; add each to tests/data/regressions/ once fixed.
set -euo pipefail
seconds=${1:-60}
work=${2:-build-fuzz}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/crashes" "$work/corpus-cpp" "$work/corpus-py"
python "$root/fuzz/make_corpus.py" "$work/seeds"
cmake -S "$root" -B "$work/build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
  -DATTOCORE_BUILD_FUZZERS=ON -DATTOCORE_BUILD_TESTS=OFF -DATTOCORE_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$work/build" --target loader_fuzzer -j
"$work/build/loader_fuzzer" "$work/corpus-cpp" "$work/seeds" -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix="$work/crashes/" -print_final_stats=1 2>&1 | tail -n 25
python "$root/fuzz/format_fuzzer.py" "$work/corpus-py" "$work/seeds" -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix="$work/crashes/" -print_final_stats=1 2>&1 | tail -n 25
