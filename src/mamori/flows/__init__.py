"""Flows: gather signals, call the pure engines, apply the verdict. The I/O seam of Mamori."""
