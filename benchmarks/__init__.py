"""Norq's benchmark suite: ``make bench`` or ``python -m benchmarks [--quick]``.

See docs/performance.md for what is measured, the targets and the results.
"""
