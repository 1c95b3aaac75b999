"""Template for a new implementation: copy this file, rename the entry, replace the algorithm.

This module itself is never registered (``registry.py`` skips it by name); a copy under any other name is.

1. Copy it.        ``cp impls/template.py impls/my_conv.py``  (a module name not starting with ``_``)
2. Name it.        Change ``"my-conv"`` in ``@implementation(...)`` to a name no other entry uses. That name is
                   what ``pytest -k``, the conformance summary, the benchmarks and ``convcheck explain`` show.
3. Declare it.     Keyword arguments of ``@implementation`` say what your algorithm covers; leave one out and the
                   whole contract is assumed, and tested:

                   - ``capabilities=Capabilities(kernel_sizes=((3, 3),), strides=(1,), dilations=(1,),
                     groups=False, dtypes=("float32",))``: the part of the contract you support. Properties draw
                     only configurations inside it; a call outside it raises ``UnsupportedConfiguration``.
                   - ``error_model="exact-summation"`` (each output is a plain sum of its K products: elementwise
                     error bound, bitwise exact on small integers) or ``"normwise"`` (transforms such as FFT or
                     Winograd that spread rounding over a tile or plane).
                   - ``max_gflop=...``: the largest workload, in GFLOP, it finishes in a second or two; benchmarks
                     and the explainer skip larger ones, and real layers are cropped to 1/80 of it.
                   - ``unavailable="why"``: it cannot run here (no GPU, missing library); it is listed in
                     ``impls.UNAVAILABLE`` and not run.
4. Write it.       Your function receives a validated :class:`~impls.contract.Conv2dProblem`: ``x``
                   ``(N, C_in, H, W)`` and ``weight`` ``(C_out, C_in/groups, kH, kW)`` of one float dtype in any
                   memory layout (views, transposes, negative strides), ``bias`` ``(C_out,)`` or ``None``,
                   ``stride`` and ``dilation`` as ``(h, w)`` pairs, ``padding`` as ``(top, bottom, left, right)``
                   (``'same'`` already resolved; it can be asymmetric), ``groups``. Bad arguments never reach you.
                   Return a fresh C-contiguous array ``(N, C_out, H_out, W_out)`` of ``x.dtype``; never write into
                   the inputs. Derive ``H_out, W_out`` from your algorithm (where your windows fit), not from
                   ``convcheck.impls.contract.output_size``: the shape property then checks your mechanics.
5. Check it.       ``convcheck explain --input 1,1,6,6 --out-channels 2 --kernel 3 --stride 2 --padding 1`` shows
                   your entry next to the others; ``pytest properties -k my-conv`` runs every property on it;
                   ``pytest benchmarks -k my-conv`` times it.

Outside this repository, publish the same decorated function from your own package under the entry-point group
``convcheck.impls`` (in your ``pyproject.toml``: ``[project.entry-points."convcheck.impls"]`` then
``my-conv = "my_package.my_module:my_conv"``); once installed, it is in ``impls.REGISTRY``.

The example algorithm below is *shift and accumulate*: for each kernel tap ``(i, j)``, the input pixels that tap
sees form one strided slice of the padded input, and ``weight[:, :, i, j]`` mixes their channels.
"""

import numpy as np
from convcheck.impls.contract import Conv2dProblem
from convcheck.impls.registry import Capabilities, implementation


@implementation("my-conv", error_model="exact-summation", capabilities=Capabilities(), max_gflop=5.0)
def my_conv(problem: Conv2dProblem) -> np.ndarray:
    """Shift and accumulate: out += weight[:, :, i, j] (mixing channels) applied to the pixels tap (i, j) sees."""
    image = problem.padded_input()  # the input with its zero border (a copy only when there is padding)
    n, _, height, width = image.shape
    c_out, c_group, kh, kw = problem.weight.shape
    (sh, sw), (dh, dw), groups = problem.stride, problem.dilation, problem.groups
    # Where the kernel fits: its first tap can sit on rows 0 .. height - span, every sh-th of them (same for columns).
    rows = len(range(0, height - (dh * (kh - 1) + 1) + 1, sh))
    cols = len(range(0, width - (dw * (kw - 1) + 1) + 1, sw))
    images = image.reshape(n, groups, c_group, height, width)
    weight = problem.weight.reshape(groups, c_out // groups, c_group, kh, kw)
    out = np.zeros((n, groups, c_out // groups, rows * cols), dtype=problem.x.dtype)
    for i in range(kh):
        for j in range(kw):
            seen = images[:, :, :, i * dh :: sh, j * dw :: sw][..., :rows, :cols]  # (N, G, C_in/G, H_out, W_out)
            out += weight[:, :, :, i, j] @ seen.reshape(n, groups, c_group, rows * cols)
    out = out.reshape(n, c_out, rows, cols)
    if problem.bias is not None:
        out += problem.bias[:, None, None]
    return out
