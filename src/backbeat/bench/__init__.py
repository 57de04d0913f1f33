"""Benchmarks behind `backbeat bench …`: scenarios run for real (processes, Redis), measured and
reported as JSON. Benchmarks, not timed tests: they report what they see and assert nothing."""
