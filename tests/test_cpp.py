"""Builds the C++ core and its tests with CMake (no Python) and runs them with ctest."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def cpp_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("cpp-build")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", ROOT, "-B", str(build), "-DATTOCORE_BUILD_TESTS=ON",
                    "-DATTOCORE_BUILD_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release"] + generator,
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2)], check=True, capture_output=True)
    return build


def test_ctest_passes(cpp_build):
    proc = subprocess.run(["ctest", "--output-on-failure"], cwd=cpp_build, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "100% tests passed" in proc.stdout
