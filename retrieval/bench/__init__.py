"""Benchmarks that print figures: ``beir`` (quality on BEIR datasets), ``speed`` (ingest,
latency, cold start, memory) and ``scale`` (FAISS index kinds up to millions of vectors).

They use the library's public API only; the CLI's `sourced bench` commands call them.
"""
