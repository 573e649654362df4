"""Measurement and training scripts (run as ``python -m benchmarks.NAME``); see README.md."""
