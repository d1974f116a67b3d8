"""Benchmarks: the real ``python -m bot serve`` against local fakes, driven over loopback.

Each script prints one JSON object (figures, the settings used and the machine it ran on);
``python -m benchmarks.run_all`` runs them all and writes ``benchmarks/results/latest.json``.
Benchmarks are not tests: nothing here asserts a timing. ``tests/e2e/test_benchmarks_smoke.py`` runs
each script at a tiny size so they cannot rot.
"""
