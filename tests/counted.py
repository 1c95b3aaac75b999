"""Correct conv2d callables that count their calls in the file ``$CONVCHECK_CALLS`` (one line per call), one of them
declaring a quarter of the examples."""

from __future__ import annotations

import os

from tests.gallery.correct import textbook_int_only


def _counted(name: str):
    def conv2d(x, weight, bias=None, stride=1, padding=0):
        with open(os.environ["CONVCHECK_CALLS"], "a") as calls:
            calls.write(name + "\n")
        return textbook_int_only(x, weight, bias, stride, padding)

    conv2d.capabilities = textbook_int_only.capabilities
    return conv2d


every_example = _counted("every_example")
quarter = _counted("quarter")
quarter.examples = 0.25
