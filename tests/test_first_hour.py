"""A new user's first hour, through the CLI in a subprocess and the Python API: every failure
ends in one `error: ...` line (exit 2 for usage, 1 for failures), never a traceback; arguments
are checked at the boundary; nothing half-written is left behind."""
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest

import attocore

CLI = [sys.executable, "-m", "attocore"]


def cli(*args, cwd=None, env=None, timeout=300):
    # Never the source tree as the working directory: `python -m` would import its attocore/,
    # which has no compiled extension, instead of the installed package.
    proc = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, cwd=cwd or tempfile.gettempdir(),
                          env=dict(os.environ, **(env or {})), timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def assert_one_line_error(rc, err, code, *needles):
    assert rc == code, (rc, err)
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") or lines[0].startswith("attocore") and ": error: " in lines[0], err
    for n in needles:
        assert n.lower() in lines[0].lower(), (n, lines[0])


@pytest.fixture()
def files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("these are not weights\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    atto = tmp_path / "d.atto"
    from attocore import format as fmt, zoo
    fmt.save(zoo.seeded_graph("attonet-d"), atto)
    return {"text": text, "dir": folder, "atto": atto, "tmp": tmp_path}


@pytest.mark.parametrize("command", ["run", "summary", "bench"])
def test_directory_as_model(files, command):
    rc, _, err = cli(command, files["dir"])
    assert_one_line_error(rc, err, 1, str(files["dir"]), "directory")


def test_text_file_as_model_names_the_file(files):
    rc, _, err = cli("run", files["text"])
    assert_one_line_error(rc, err, 1, str(files["text"]), "not an attocore model")


def test_onnx_file_as_model_points_at_convert(files):
    pytest.importorskip("onnx")
    import onnx
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    path = files["tmp"] / "net.onnx"
    onnx.save(helper.make_model(g), path)
    rc, _, err = cli("run", path)
    assert_one_line_error(rc, err, 1, "onnx", "attocore convert")


@pytest.mark.parametrize("which,needle", [("text", "not an onnx model"), ("atto", "attocore model already")])
def test_convert_refuses_non_onnx(files, which, needle):
    pytest.importorskip("onnx")
    out = files["tmp"] / "out.atto"
    rc, _, err = cli("convert", files[which], out)
    assert_one_line_error(rc, err, 1, needle)
    assert not out.exists()


def test_export_text_state_dict(files):
    pytest.importorskip("torch")
    rc, _, err = cli("export", "attonet-a", files["text"], files["tmp"] / "a.atto")
    assert_one_line_error(rc, err, 1, str(files["text"]), "state dict")


def test_export_wrong_class_count_is_inferred_or_named(files):
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    sd = files["tmp"] / "sd5.pt"
    torch.save(attonet("attonet-d", num_classes=5).state_dict(), sd)
    out = files["tmp"] / "d5.atto"
    rc, outp, err = cli("export", "attonet-d", sd, out)
    assert rc == 0, err  # the class count is read from the state dict
    assert attocore.load(out).run(np.zeros((1, 3, 224, 224), np.float32)).shape == (1, 5)
    rc, _, err = cli("export", "attonet-d", sd, out, "--num-classes", "7")
    assert_one_line_error(rc, err, 1, "5 classes", "--num-classes 5")


def test_export_other_architecture(files):
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    sd = files["tmp"] / "a.pt"
    torch.save(attonet("attonet-a").state_dict(), sd)
    rc, _, err = cli("export", "attonet-d", sd, files["tmp"] / "x.atto")
    assert_one_line_error(rc, err, 1, "attonet-d")


def test_export_to_a_directory_leaves_nothing(files):
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    sd = files["tmp"] / "d.pt"
    torch.save(attonet("attonet-d").state_dict(), sd)
    before = set(os.listdir(files["dir"]))
    rc, _, err = cli("export", "attonet-d", sd, files["dir"])
    assert_one_line_error(rc, err, 1, str(files["dir"]), "directory")
    assert set(os.listdir(files["dir"])) == before
    assert not [f for f in os.listdir(files["tmp"]) if f.endswith(".tmp")]


@pytest.mark.parametrize("args", [["bench", "attonet-d", "--runs", "0"], ["run", "attonet-d", "--threads", "-2"],
                                  ["run", "attonet-d", "--top-k", "0"], ["run", "attonet-d", "--top-k", "2.5"],
                                  ["bench", "attonet-d", "--batch", "0"]])
def test_bad_numbers_are_usage_errors(args):
    rc, _, err = cli(*args)
    assert rc == 2, err
    assert "Traceback" not in err
    assert "error:" in err.strip().splitlines()[-1]


def test_version():
    rc, out, err = cli("--version")
    assert rc == 0, err
    assert attocore.__version__ in out


def test_missing_extra_is_one_line():
    code = ("import sys; sys.modules['numba'] = None\n"
            "from attocore.cli import main\n"
            "sys.exit(main(['run', 'attonet-d', '--backend', 'numba']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert_one_line_error(proc.returncode, proc.stderr, 1, "numba", "pip install")


def test_debug_shows_the_traceback(files):
    rc, _, err = cli("run", files["text"], env={"ATTOCORE_DEBUG": "1"})
    assert rc == 1
    assert "Traceback" in err


def test_top_k_alias_of_the_runner():
    rc, out, err = cli("run", "attonet-d", "--top", "2")
    assert rc == 0, err
    assert " 2. " in out and " 3. " not in out


# --- the Python API ---------------------------------------------------------------------

@pytest.mark.parametrize("threads", [-1, 10**6, 2**31])
def test_api_threads_out_of_range(threads):
    with pytest.raises(ValueError, match="threads"):
        attocore.load("attonet-d", threads=threads)


def test_api_threads_wrong_type_is_short():
    with pytest.raises(TypeError) as info:
        attocore.load("attonet-d", threads="2")
    assert len(str(info.value)) < 200 and "threads" in str(info.value)


@pytest.mark.parametrize("top_k", [0, -1, 2.5, "3"])
def test_api_top_k_checked(top_k):
    with pytest.raises((ValueError, TypeError), match="top_k"):
        attocore.run("attonet-d", np.zeros((1, 3, 224, 224), np.float32), top_k=top_k)


def test_api_batch_gives_one_result_per_image():
    x = np.random.default_rng(0).standard_normal((5, 3, 224, 224)).astype(np.float32)
    results = attocore.run("attonet-d", x, top_k=3)
    assert isinstance(results, list) and len(results) == 5
    logits = attocore.load("attonet-d").run(x)
    for i, r in enumerate(results):
        assert r.top_k[0].index == int(np.argmax(logits[i]))


def test_api_batch_zero_says_at_least_one():
    with pytest.raises(attocore.InputError, match="N >= 1|at least 1"):
        attocore.load("attonet-d").run(np.zeros((0, 3, 224, 224), np.float32))


def test_api_float_hwc_array_reports_its_shape():
    with pytest.raises(attocore.InputError, match=r"224, 224, 3"):
        attocore.run("attonet-d", np.zeros((224, 224, 3), np.float32))


def test_api_tiny_image_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attocore.run("attonet-d", np.zeros((16, 16, 3), np.uint8))
    assert any("16x16" in str(w.message) for w in caught)


# --- more of the first hour: a pickled whole model, a directory as output, own preprocessing ----

def test_export_pickled_whole_model(files):
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    whole = files["tmp"] / "whole.pt"
    torch.save(attonet("attonet-d"), whole)
    rc, _, err = cli("export", "attonet-d", whole, files["tmp"] / "w.atto")
    assert_one_line_error(rc, err, 1, str(whole), "not a state dict", "state_dict()")


def test_convert_to_a_directory_is_refused_first(files):
    rc, _, err = cli("convert", files["text"], files["dir"])  # refused before the model is read
    assert_one_line_error(rc, err, 1, str(files["dir"]), "directory")
    assert os.listdir(files["dir"]) == []


def test_export_sets_preprocessing(files):
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    sd = files["tmp"] / "d3.pt"
    torch.save(attonet("attonet-d", num_classes=3).state_dict(), sd)
    labels = files["tmp"] / "labels.txt"
    labels.write_text("cat\ndog\n\nbird\n")
    out = files["tmp"] / "mine.atto"
    rc, _, err = cli("export", "attonet-d", sd, out, "--labels", labels, "--mean", "0.5,0.5,0.5",
                     "--std", "0.25 0.25 0.25", "--resize", "0", "--name", "pets")
    assert rc == 0, err
    md = attocore.load(out).metadata
    assert (md.name, md.labels, md.mean, md.std, md.resize) == ("pets", ("cat", "dog", "bird"), (0.5,) * 3,
                                                               (0.25,) * 3, 0)
    rc, _, err = cli("export", "attonet-d", sd, out, "--labels", files["text"])
    assert_one_line_error(rc, err, 1, "1 labels", "3 classes")
    rc, _, err = cli("export", "attonet-d", sd, out, "--std", "0,1,1")
    assert rc == 2 and "--std" in err.strip().splitlines()[-1]


def test_torch_export_api_takes_preprocessing(tmp_path):
    pytest.importorskip("torch")
    from attocore.torch import attonet, export
    path = tmp_path / "x.atto"
    export(attonet("attonet-d"), path, name="mine", mean=(0.1, 0.2, 0.3), std=(1, 1, 1), resize=240)
    md = attocore.load(path).metadata
    assert (md.name, md.resize) == ("mine", 240) and md.mean == pytest.approx((0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="std"):
        export(attonet("attonet-d"), tmp_path / "y.atto", std=(0, 1, 1))
    with pytest.raises(ValueError, match="resize"):
        export(attonet("attonet-d"), tmp_path / "y.atto", resize=100)
    assert sorted(os.listdir(tmp_path)) == ["x.atto"]


def test_convert_sets_preprocessing(files):
    pytest.importorskip("onnx")
    torch = pytest.importorskip("torch")
    from attocore.torch import attonet
    onnx_path = files["tmp"] / "d.onnx"
    from attocore.testing.torch_nets import export_onnx
    export_onnx(attonet("attonet-d", num_classes=2).eval(), onnx_path)
    labels = files["tmp"] / "labels.txt"
    labels.write_text("yes\nno\n")
    out = files["tmp"] / "c.atto"
    rc, _, err = cli("convert", onnx_path, out, "--labels", labels, "--mean", "0,0,0", "--std", "1,1,1",
                     "--resize", "224", "--name", "yesno")
    assert rc == 0, err
    md = attocore.load(out).metadata
    assert (md.name, md.labels, md.mean, md.std, md.resize) == ("yesno", ("yes", "no"), (0,) * 3, (1,) * 3, 224)


def test_save_failure_leaves_no_temporary(tmp_path, monkeypatch):
    from attocore import format as fmt, zoo
    graph = zoo.seeded_graph("attonet-d")

    def fail(*_):
        raise OSError("disk full")
    monkeypatch.setattr(fmt.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        fmt.save(graph, tmp_path / "d.atto")
    assert os.listdir(tmp_path) == []


def test_saved_file_mode_follows_the_umask(tmp_path):
    from attocore import format as fmt, zoo
    old = os.umask(0o022)
    try:
        fmt.save(zoo.seeded_graph("attonet-d"), tmp_path / "d.atto")
    finally:
        os.umask(old)
    assert (tmp_path / "d.atto").stat().st_mode & 0o777 == 0o644


def test_run_warning_is_one_line(files):
    from PIL import Image
    small = files["tmp"] / "small.png"
    Image.new("RGB", (16, 16)).save(small)
    rc, out, err = cli("run", "attonet-d", small)
    assert rc == 0, err
    assert err.strip().splitlines() == [err.strip()] and err.startswith("warning: ") and "16x16" in err


def test_bench_plot_draws_the_profile(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image
    out = tmp_path / "profile.png"
    rc, stdout, err = cli("bench", "attonet-d", "--runs", "5", "--warmup", "1", "--threads", "1", "--plot", out)
    assert rc == 0, err
    assert "sum of layers" in stdout and f"wrote {out}" in stdout  # --plot implies --profile
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width >= 800 and image.height >= 600
        colours = len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))
    assert colours > 20, "an empty canvas"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profile.png"]  # no temporary left


@pytest.mark.parametrize("where, needle", [("dir", "is a directory"), ("missing", "does not exist")])
def test_bench_plot_bad_output_is_refused_before_timing(files, where, needle):
    pytest.importorskip("matplotlib")
    out = files["dir"] if where == "dir" else files["tmp"] / "no" / "such" / "p.png"
    rc, _, err = cli("bench", "attonet-d", "--runs", "1000000", "--plot", out, timeout=120)
    assert_one_line_error(rc, err, 1, needle)
    assert list(files["dir"].iterdir()) == []


def test_profile_plot_colours_by_step_kind(tmp_path):
    pytest.importorskip("matplotlib")
    from attocore.profile_plot import ProfiledStep, kernel_family, plot_profile
    assert kernel_family("dwconv_avx512+pwpw+res+next:gemm_6x32_avx512") == "dwconv+pwpw"
    assert kernel_family("conv1x1:gemm_6x8_quads_avx512") == kernel_family("conv1x1:gemm_4x16_neon") == "conv1x1"
    assert kernel_family("global_avgpool_ref") == "global_avgpool"
    steps = [ProfiledStep("stem", "stem_avx2", 5_000_000, 4e-4), ProfiledStep("pool", "maxpool2d_avx2", 0, 1e-4),
             ProfiledStep("m1", "dwconv_avx2+pwpw+res:gemm_6x16_avx2", 9_000_000, 0.0)]  # a zero time is drawn, not a crash
    plot_profile(steps, 100.0, "t", tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 10_000
