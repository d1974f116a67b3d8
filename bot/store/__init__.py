"""The database: engines and migrations, the tables, items and their conditional transitions,
the append-only audit chain, hourly tallies, run claims, heartbeats and housekeeping. Imports
nothing above itself (an import-linter contract).
"""
