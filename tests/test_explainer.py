"""The shape explainer, ``convcheck explain``: shape equation, arithmetic, table, argument errors."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from convcheck.impls.registry import Entry
from convcheck.properties.explain import main

from convcheck import impls

REPOSITORY = Path(__file__).resolve().parents[1]
SIZE_LAB = ["--input", "1,1,6,6", "--out-channels", "2", "--kernel", "3", "--stride", "2", "--padding", "1"]


def explain(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def table_rows(out: str) -> dict[str, str]:
    """Rows of the implementations table, by implementation name."""
    rows = out.split("Implementations (", 1)[1].splitlines()[2:]
    return {row.split()[0]: row for row in rows if row.strip() and not row.startswith(("err/", "agrees", " "))}


def test_size_lab_prints_the_seed_shapes_and_arithmetic(capsys):
    status, out, err = explain(capsys, *SIZE_LAB)
    assert status == 0, out + err
    assert "input: (1, 1, 6, 6)" in out
    assert "output: (1, 2, 3, 3)" in out
    assert "H_out = floor((6 + 2*1 - 1*(3-1) - 1) / 2) + 1 = floor(5 / 2) + 1 = 3" in out
    assert "W_out = floor((6 + 2*1 - 1*(3-1) - 1) / 2) + 1 = floor(5 / 2) + 1 = 3" in out
    assert "Input   [N, C_in, H, W]" in out
    assert "= [1, 1, 6, 6]" in out
    assert "Kernel  [C_out, C_in/groups, kH, kW]  = [2, 1, 3, 3]" in out
    assert "Output  [N, C_out, H_out, W_out]      = [1, 2, 3, 3]" in out


def test_every_supporting_implementation_is_in_the_table(capsys):
    status, out, _ = explain(capsys, *SIZE_LAB)
    rows = table_rows(out)
    assert set(rows) == set(impls.REGISTRY) | set(impls.UNAVAILABLE)
    x, weight = np.zeros((1, 1, 6, 6), dtype=np.float32), np.zeros((2, 1, 3, 3), dtype=np.float32)  # the default
    problem = impls.normalize(x, weight, stride=2, padding=1)
    for name, entry in impls.REGISTRY.items():
        if entry.supports(problem):
            assert " yes " in rows[name], rows[name]
            assert rows[name].endswith(" ms"), rows[name]
        else:
            assert "skipped: stride (2, 2) is not supported" in rows[name]
    for name in impls.UNAVAILABLE:
        assert "unavailable" in rows[name]
    assert status == 0


def test_channel_lab_and_asymmetric_same_padding(capsys):
    status, out, _ = explain(capsys, "--input", "2,3,32,32", "--out-channels", "8", "--kernel", "3", "--padding", "1")
    assert status == 0
    assert "output: (2, 8, 32, 32)" in out
    assert "weight: (8, 3, 3, 3)" in out
    assert "bias: (8,)" in out

    status, out, _ = explain(
        capsys, "--input", "1,4,9,8", "--out-channels", "8", "--kernel", "4,2", "--padding", "same",
        "--groups", "4", "--dilation", "1,3", "--dtype", "float64", "--no-bias",
    )  # fmt: skip
    assert status == 0
    assert "H_out = floor((9 + 1 + 2 - 1*(4-1) - 1) / 1) + 1 = floor(8 / 1) + 1 = 9" in out
    assert "W_out = floor((8 + 1 + 2 - 3*(2-1) - 1) / 1) + 1 = floor(7 / 1) + 1 = 8" in out
    assert "Kernel  [C_out, C_in/groups, kH, kW]  = [8, 1, 4, 2]" in out
    assert "padding (top 1, bottom 2, left 1, right 2)" in out
    assert "bias:" not in out
    assert "Bias" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--stride", "0"], "--stride=0: every entry must be >= 1"),
        (["--stride", "1,0"], "--stride=1,0: every entry must be >= 1"),
        (["--dilation", "two"], "--dilation=two: expected an int or a pair of ints (H,W)"),
        (["--padding", "-1"], "--padding=-1: every entry must be >= 0"),
        (["--padding", "full"], "--padding=full: expected an int, a pair of ints (H,W), 'same' or 'valid'"),
        (["--padding", "same", "--stride", "2"], "--padding=same: 'same' requires stride 1"),
        (["--groups", "3"], "--groups=3: must divide the input channels C_in=4"),
        (["--groups", "0"], "--groups=0: expected an int >= 1"),
        (["--kernel", "9"], "--kernel=9: dilated kernel height 9 exceeds the padded input height 8"),
        (["--kernel", "0"], "--kernel=0: every entry must be >= 1"),
        (["--input", "2,4,6"], "--input=2,4,6: expected four ints N,C,H,W"),
        (["--input", "2,4,0,6"], "--input=2,4,0,6: every entry must be >= 1"),
        (["--out-channels", "0"], "--out-channels=0: every entry must be >= 1"),
        (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16'"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, message):
    base = {"--input": "2,4,6,6", "--out-channels": "8", "--kernel": "3", "--padding": "1"}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        base[flag] = value
    status, out, err = explain(capsys, *[item for pair in base.items() for item in pair])
    assert status == 2
    assert out == ""
    assert err.startswith(f"convcheck explain: error: {message}"), err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_required_argument(capsys):
    status, _, err = explain(capsys, "--out-channels", "2", "--kernel", "3")
    assert status == 2
    assert err == "convcheck explain: error: the following arguments are required: --input\n"


def test_a_disagreeing_implementation_is_flagged(capsys, monkeypatch):
    def flipped(x, weight, bias=None, **geometry):  # convolution instead of cross-correlation
        return impls.REGISTRY["torch"](x, np.ascontiguousarray(weight[:, :, ::-1, ::-1]), bias, **geometry)

    monkeypatch.setitem(impls.REGISTRY, "flipped", Entry.from_callable("flipped", flipped))
    tiny = replace(impls.REGISTRY["torch"], name="tiny-budget", max_gflop=1e-9)
    monkeypatch.setitem(impls.REGISTRY, "tiny-budget", tiny)
    status, out, _ = explain(capsys, *SIZE_LAB)
    rows = table_rows(out)
    assert status == 1
    assert " NO " in rows["flipped"]
    assert "skipped: 3.24e-07 GFLOP is over its cost hint of 1e-09" in rows["tiny-budget"]


def test_python_dash_m_runs_as_a_program():
    env = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    command = [sys.executable, "-m", "properties", "explain"]
    done = subprocess.run([*command, *SIZE_LAB], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "output: (1, 2, 3, 3)" in done.stdout
    bad = subprocess.run([*command, *SIZE_LAB, "--stride", "0"], capture_output=True, text=True, env=env)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr.startswith("convcheck explain: error: --stride=0: ")
    assert "Traceback" not in bad.stderr
