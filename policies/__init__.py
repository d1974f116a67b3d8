"""The decision layer: pure functions over plain data, so every rule can be tested exhaustively.

Nothing in this package performs I/O or imports from ``bot``; the pipeline hands it facts and
thresholds and acts on what it returns.
"""
