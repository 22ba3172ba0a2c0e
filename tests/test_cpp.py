"""The C++ core alone (no Python) with CMake: its ctest suite natively, and again built
with AddressSanitizer + UndefinedBehaviorSanitizer; the thread pool's test with
ThreadSanitizer."""
import os
import subprocess

from cmake_build import ROOT, build, ctest


def test_ctest_passes(cpp_build):
    out = ctest(cpp_build)
    for name in ("test_gemm_kernels", "test_dwconv_kernels", "test_conv_kernels", "test_pwpw_kernels",
                 "test_dw_pwpw_kernels", "test_mbconv_kernels", "test_fusion_patterns", "test_capi", "test_model_file",
                 "test_thread_pool", "test_memory_budget"):
        assert name in out


def test_ctest_clean_under_asan_and_ubsan(tmp_path):
    flags = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    build(tmp_path, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_CXX_FLAGS={flags}", f"-DCMAKE_C_FLAGS={flags}",
          f"-DCMAKE_EXE_LINKER_FLAGS={flags}", f"-DCMAKE_SHARED_LINKER_FLAGS={flags}")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1",
               ATTOCORE_TEST_SMALL="1")
    ctest(tmp_path, env=env)


def test_thread_pool_clean_under_tsan(tmp_path):
    """The pool's lock-free piece claims under ThreadSanitizer (its own test only: a TSan
    build of the whole tree would take minutes)."""
    exe = tmp_path / "test_thread_pool_tsan"
    src = [os.path.join(ROOT, p) for p in ("tests/cpp/test_thread_pool.cpp", "csrc/util/thread_pool.cpp",
                                           "csrc/util/worker_placement.cpp")]
    subprocess.run(["g++", "-std=c++17", "-O1", "-g", "-fsanitize=thread", "-I" + os.path.join(ROOT, "csrc"),
                    "-I" + os.path.join(ROOT, "tests", "cpp"), '-DATTOCORE_TEST_DATA_DIR=""', *src, "-o", str(exe),
                    "-lpthread"], check=True, capture_output=True)
    for _ in range(3):  # races show up by chance: a few runs
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, TSAN_OPTIONS="halt_on_error=1"))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "ThreadSanitizer" not in proc.stderr, proc.stderr[-3000:]
        assert "all checks passed" in proc.stdout
