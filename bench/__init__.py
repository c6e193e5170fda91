"""Benchmarks: each module is a command that prints its figure, a baseline measured in the same
run on the same machine, and their ratio. `python -m bench.run_all` (or `make bench`) runs them all.

`bench.processes` (Vigil's processes on one machine) is shared with tests/reliability.
"""
