"""Benchmarks that print figures (never timed tests); `python -m benchmarks.run` runs all."""
