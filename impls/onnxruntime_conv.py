"""ONNX Runtime: one ``Conv`` node on the CPU execution provider.

The contract is ONNX's ``Conv`` (opset 22) with explicit attributes: ``strides``, ``dilations``, ``group`` and
``pads = [top, left, bottom, right]`` (begin values of both axes, then end values), so ``'same'`` with an even
kernel keeps its asymmetric split; ``kernel_shape`` is left to be inferred from the weight. Inputs and output have
symbolic shapes, so one session serves every shape of a signature (dtype, bias or not, attributes); sessions are
cached per signature. Each session's worker threads sleep when idle instead of spinning
(``session.intra_op.allow_spinning = 0``): with hundreds of cached sessions on a shared machine, spinning pools
took the CPU from the calls themselves (measured here: the property suite's ONNX Runtime tests ran 3.7 times longer).

Output sizes past 2**53: ONNX Runtime's shape inference computes them in double precision, so a padded extent
beyond ``EXACT_SHAPES`` can get one output too many (a 1-wide input padded by 2**52 on both sides under stride 2**53:
2 outputs, where the formula gives 1). Such problems are handed over in their equivalent tap-gathered form
(``Conv2dProblem.tap_gathered``), whose numbers are at most the output's (window, tap) pairs.

float32 only: the CPU execution provider registers no float64 ``Conv`` kernel (a float64 model fails to load with
``NOT_IMPLEMENTED: Could not find an implementation for Conv(22) node``).

ONNX Runtime and ONNX are imported at the first call, not with the registry.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from convcheck.impls._library import Library
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import Capabilities, implementation

ONNX_RUNTIME = Library("onnxruntime", "onnx", "onnx.helper", install="onnxruntime onnx")
UNAVAILABLE = ONNX_RUNTIME.unavailable()

OPSET = 22
EXACT_SHAPES = 2**53  # integers a double holds exactly
IR_VERSION = 10


@lru_cache(maxsize=512)
def session(bias: bool, stride, pads, dilation, group: int):
    """An inference session for one float32 ``Conv`` node with these attributes; shapes are symbolic."""
    attributes = {"strides": list(stride), "pads": list(pads), "dilations": list(dilation), "group": group}
    return single_node_session("Conv", "conv2d", ("C_out", "C_group", "kH", "kW"), bias, **attributes)


def single_node_session(op_type: str, name: str, weight_dims, bias: bool, **attributes):
    """An inference session for a graph ``name`` of one float32 node ``op_type(x, weight[, bias]) -> y`` with these
    attributes, on the CPU execution provider, its worker threads asleep when idle; shapes are symbolic (the weight's
    named ``weight_dims``)."""
    onnxruntime, onnx, helper = ONNX_RUNTIME.load()
    element = onnx.TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("x", element, ["N", "C_in", "H", "W"]),
        helper.make_tensor_value_info("weight", element, list(weight_dims)),
    ]
    if bias:
        inputs.append(helper.make_tensor_value_info("bias", element, ["C_out"]))
    output = helper.make_tensor_value_info("y", element, ["N", "C_out", "H_out", "W_out"])
    node = helper.make_node(op_type, [value.name for value in inputs], ["y"], **attributes)
    graph = helper.make_graph([node], name, inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@implementation(
    "onnxruntime",
    capabilities=Capabilities(dtypes=("float32",)),
    max_gflop=20.0,
    unavailable=UNAVAILABLE,
    library="onnxruntime",
)
def onnxruntime_conv(problem: Conv2dProblem) -> np.ndarray:
    """Run the cached session for this call's attributes on the CPU execution provider."""
    problem = problem.with_numbers_up_to(EXACT_SHAPES)
    top, bottom, left, right = problem.padding
    run = session(
        problem.bias is not None, problem.stride, (top, left, bottom, right), problem.dilation, problem.groups
    )
    feeds = {"x": problem.x, "weight": problem.weight}
    if problem.bias is not None:
        feeds["bias"] = problem.bias
    (y,) = run.run(None, feeds)
    return np.ascontiguousarray(y)
