"""Comparison peers: other login stacks run by the benchmarks against the same scenarios."""
