"""Helpers shared by the tests: fake servers that speak real protocols (``fakes``), the server
harness, signers written independently of the code under test, builders of rows and tickets.
"""
