"""A user's conv_transpose2d and conv2d_backward through ``convcheck check``, ``--convcheck`` and ``--impl``: which
call a callable implements, its declarations, and a run of that call's families only, from a scratch folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from convcheck.impls.backward import BACKWARD, TRANSPOSED, GradientEntry
from convcheck.impls.registry import Entry, entry_of_callable
from convcheck.impls.signature import CONV2D, SignatureError, implemented_call

from tests.conftest import ROOT

USER_MODULE = '''
"""A user's conv_transpose2d and conv2d_backward: the contract's checks, then torch; and two classic bugs."""
import numpy as np
import torch
import torch.nn.functional as F
from convcheck.impls.backward import normalize_backward, normalize_transposed


def tensor(array):
    return None if array is None else torch.from_numpy(np.array(array, order="C"))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    normalize_transposed(x, weight, bias, stride, padding, output_padding, groups, dilation)
    out = F.conv_transpose2d(tensor(x), tensor(weight), tensor(bias), stride, padding, output_padding, groups, dilation)
    return out.numpy()


def kernel_not_flipped(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose2d(x, weight[:, :, ::-1, ::-1], bias, stride, padding, output_padding, groups, dilation)


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    normalize_backward(grad_out, x, weight, stride, padding, dilation, groups)
    x_, weight_ = tensor(x).requires_grad_(), tensor(weight).requires_grad_()
    F.conv2d(x_, weight_, None, stride, padding, dilation, groups).backward(tensor(grad_out))
    return x_.grad.numpy(), weight_.grad.numpy(), tensor(grad_out).sum((0, 2, 3)).numpy()


def bias_gradient_of_first_image(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    grad_x, grad_weight, _ = conv2d_backward(grad_out, x, weight, stride, padding, dilation, groups)
    return grad_x, grad_weight, grad_out[:1].sum(axis=(0, 2, 3))


def both_marks(grad_out, x, weight, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    return x


def returns_a_list(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups, dilation).tolist()
'''


@pytest.fixture
def project(tmp_path):
    """A scratch folder holding the user's module (torch needed: the module computes with it)."""
    pytest.importorskip("torch")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "user_conv.py").write_text(USER_MODULE)
    return folder


def convcheck_check(folder, target: str, *options: str):
    """``convcheck check target`` run in ``folder`` in a fresh interpreter: the process and its JSON report."""
    report = folder.parent / "conformance.json"
    command = [sys.executable, "-m", "convcheck.properties.cli", "check", target, f"--conformance-json={report}"]
    environment = {"PYTHONPATH": f"{ROOT}", "PATH": "/usr/bin:/bin", "HOME": str(folder.parent)}
    run = subprocess.run([*command, *options], cwd=folder, capture_output=True, text=True, env=environment, timeout=600)
    return run, (json.loads(report.read_text()) if report.exists() else None)


def test_the_call_is_read_from_the_parameters_or_declared():
    def transposed(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1): ...

    def backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1): ...

    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...

    def declared(*arguments, **keywords): ...

    declared.convcheck_call = TRANSPOSED
    assert [implemented_call(f) for f in (transposed, backward, conv2d, declared)] == [
        TRANSPOSED, BACKWARD, CONV2D, TRANSPOSED,
    ]  # fmt: skip
    declared.convcheck_call = "conv3d"
    with pytest.raises(SignatureError, match=r"declared.convcheck_call = 'conv3d': expected one of conv2d, "):
        implemented_call(declared)


def test_an_outside_gradient_entry_takes_the_forward_capabilities_that_apply():
    def transposed(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1): ...

    transposed.capabilities = {"dtypes": ["float64"], "strides": [1, 2], "output_padding_below_stride": True}
    entry = entry_of_callable("mine", transposed, origin="user:transposed")
    assert isinstance(entry, GradientEntry)
    assert entry.operation == TRANSPOSED
    assert (entry.dtypes, entry.capabilities.strides, entry.output_padding_below_stride) == (("float64",), (1, 2), True)
    assert entry.argument_error is ValueError, "its own validation is what the invalid-argument family checks"
    transposed.capabilities = {"padding_strings": ("valid",)}
    with pytest.raises(ValueError, match=r"\['padding_strings'\] do not apply to conv_transpose2d"):
        entry_of_callable("mine", transposed)

    def forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...

    assert isinstance(entry_of_callable("mine", forward), Entry)


def test_a_gradient_callable_that_cannot_take_its_call_is_named():
    def backward(grad_out, x, *, stride=1): ...

    with pytest.raises(SignatureError, match=r"cannot take the positional argument 'weight'; the contract calls "
                       r"conv2d_backward\(grad_out, x, weight,"):  # fmt: skip
        entry_of_callable("mine", backward)


@pytest.mark.parametrize(("target", "family"), [("conv_transpose2d", "transposed"), ("conv2d_backward", "backward")])
def test_a_correct_users_call_passes_its_families_and_no_other(project, target, family):
    # Plain torch calls: torch 2.13 takes time quadratic in a huge stride, or crashes, on extreme arguments (see
    # impls/backward/torch_autograd.py), so that family is left out here.
    run, report = convcheck_check(project, f"user_conv:{target}", "-k", "not extreme")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert report["results"] == {target: {family: "pass"}}, "its call's family only: no conv2d family ran"


@pytest.mark.parametrize(
    ("target", "selection", "law"),
    [
        ("kernel_not_flipped", "test_is_the_adjoint_of_conv2d", "conv_transpose2d: adjoint of conv2d"),
        ("bias_gradient_of_first_image", "test_adjoint_identities_hold_exactly", "conv2d_backward: adjoint identities"),
    ],
)
def test_a_buggy_users_call_fails_with_a_short_report_that_replays(project, target, selection, law):
    run, report = convcheck_check(project, f"user_conv:{target}", "-k", selection, "--hypothesis-seed=0")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    (failure,) = report["failures"]
    assert failure["implementation"] == target
    screen = run.stdout.split(" FAILURES ")[1].split(" convcheck conformance ")[0]
    assert len(screen.splitlines()) <= 20, screen
    assert f"{law} [{target}]" in screen
    reproduce = failure["reproduce"]
    assert f'load_spec("{target}=user_conv:{target}", path=' in reproduce, reproduce
    replay = subprocess.run(
        [sys.executable, "-c", reproduce], cwd=project.parent, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": f"{ROOT}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert replay.returncode == 1
    assert f"PropertyFailure: {law} [{target}]" in replay.stderr, replay.stderr[-2000:]


def test_a_callable_whose_call_cannot_be_told_is_one_usage_error(project):
    run, report = convcheck_check(project, "user_conv:both_marks")
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert run.returncode == 4
    assert report is None
    assert errors == [
        "ERROR: --convcheck both_marks=user_conv:both_marks: both_marks(grad_out, x, weight, stride=1, padding=0, "
        "output_padding=0, dilation=1, groups=1) cannot tell its call: it has both 'output_padding' "
        "(conv_transpose2d) and 'grad_out' (conv2d_backward); set both_marks.convcheck_call to the one it implements"
    ]


def test_a_conv2d_candidate_runs_no_backward_family(run_suite):
    run = run_suite("--convcheck=good=tests.gallery.correct:textbook_int_only", "-k", "output_shape")
    assert run.report["results"] == {"good": {"shape": "pass"}}, run.output[-3000:]


def test_impl_adds_a_gradient_callable_beside_the_packages_entries(run_suite, pytester):
    pytest.importorskip("torch")
    pytester.makepyfile(user_conv=USER_MODULE)
    spec = "--impl=mine=user_conv:conv_transpose2d"
    run = run_suite("properties/test_transposed.py", spec, "-k", "adjoint and (mine or loop)")
    assert run.report is not None, run.output[-3000:]
    assert {name: verdicts["transposed"] for name, verdicts in run.report["results"].items()} == {
        "loop": "pass", "mine": "pass",
    }  # fmt: skip


def test_a_transposed_callable_failing_alike_every_time_stops_after_two_reports(project):
    run, report = convcheck_check(project, "user_conv:returns_a_list")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert len(report["failures"]) == 2, [failure["message"][:200] for failure in report["failures"]]
    assert "stopped testing returns_a_list (conv_transpose2d) after 2 tests failed the same way" in run.stdout
