"""Project-wide test setup: the shared fixtures (``fake_llm`` ...) come from labkit.testing."""

pytest_plugins = ["labkit.testing"]
