"""Benchmarks (not tests): each bench_*.py prints figures and writes bench/results/*.json."""
