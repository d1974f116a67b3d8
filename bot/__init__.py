"""Signoff: a human in the loop of AI work on customer tickets."""

__version__ = "0.1.0"
