"""Test support for Salur: pytest fixtures that give tests a real Kafka and Postgres.

Enable them with ``pytest_plugins = ["salur_kit.testing.fixtures"]`` (the repository's root
conftest.py does). See `salur_kit.testing.fixtures` for the fixtures and how servers are found.
"""
