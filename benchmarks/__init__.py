"""Benchmarks: the project against the PostgreSQL floor and the seed design, measured in one run."""
