"""nbauth's benchmark: ``python benchmarks/run.py`` / ``make bench``.

One module per measurement; `run` ties them together, `report` prints the table and writes
``.bench/results.json`` and the README section. The functions that count requests are shared
with ``tests/test_bench_counts.py`` so the test asserts exactly what the benchmark reports.
"""
