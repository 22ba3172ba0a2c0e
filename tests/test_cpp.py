"""The C++ core alone (no Python) with CMake: its ctest suite natively, and again built
with AddressSanitizer + UndefinedBehaviorSanitizer; the thread pool's test with
ThreadSanitizer; a build with an instruction set family switched off; and that the ISA
files share no code with the rest of the build."""
import glob
import os
import platform
import re
import subprocess

import pytest

from cmake_build import ROOT, build, ctest


def test_ctest_passes(cpp_build):
    out = ctest(cpp_build)
    for name in ("test_gemm_kernels", "test_dwconv_kernels", "test_conv_kernels", "test_pwpw_kernels",
                 "test_dw_pwpw_kernels", "test_mbconv_kernels", "test_fusion_patterns", "test_capi", "test_model_file",
                 "test_thread_pool", "test_memory_budget", "test_qgemm_kernels", "test_qdwconv_kernels",
                 "test_qadd_kernels", "test_qmaxpool_kernels", "test_quantize_kernels", "test_int8_overread", "test_fp16_kernels", "test_fp16_dwconv_kernels", "test_bf16_kernels"):
        assert name in out


def test_isa_objects_share_no_inline_code(cpp_build):
    """An inline function or template instance an AVX2 or AVX-512 file emits is a weak symbol
    the linker may pick for every user, so code compiled for AVX-512 could run on a CPU
    without it: kernel code stays in anonymous namespaces (simd/ and the kernel templates)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("not an x86 machine: there are no AVX2/AVX-512 objects to check")
    objects = glob.glob(os.path.join(str(cpp_build), "CMakeFiles", "attocore_core.dir", "csrc", "kernels", "**",
                                     "*_avx*.cpp.o"), recursive=True)
    assert len(objects) >= 8, objects
    for obj in objects:
        syms = subprocess.run(["nm", "-C", obj], capture_output=True, text=True, check=True).stdout.splitlines()
        weak = [line for line in syms if re.match(r"[0-9a-f]+ [WVu] ", line)]
        assert not weak, f"{obj}: weak symbols {weak[:5]}"


def test_build_without_avx512(tmp_path):
    """ATTOCORE_ENABLE_AVX512=OFF: the build works without the AVX-512 sources, the testers
    run the other tables, and the dispatch log says why AVX-512 was declined (only the
    targets it needs are built)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("not an x86 machine: ATTOCORE_ENABLE_AVX512 is an x86 build option")
    build(tmp_path, "-DCMAKE_BUILD_TYPE=Release", "-DATTOCORE_ENABLE_AVX512=OFF",
          targets=["test_gemm_kernels", "test_capi"])
    syms = subprocess.run(["nm", "-C", str(tmp_path / "libattocore_core.a")], capture_output=True, text=True,
                          check=True).stdout
    assert "gemm_6x32_avx512" not in syms and "gemm_6x16_avx2" in syms
    env = dict(os.environ, ATTOCORE_TEST_SMALL="1", ATTOCORE_LOG="dispatch")
    gemm = subprocess.run([str(tmp_path / "test_gemm_kernels")], capture_output=True, text=True, env=env, timeout=600)
    assert gemm.returncode == 0, gemm.stdout[-3000:] + gemm.stderr[-3000:]
    assert "ref: gemm kernels checked" in gemm.stdout and "avx512" not in gemm.stdout
    capi = subprocess.run([str(tmp_path / "test_capi")], capture_output=True, text=True, env=env, timeout=300)
    assert capi.returncode == 0, capi.stdout[-3000:] + capi.stderr[-3000:]
    assert "attocore dispatch: declined avx512: not compiled (ATTOCORE_ENABLE_AVX512=OFF)" in capi.stderr
    assert "all checks passed" in capi.stdout and "avx512 kernels" not in capi.stdout


def test_avx512_without_avx2_is_refused(tmp_path):
    """The AVX-512 table takes AVX2's max pool: switching AVX2 off alone is a configure error
    that says so."""
    proc = subprocess.run(["cmake", "-S", ROOT, "-B", str(tmp_path), "-DATTOCORE_BUILD_PYTHON=OFF",
                           "-DATTOCORE_ENABLE_AVX2=OFF"], capture_output=True, text=True)
    assert proc.returncode != 0 and "ATTOCORE_ENABLE_AVX512 needs ATTOCORE_ENABLE_AVX2" in proc.stderr


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
