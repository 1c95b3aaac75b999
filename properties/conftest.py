"""Property-suite settings: the cases are tiny, so torch runs them on one intra-op thread.

Waking a thread pool costs more than these convolutions, and under ``pytest -n 2`` (or a busy machine) two pools
on two cores spin against each other (measured: 20-85 ms instead of 0.1 ms per call). Benchmarks keep the default.
"""

import torch

torch.set_num_threads(1)
