"""Benchmarks: figures printed next to their bound, not timed tests (docs/benchmarks.md)."""
