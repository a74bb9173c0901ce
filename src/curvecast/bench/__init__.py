"""Benchmarks on real learning curves: suites, metrics, aggregation, reports."""
