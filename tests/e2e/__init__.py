"""Browser tests. A package, so its conftest is e2e.conftest and never shadows the root
tests/conftest.py that other test modules import by name."""
