"""zenflow tests: one package per zenflow package (tests/core for zenflow/core, ...)."""
