"""Repository-wide pytest setup: real-server fixtures (see salur_kit.testing.fixtures)."""

pytest_plugins = ["salur_kit.testing.fixtures"]
