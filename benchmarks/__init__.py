"""LumaDB's benchmarks: ratios against peers measured in the same run (``python -m benchmarks``).

See ``benchmarks/README.md`` for the suites and why each comparison is fair.
"""
