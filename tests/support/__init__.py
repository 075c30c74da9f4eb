"""Builders every test may use. Tests import from here, never from another test module,
so a test file can be run, moved or deleted on its own."""
