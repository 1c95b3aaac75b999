"""A user's conv_transpose2d and conv2d_backward through ``convcheck check``, ``--convcheck`` and ``--impl``: which
call a callable implements, its declarations, and a run of that call's families only, from a scratch folder; a
framework's conv2d checked through its autograd (``conv2d_autograd``)."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest
from convcheck.impls.backward import BACKWARD, ENTRIES, TRANSPOSED, GradientEntry
from convcheck.impls.backward.autograd import framework_of, numpy_conv2d
from convcheck.impls.backward.registry import backward_implementation
from convcheck.impls.contract import ConvArgumentError
from convcheck.impls.registry import Entry, KnownFailure, entry_of_callable
from convcheck.impls.signature import AUTOGRAD, CONV2D, SignatureError, implemented_call
from convcheck.properties.backward_invalid import (
    BACKWARD_CATALOGUE,
    TRANSPOSED_CATALOGUE,
    invalid_backward_calls,
    invalid_transposed_calls,
)
from convcheck.properties.cases import ConvCase
from convcheck.properties.plugin import dtype_scoped
from hypothesis import given, settings

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


def bias_gradient_declared(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    return bias_gradient_of_first_image(grad_out, x, weight, stride, padding, dilation, groups)


bias_gradient_declared.expected_failures = {"backward": "the bias gradient of the first image only"}


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def unfold_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d on torch tensors: the windows unfolded, one product per group."""
    (n, _, h, w), (c_out, per_group, kh, kw) = x.shape, weight.shape
    padding = 0 if padding == "valid" else padding
    columns = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    columns = columns.reshape(n, groups, per_group * kh * kw, -1)
    out = torch.einsum("gok,ngkl->ngol", weight.reshape(groups, c_out // groups, -1), columns)
    out = out.reshape(n, c_out, -1) + (0 if bias is None else bias[None, :, None])
    (sh, sw), (ph, pw), (dh, dw) = pair(stride), pair(padding), pair(dilation)
    return out.reshape(n, c_out, (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


unfold_conv2d.convcheck_call = "conv2d_autograd"
unfold_conv2d.capabilities = {"padding_strings": ("valid",)}


class FirstImageWeightGradient(torch.autograd.Function):
    """F.conv2d with a hand-written backward whose weight gradient is the first image's only."""

    @staticmethod
    def forward(ctx, x, weight, bias, geometry):
        ctx.save_for_backward(x, weight)
        ctx.geometry = geometry
        return F.conv2d(x, weight, bias, *geometry)

    @staticmethod
    def backward(ctx, grad_out):
        (x, weight), geometry = ctx.saved_tensors, ctx.geometry
        grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad_out, *geometry)
        grad_weight = torch.nn.grad.conv2d_weight(x[:1], weight.shape, grad_out[:1], *geometry)
        return grad_x, grad_weight, grad_out.sum((0, 2, 3)), None


def weight_gradient_of_first_image(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return FirstImageWeightGradient.apply(x, weight, bias, (stride, padding, dilation, groups))


weight_gradient_of_first_image.convcheck_call = "conv2d_autograd"
weight_gradient_of_first_image.capabilities = {"padding_strings": ()}
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


@pytest.mark.parametrize(
    ("target", "family"),
    [("conv_transpose2d", "transposed"), ("conv2d_backward", "backward"), ("unfold_conv2d", "backward")],
)
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
        (
            "weight_gradient_of_first_image",
            "test_adjoint_identities_hold_exactly",
            "conv2d_backward: adjoint identities",
        ),
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


def test_a_declared_failure_of_a_gradient_callable_is_an_xfail_that_is_not_run(project):
    run, report = convcheck_check(project, "user_conv:bias_gradient_declared", "-k", "adjoint")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert report["results"] == {"bias_gradient_declared": {"backward": "xfail"}}
    assert "the bias gradient of the first image only (declared)" in run.stdout + json.dumps(report)


def test_a_gradient_callables_declarations_are_read_as_a_conv2ds():
    def backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1): ...

    backward.expected_failures = [KnownFailure("backward", "not yet", dtypes=("float32",))]
    backward.examples, backward.call_time_s = 0.5, 10.0
    entry = entry_of_callable("mine", backward)
    assert entry.expected_failures == tuple(backward.expected_failures)
    assert (entry.examples, entry.call_time_s) == (0.5, 10.0)
    assert entry.known_failure("backward") is None, "float64 is still tested"
    assert [p.id for p in dtype_scoped(entry, "backward", "test_x")] == ["mine", "mine-float32"]
    backward.expected_failures = {"backward": "not yet"}
    assert entry_of_callable("mine", backward).known_failure("backward").reason == "not yet"
    backward.error_model = "normwise"
    with pytest.raises(ValueError, match=r"error_model='normwise': conv2d_backward's families judge 'exact-summation'"):
        entry_of_callable("mine", backward)


def test_a_registered_gradient_entry_declares_known_failures():
    def gradients(problem): ...

    declared = backward_implementation("partial", expected_failures={"backward": "grad_bias not written"})(gradients)
    assert declared.known_failure("backward", "test_adjoint_identities_hold_exactly").reason == "grad_bias not written"
    assert declared.known_failure("transposed") is None


def test_a_framework_conv2d_declared_autograd_is_a_conv2d_backward_entry_with_a_conv2ds_declarations():
    def forward(x, weight, bias=None, stride=1, padding=0, groups=1): ...

    forward.convcheck_call, forward.convcheck_autograd = AUTOGRAD, "torch"
    forward.capabilities = {"dilations": [1], "kernel_sizes": [[3, 3]]}
    forward.expected_failures = {"backward": "why"}
    assert implemented_call(forward) == AUTOGRAD
    entry = entry_of_callable("mine", forward)
    assert (entry.operation, entry.autograd, entry.library) == (BACKWARD, "torch", "torch")
    assert (entry.capabilities.kernel_sizes, entry.known_failure("backward").reason) == (((3, 3),), "why")
    assert entry.argument_error is ConvArgumentError, "the contract validates the call before the framework sees it"
    forward.capabilities = {}
    with pytest.raises(SignatureError, match=r"cannot take the keyword argument 'dilation'; the contract calls conv2d"):
        entry_of_callable("mine", forward)


def test_the_framework_is_declared_or_read_from_the_modules_the_function_sees():
    def defined_beside(*names):
        namespace = {name: types.ModuleType(name) for name in names}
        exec("def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...", namespace)
        return namespace["conv2d"]

    assert framework_of(defined_beside("torch")) == "torch"
    assert framework_of(defined_beside("jax", "numpy")) == "jax"
    with pytest.raises(SignatureError, match=r"its module imports torch and jax\); set conv2d.convcheck_autograd to"):
        framework_of(defined_beside("torch", "jax"))
    declared = defined_beside()
    declared.convcheck_autograd = "jax"
    assert framework_of(declared) == "jax"
    declared.convcheck_autograd = "tensorflow"
    with pytest.raises(SignatureError, match=r"convcheck_autograd = 'tensorflow': expected one of torch, jax"):
        framework_of(declared)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_the_autograd_gradients_are_the_frameworks_and_the_forward_a_numpy_conv2d(framework):
    """On small integers every sum is exact: the wrapped gradients equal the loop entry's bitwise, each in the input
    dtype, and the forward made a NumPy conv2d equals the loop conv2d's."""
    library = pytest.importorskip(framework)
    functional = library.nn.functional.conv2d if framework == "torch" else None

    def forward(x, weight, bias=None, stride=1, padding=0, groups=1):
        if functional is not None:
            return functional(x, weight, bias, stride, padding, 1, groups)
        out = library.lax.conv_general_dilated(x, weight, (stride,) * 2, [(padding, padding)] * 2,
                                               feature_group_count=groups)  # fmt: skip
        return out + bias[None, :, None, None]

    forward.convcheck_call, forward.convcheck_autograd = AUTOGRAD, framework
    forward.capabilities = {"dilations": (1,), "square_strides": True, "int_padding": True}
    case = ConvCase(n=2, c_in=4, h=5, w=6, c_out=2, kh=3, kw=2, stride=(2, 2), padding=(1, 1), groups=2, bias=True,
                    dtype="float64", ints=True, seed=3)  # fmt: skip
    x, weight, bias = case.arrays()
    geometry = case.geometry()
    from convcheck.impls import REGISTRY

    expected = REGISTRY["loop"](x, weight, bias, **geometry)
    assert np.array_equal(numpy_conv2d(forward)(x, weight, bias, **geometry), expected)
    grad_out = np.random.default_rng(0).integers(-3, 4, expected.shape).astype(x.dtype)
    entry = entry_of_callable("mine", forward)
    results = entry(grad_out, x, weight, **geometry)
    for result, wanted in zip(results, ENTRIES[BACKWARD]["loop"](grad_out, x, weight, **geometry), strict=True):
        assert result.dtype == x.dtype
        assert np.array_equal(result, wanted)


@pytest.mark.parametrize(("invalid", "strategy"), [
    *((invalid, invalid_backward_calls) for invalid in BACKWARD_CATALOGUE),
    *((invalid, invalid_transposed_calls) for invalid in TRANSPOSED_CATALOGUE),
], ids=lambda value: getattr(value, "name", getattr(value, "__name__", "")))  # fmt: skip
def test_invalid_gradient_calls_are_drawn_inside_the_capabilities(invalid, strategy):
    """An invalid call is made from a case inside what the entry declares (its dtypes, kernel sizes, one int for the
    padding) and spells its value in those forms; a class that needs groups is not asked of an entry without."""
    from convcheck.impls import Capabilities

    capabilities = Capabilities(dtypes=("float64",), kernel_sizes=((3, 3),), int_padding=True, groups=False)
    if not invalid.asked_of(capabilities):
        assert invalid.needs(capabilities) is False or invalid.keyword == "padding", invalid.name
        return

    @settings(max_examples=5, database=None, deadline=None)
    @given(call=strategy(invalid, capabilities))
    def drawn_inside(call):
        _, keywords, shown = call
        case = shown.rpartition("(from ")[2]
        assert all(part in case.split() for part in ("g1", "float64", "kh3", "kw3")), shown
        assert isinstance(keywords["padding"], int) or invalid.keyword == "padding", keywords

    drawn_inside()
