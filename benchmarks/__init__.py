"""The convcheck benchmark suite (pytest-benchmark): workloads as data, the benchmarks, and a chart."""
