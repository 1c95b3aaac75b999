"""conv2d's gradients as a framework derives them: a conv2d written in torch or JAX, checked as a conv2d_backward.

A callable that declares ``convcheck_call = "conv2d_autograd"`` is a forward conv2d with the contract's call whose
arguments and result are the framework's arrays (a torch function built from ``unfold`` and ``matmul``, one calling a
``torch.autograd.Function`` with its own backward, a JAX function). Its framework is its ``convcheck_autograd``
attribute (``"torch"`` or ``"jax"``), or else the one whose modules its globals hold. :func:`autograd_entry` makes it
a conv2d_backward entry: the NumPy arguments are validated with the contract, made the framework's arrays, the
forward is called (with a zero bias, when it takes one), and the vector-Jacobian product at ``grad_out`` (torch's
``backward``, ``jax.vjp``) comes back as NumPy arrays of the input dtype. A callable that takes no bias gets
``grad_out`` summed over N, H and W as its bias gradient. The framework is imported at the first call.

Its other declarations are a conv2d's, read as :meth:`convcheck.impls.registry.Entry.from_callable` reads them, and
its forward is not checked here: the same callable made a NumPy conv2d with :func:`numpy_conv2d` is.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType

import numpy as np
from convcheck.impls.backward.contract import normalize_backward
from convcheck.impls.backward.registry import GradientEntry
from convcheck.impls.contract import ConvArgumentError
from convcheck.impls.jax_lax import JAX
from convcheck.impls.registry import DECLARED_ATTRIBUTES, Entry
from convcheck.impls.signature import BACKWARD, SignatureError, declared_choice
from convcheck.impls.torch_conv import TORCH, as_tensor

FRAMEWORKS = ("torch", "jax")


def as_numpy(tensor) -> np.ndarray:
    """A fresh C-ordered NumPy copy of a tensor."""
    return np.array(tensor.detach().numpy(), order="C")


def torch_vjp(forward: Callable, cotangent: np.ndarray, *primals: np.ndarray) -> tuple[np.ndarray, ...]:
    """The gradients of ``<forward(*primals), cotangent>`` in each primal, by torch's autograd (``backward`` from
    leaf tensors of the primals): NumPy arrays of the primals' dtypes (zeros where the result does not depend on it)."""
    torch, _ = TORCH.load()
    leaves = [as_tensor(primal).detach().requires_grad_(True) for primal in primals]
    with torch.enable_grad():
        forward(*leaves).backward(as_tensor(cotangent))
    return tuple(
        np.zeros_like(primal, order="C") if leaf.grad is None else as_numpy(leaf.grad).astype(primal.dtype, copy=False)
        for leaf, primal in zip(leaves, primals, strict=True)
    )


def on_cpu(jax: ModuleType, dtype):
    """The context of a JAX call: x64 mode for float64 only, the CPU device."""
    return jax.enable_x64(dtype == np.float64), jax.default_device(jax.devices("cpu")[0])


def jax_vjp(forward: Callable, cotangent: np.ndarray, *primals: np.ndarray) -> tuple[np.ndarray, ...]:
    """The gradients of ``<forward(*primals), cotangent>`` in each primal, by ``jax.vjp``: NumPy arrays of the
    primals' dtypes."""
    jax, _ = JAX.load()
    x64, device = on_cpu(jax, primals[0].dtype)
    with x64, device:
        _, pullback = jax.vjp(forward, *(jax.numpy.asarray(primal) for primal in primals))
        gradients = pullback(jax.numpy.asarray(cotangent))
        return tuple(
            np.array(gradient, dtype=primal.dtype, order="C")
            for gradient, primal in zip(gradients, primals, strict=True)
        )


VJPS = {"torch": torch_vjp, "jax": jax_vjp}


def framework_of(function: Callable) -> str:
    """The framework whose autograd derives ``function``'s gradients: its ``convcheck_autograd`` attribute, or else
    the one of :data:`FRAMEWORKS` whose modules its globals hold (nothing is imported to tell)."""
    name = getattr(function, "__qualname__", type(function).__name__)
    declared = declared_choice(function, "convcheck_autograd", FRAMEWORKS)
    if declared is not None:
        return declared
    held = getattr(inspect.unwrap(function), "__globals__", {}).values()
    modules = {value.__name__.partition(".")[0] for value in held if inspect.ismodule(value)}
    found = [framework for framework in FRAMEWORKS if framework in modules]
    if len(found) != 1:
        seen = f"its module imports {' and '.join(found)}" if found else "its module imports none of them"
        raise SignatureError(
            f"{name}: cannot tell the framework of its autograd ({seen}); set {name}.convcheck_autograd to one of "
            f"{', '.join(FRAMEWORKS)}"
        )
    return found[0]


def gradients_through(forward: Entry, framework: str) -> Callable:
    """A conv2d_backward that validates with the contract, then takes the framework's gradients of ``forward``."""
    vjp = VJPS[framework]

    def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
        problem = normalize_backward(grad_out, x, weight, stride, padding, dilation, groups)
        grad_out, x, weight = problem.grad_out, problem.forward.x, problem.forward.weight
        geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        if forward.capabilities.bias:
            bias = np.zeros(weight.shape[0], x.dtype)
            return vjp(lambda x, w, b: forward(x, w, b, **geometry), grad_out, x, weight, bias)
        grad_x, grad_weight = vjp(lambda x, w: forward(x, w, None, **geometry), grad_out, x, weight)
        return grad_x, grad_weight, grad_out.sum(axis=(0, 2, 3), dtype=x.dtype)

    conv2d_backward.__qualname__ = conv2d_backward.__name__ = f"{forward.name}_autograd"
    return conv2d_backward


def autograd_entry(name: str, function: Callable, origin: str = "") -> GradientEntry:
    """The conv2d_backward entry of a framework conv2d declared ``convcheck_call = "conv2d_autograd"``: its gradients
    by the framework's autograd, its declarations (capabilities, error model, cost hints, known failures) a conv2d's."""
    forward = Entry.from_callable(name, function, origin=origin)
    framework = framework_of(function)
    return GradientEntry(
        BACKWARD, name, gradients_through(forward, framework), forward.error_model, forward.capabilities,
        library=framework, origin=origin, argument_error=ConvArgumentError, max_gflop=forward.max_gflop,
        examples=forward.examples, call_time_s=forward.call_time_s, expected_failures=forward.expected_failures,
        autograd=framework,
    )  # fmt: skip


def numpy_conv2d(function: Callable, framework: str | None = None) -> Callable:
    """``function`` (a framework conv2d) as a conv2d on NumPy arrays, for the forward's families: its array arguments
    made the framework's arrays (in ``framework``, default :func:`framework_of`; anything else handed over as it is,
    for its own validation to refuse), its result a NumPy array. It keeps the declarations (but ``convcheck_call``)
    and leaves out the parameters ``function`` does not take."""
    framework = framework or framework_of(function)
    forward = Entry.from_callable(getattr(function, "__name__", "conv2d"), function)

    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        if framework == "torch":
            tensors = (as_tensor(a) if isinstance(a, np.ndarray) else a for a in (x, weight, bias))
            return as_numpy(forward(*tensors, **geometry))
        jax, _ = JAX.load()
        x64, device = on_cpu(jax, getattr(x, "dtype", None))
        with x64, device:
            arrays = (jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in (x, weight, bias))
            return np.array(forward(*arrays, **geometry))

    for attribute in ("capabilities", *DECLARED_ATTRIBUTES):
        if hasattr(function, attribute):
            setattr(conv2d, attribute, getattr(function, attribute))
    conv2d.__qualname__ = conv2d.__name__ = forward.name
    return conv2d
