#!/usr/bin/env bash
# Runs the structure-aware campaign (fuzz/structured_fuzz.py: valid random graphs checked
# against the reference path, semantic mutations through both readers), which also feeds
# libFuzzer's corpus, then builds the libFuzzer target (clang, ASan + UBSan) and runs it and
# the atheris target, SECONDS each.
#   fuzz/run.sh [SECONDS=60] [WORK_DIR=build-fuzz]
# Needs clang-14 and libclang-rt-14-dev (apt-get) and atheris (pip), and attocore installed.
# Crashes are written to WORK_DIR/crashes/ and WORK_DIR/structured/{crashes,findings}/; add
# each to tests/data/regressions/ (scripts/make_regressions.py) once fixed.
set -euo pipefail
seconds=${1:-60}
work=${2:-build-fuzz}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/crashes" "$work/corpus-cpp" "$work/corpus-py"
python "$root/fuzz/make_corpus.py" "$work/seeds" --generated 300
python "$root/fuzz/structured_fuzz.py" --seconds "$seconds" --out "$work/structured" --corpus "$work/corpus-cpp" \
  || echo "structured campaign: findings in $work/structured (see findings.txt, crashes/)"
cmake -S "$root" -B "$work/build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 \
  -DATTOCORE_BUILD_FUZZERS=ON -DATTOCORE_BUILD_TESTS=OFF -DATTOCORE_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$work/build" --target loader_fuzzer -j
"$work/build/loader_fuzzer" "$work/corpus-cpp" "$work/seeds" -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix="$work/crashes/" -print_final_stats=1 2>&1 | tail -n 25
python "$root/fuzz/format_fuzzer.py" "$work/corpus-py" "$work/seeds" -max_total_time="$seconds" -max_len=65536 \
  -artifact_prefix="$work/crashes/" -print_final_stats=1 2>&1 | tail -n 25
