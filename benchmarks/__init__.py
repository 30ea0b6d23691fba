"""Benchmarks that print figures (run with ``nox -s bench``); never timing assertions in tests."""
