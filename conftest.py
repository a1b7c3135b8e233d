"""Repository-wide pytest setup: real-server fixtures (see salur_kit.testing.fixtures) and
a backstop that ends a run whose test hangs past its timeout (salur_kit.testing.backstop)."""

pytest_plugins = ["salur_kit.testing.fixtures", "salur_kit.testing.backstop"]
