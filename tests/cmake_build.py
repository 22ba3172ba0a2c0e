"""Configure, build and ctest the C++ tree out of the source (shared by the C++ test files)."""
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(build_dir, *defines, env=None, targets=None):
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", ROOT, "-B", str(build_dir), "-DATTOCORE_BUILD_TESTS=ON", "-DATTOCORE_BUILD_PYTHON=OFF",
                    *defines] + generator, check=True, capture_output=True, env=env)
    cmd = ["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)]
    if targets:
        cmd += ["--target", *targets]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def ctest(build_dir, env=None, timeout=900):
    """Runs ctest verbosely (each test's own output is returned, for assertions on it)."""
    proc = subprocess.run(["ctest", "-V", "--output-on-failure"], cwd=build_dir, capture_output=True, text=True, env=env,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "100% tests passed" in proc.stdout
    return proc.stdout
