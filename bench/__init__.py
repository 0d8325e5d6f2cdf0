"""Benchmarks, each a module run from the repository's root: `.venv/bin/python -m bench.<name>`.

Run as modules, they import the project, each other and `tests.support` (the services and tools
they share with the tests) from the root without touching `sys.path`.
"""
