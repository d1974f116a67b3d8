"""Integration tests: the real server, real databases (SQLite and PostgreSQL) and the fake Slack,
OpenAI and vendor servers on loopback, in one process.
"""
