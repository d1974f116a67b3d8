"""End-to-end tests: several OS processes (serve, work, the CLI), crashes and takeovers."""
