"""Unit tests: pure functions and in-process objects, no server and no database server; seconds."""
