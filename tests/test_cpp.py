"""The C++ core alone (no Python) with CMake: its ctest suite natively, and again built
with AddressSanitizer + UndefinedBehaviorSanitizer."""
import os

from cmake_build import build, ctest


def test_ctest_passes(cpp_build):
    out = ctest(cpp_build)
    for name in ("test_gemm_kernels", "test_dwconv_kernels", "test_conv_kernels", "test_pwpw_kernels",
                 "test_dw_pwpw_kernels", "test_mbconv_kernels", "test_capi", "test_model_file", "test_thread_pool"):
        assert name in out


def test_ctest_clean_under_asan_and_ubsan(tmp_path):
    flags = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
    build(tmp_path, "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DCMAKE_CXX_FLAGS={flags}", f"-DCMAKE_C_FLAGS={flags}",
          f"-DCMAKE_EXE_LINKER_FLAGS={flags}", f"-DCMAKE_SHARED_LINKER_FLAGS={flags}")
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1",
               ATTOCORE_TEST_SMALL="1")
    ctest(tmp_path, env=env)
